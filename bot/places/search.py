"""Search over today's 3,321 wards/communes by name, accent-insensitive, for pickers."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from bot.places.wards import Ward, ward_index
from hotline_nlu.normalize import clean, strip_diacritics

MAX_RESULTS = 50


@dataclass(frozen=True)
class _Searchable:
    ward: Ward
    name_words: tuple[str, ...]  # "phuong", "ben", "thanh"
    words: tuple[str, ...]  # the name's, the province's and the code


_rows: list[_Searchable] | None = None
_lock = threading.Lock()


def _fold(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", strip_diacritics(clean(text or "")))


def _searchable() -> list[_Searchable]:
    global _rows
    if _rows is None:
        with _lock:
            if _rows is None:
                index = ward_index()
                # The province's other names too: "hcm", "tphcm", "hanoi", "sai gon"…
                aliases: dict[str, list[str]] = {}
                for key, code in index._province_keys.items():
                    aliases.setdefault(code, []).append(key)
                _rows = [
                    _Searchable(
                        ward=ward,
                        name_words=tuple(_fold(ward.name)),
                        words=tuple(_fold(f"{ward.name} {ward.province_name} {ward.code}"))
                        + tuple(aliases.get(ward.province_code, [])),
                    )
                    for ward in index.wards.values()
                ]
    return _rows


def search_wards(query: str, *, limit: int = 20) -> list[Ward]:
    """Wards whose name, province or code has every word typed (as a word's beginning),
    without diacritics: "phuong ben thanh" and "bến thành hcm" find Phường Bến Thành."""
    terms = _fold(query)[:8]
    if not terms:
        return []
    found: list[tuple[int, str, Ward]] = []
    for row in _searchable():
        if all(any(word.startswith(term) for word in row.words) for term in terms):
            # Names matched word for word first, then names that contain every word typed.
            in_name = sum(1 for term in terms if term in row.name_words)
            found.append((-in_name, row.ward.name, row.ward))
    found.sort(key=lambda item: (item[0], item[1], item[2].province_name))
    return [ward for _, _, ward in found[: max(1, min(limit, MAX_RESULTS))]]
