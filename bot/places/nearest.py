"""The ward (or commune) nearest to a point, from the 2025 administrative-unit data.

`vietnamadminunits` ships each of the 3,321 wards of the two-level government with the
coordinates of a central point and its area. The nearest central point is a suggestion, not a
fact (a large commune's centre can be farther than a small neighbour's), so callers ask the
resident to confirm it.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import vietnamadminunits

_DATASET = Path(vietnamadminunits.__file__).parent / "data" / "dataset.db"
_EARTH_RADIUS_KM = 6371.0
# Beyond this distance from any ward's centre, the point is not in Vietnam (or the data).
MAX_DISTANCE_KM = 60.0


@dataclass(frozen=True)
class WardSuggestion:
    ward: str  # "Phường Bến Thành"
    province: str  # "Thành phố Hồ Chí Minh"
    ward_code: str
    distance_km: float

    @property
    def label(self) -> str:
        return f"{self.ward}, {self.province}"


@dataclass(frozen=True)
class _Ward:
    ward: str
    province: str
    code: str
    lat: float
    lon: float


@lru_cache(maxsize=1)
def _wards() -> tuple[_Ward, ...]:
    with sqlite3.connect(f"file:{_DATASET}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT ward, province, wardCode, wardLat, wardLon FROM admin_units "
            "WHERE wardLat IS NOT NULL AND wardLon IS NOT NULL"
        ).fetchall()
    return tuple(_Ward(r[0], r[1], r[2], float(r[3]), float(r[4])) for r in rows)


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def nearest_ward(*, latitude: float, longitude: float) -> WardSuggestion | None:
    """Returns the ward whose centre is nearest to the point, or None when none is close."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    best: _Ward | None = None
    best_km = math.inf
    # A cheap box distance first, the exact distance only for the few close candidates.
    coslat = math.cos(math.radians(latitude))
    for w in _wards():
        rough = abs(w.lat - latitude) + abs(w.lon - longitude) * coslat
        if rough * 111 > best_km * 1.5:
            continue
        km = _distance_km(latitude, longitude, w.lat, w.lon)
        if km < best_km:
            best, best_km = w, km
    if best is None or best_km > MAX_DISTANCE_KM:
        return None
    return WardSuggestion(best.ward, best.province, best.code, round(best_km, 2))
