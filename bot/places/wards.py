"""The 3,321 wards and communes of the 34 provinces (from 2025-07-01), found by what residents type.

Data comes from the `vietnamadminunits` package (its SQLite dataset and its 2025 conversion
tables), loaded once on first use. Residents write "phuong ben thanh", "P. Bến Thành, tphcm",
"xa tan phu dong thap" or a pre-2025 name ("phường Bến Nghé, quận 1"); `resolve_ward` turns
that into one of today's units, a short list to choose from, or nothing.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from hotline_nlu.normalize import clean, strip_diacritics

# Abbreviations residents put before a unit name, as folded words.
_UNIT_PREFIXES = {
    "p": "phuong",
    "ph": "phuong",
    "phuong": "phuong",
    "px": "phuong",
    "x": "xa",
    "xa": "xa",
    "dac": "dac",  # "đặc khu" (island special zones) is two words
    "q": "quan",
    "quan": "quan",
    "huyen": "huyen",
    "tx": "thixa",
    "tt": "thitran",
}
_TYPE_KEYS = {"phuong", "xa", "dackhu", "thitran"}  # thị trấn: pre-2025 only
_DISTRICT_TYPES = ("quan", "huyen", "thixa", "thanhpho")
_MAX_NGRAM = 6
_T = TypeVar("_T")
# Ways of naming a province that the dataset's keywords miss.
_EXTRA_PROVINCE_KEYS = {"tphcm": "79", "tpHCM".lower(): "79", "hochiminhcity": "79", "thudo": "01"}


@dataclass(frozen=True)
class Ward:
    """One ward (phường), commune (xã) or special zone (đặc khu) as of 2025-07-01."""

    code: str
    name: str  # "Phường Bến Thành"
    short_name: str  # "Bến Thành"
    unit_type: str  # "Phường", "Xã", "Đặc khu"
    province_code: str
    province_name: str  # "Thành phố Hồ Chí Minh"
    province_short: str  # "Hồ Chí Minh"
    latitude: float | None
    longitude: float | None

    @property
    def label(self) -> str:
        return f"{self.name}, {self.province_name}"


class MatchStatus(StrEnum):
    FOUND = "found"
    AMBIGUOUS = "ambiguous"  # several units fit: ask which (usually which province)
    DISTRICT_ONLY = "district_only"  # only an abolished district was named
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class WardMatch:
    status: MatchStatus
    ward: Ward | None = None
    candidates: list[Ward] = field(default_factory=list)
    old_name: str | None = None  # the pre-2025 name the resident used, when it was one
    district_name: str | None = None  # the abolished district named, for DISTRICT_ONLY

    @property
    def found(self) -> bool:
        return self.status is MatchStatus.FOUND


@dataclass(frozen=True)
class _OldWard:
    key: str  # "thanhphohochiminh_quan1_phuongbennghe"
    name: str  # "Phường Bến Nghé"
    district_name: str
    district_short_key: str
    province_code: str  # today's province
    new_ward_codes: tuple[str, ...]  # today's unit(s) it became part of, the default first

    @property
    def label(self) -> str:
        return f"{self.name}, {self.district_name}"


class WardIndex:
    """Lookup tables over the units, built once from the package's data files."""

    def __init__(self, data_dir: Path) -> None:
        self.wards: dict[str, Ward] = {}
        self.provinces: dict[str, str] = {}  # code -> full name
        self._by_short: dict[str, list[str]] = defaultdict(list)  # "benthanh" -> codes
        self._by_typed: dict[str, list[str]] = defaultdict(list)  # "phuongbenthanh" -> codes
        self._province_keys: dict[str, str] = {}  # "hochiminh", "hcm" -> "79"
        self._old_by_short: dict[str, list[_OldWard]] = defaultdict(list)
        self._old_by_typed: dict[str, list[_OldWard]] = defaultdict(list)
        self._old_districts: dict[str, tuple[str, str]] = {}  # "quan1" -> (name, province code)
        self._load(data_dir)

    def _load(self, data_dir: Path) -> None:
        conn = sqlite3.connect(f"file:{data_dir / 'dataset.db'}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            rows = conn.execute("SELECT * FROM admin_units").fetchall()
            legacy = conn.execute(
                "SELECT province, provinceKey, provinceShortKey, provinceKeywords, district,"
                " districtKey, districtShortKey, ward, wardKey, wardShortKey FROM admin_units_legacy"
            ).fetchall()
        finally:
            conn.close()
        new_key_to_code: dict[tuple[str, str], str] = {}
        province_key_to_code: dict[str, str] = {}
        for row in rows:
            ward = Ward(
                code=row["wardCode"],
                name=row["ward"],
                short_name=row["wardShort"],
                unit_type=row["wardType"],
                province_code=row["provinceCode"],
                province_name=row["province"],
                province_short=row["provinceShort"],
                latitude=row["wardLat"],
                longitude=row["wardLon"],
            )
            self.wards[ward.code] = ward
            self.provinces[ward.province_code] = ward.province_name
            self._by_typed[_key(ward.name)].append(ward.code)
            self._by_short[_key(ward.short_name)].append(ward.code)
            new_key_to_code[(row["provinceKey"], row["wardKey"])] = ward.code
            province_key_to_code[row["provinceKey"]] = ward.province_code
            for key in json.loads(row["provinceKeywords"] or "[]"):
                self._province_keys[key] = ward.province_code
            for name in (row["province"], row["provinceShort"]):
                self._province_keys[_key(name)] = ward.province_code
        self._province_keys.update(_EXTRA_PROVINCE_KEYS)

        conversion = json.loads((data_dir / "converter_2025.json").read_text(encoding="utf-8"))
        old_province_to_new: dict[str, str] = {}
        for new_key, old_keys in conversion["DICT_PROVINCE"].items():
            for old_key in old_keys:
                old_province_to_new[old_key] = province_key_to_code[new_key]
        old_to_new: dict[str, list[str]] = {}
        for new_province, wards in conversion["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
            for new_ward_key, old_keys in wards.items():
                code = new_key_to_code.get((new_province, new_ward_key))
                for old_key in old_keys:
                    if code:
                        old_to_new[old_key] = [code]
        for new_province, divided in conversion["DICT_PROVINCE_WARD_DIVIDED"].items():
            for old_key, parts in divided.items():
                ordered = sorted(parts, key=lambda p: not p["isDefaultNewWard"])
                codes = [
                    new_key_to_code[(new_province, p["newWardKey"])]
                    for p in ordered
                    if (new_province, p["newWardKey"]) in new_key_to_code
                ]
                if codes:
                    old_to_new[old_key] = codes

        for row in legacy:
            province_code = old_province_to_new.get(row["provinceKey"])
            if province_code is None:
                continue
            for key in json.loads(row["provinceKeywords"] or "[]"):
                self._province_keys.setdefault(key, province_code)
            self._province_keys.setdefault(_key(row["province"]), province_code)
            district_short = _key(_strip_type(row["district"] or ""))
            if row["district"]:
                self._old_districts.setdefault(
                    _key(row["district"]), (row["district"], province_code)
                )
            if not row["ward"] or not row["wardKey"]:
                continue
            key = f"{row['provinceKey']}_{row['districtKey']}_{row['wardKey']}"
            new_codes = old_to_new.get(key)
            if not new_codes:
                continue
            old = _OldWard(
                key=key,
                name=row["ward"],
                district_name=row["district"] or "",
                district_short_key=district_short,
                province_code=province_code,
                new_ward_codes=tuple(new_codes),
            )
            self._old_by_typed[_key(row["ward"])].append(old)
            self._old_by_short[_key(_strip_type(row["ward"]))].append(old)

    # ----------------------------------------------------------------------------------------

    def find_province(self, text: str) -> str | None:
        """Returns the code of the province a text names (today's or a pre-2025 one), or None."""
        words = _words(text)
        found = self._find_province(words)
        return found[0] if found else None

    def _find_province(self, words: list[str]) -> tuple[str, set[int]] | None:
        best: tuple[str, set[int]] | None = None
        for start, end, key in _ngrams(words):
            code = self._province_keys.get(key)
            # The rightmost, then the longest mention wins ("phường Sài Gòn, TP HCM").
            if code and (best is None or start >= min(best[1])):
                span = set(range(start, end))
                if best is None or start > min(best[1]) or len(span) > len(best[1]):
                    best = (code, span)
        return best

    def resolve(self, text: str, province_hint: str | None = None) -> WardMatch:
        """Finds the unit a resident means; see the module docstring."""
        words = _words(text)
        if not words:
            return WardMatch(MatchStatus.NOT_FOUND)
        province = self._find_province(words)
        used = province[1] if province else set()
        province_code = province[0] if province else None
        if province_hint and province_code is None:
            province_code = self.find_province(province_hint)
        # A province named alone is not a ward.
        if province and len(used) == len(words) and not province_hint:
            return WardMatch(MatchStatus.NOT_FOUND)

        # The longest mention wins, today's names before old ones at equal length, and a name
        # with its type ("phường Bến Thành") before a bare one: "xã Tân Hội Đông, huyện Châu
        # Thành" is the old commune Tân Hội Đông, not today's "xã Tân Hội" elsewhere.
        def in_province(ward_code: str) -> bool:
            return province_code is None or self.wards[ward_code].province_code == province_code

        new_typed, new_short = self._collect(
            words, used, self._by_typed, self._by_short, keep=in_province
        )
        old_typed, old_short = self._collect(
            words,
            used,
            self._old_by_typed,
            self._old_by_short,
            keep=lambda o: province_code is None or o.province_code == province_code,
        )
        for new, old in ((new_typed, old_typed), (new_short, old_short)):
            # The district must be named apart from the ward and the province.
            in_district = self._in_named_district(words, old[0], skip=used | old[2] | new[2])
            # A name used today and before 2025: the old district named with it decides.
            if new[1] and new[1] >= old[1] and not (in_district and new[1] == old[1]):
                return _decide([self.wards[c] for c in dict.fromkeys(new[0])], text)
            if old[1]:
                return self._from_old(in_district or list({m.key: m for m in old[0]}.values()))
        district = self._match_district(words, used)
        if district:
            return WardMatch(MatchStatus.DISTRICT_ONLY, district_name=district)
        return WardMatch(MatchStatus.NOT_FOUND)

    def _from_old(self, old_matches: list[_OldWard]) -> WardMatch:
        new_codes: list[str] = []
        for old in old_matches:
            for code in old.new_ward_codes:
                if code not in new_codes:
                    new_codes.append(code)
        wards = [self.wards[c] for c in new_codes]
        if len(old_matches) == 1:
            # A ward split in 2025 maps to its default successor first; say it back.
            return WardMatch(MatchStatus.FOUND, ward=wards[0], old_name=old_matches[0].label)
        if len(wards) == 1:
            return WardMatch(MatchStatus.FOUND, ward=wards[0], old_name=old_matches[0].name)
        return WardMatch(MatchStatus.AMBIGUOUS, candidates=wards[:8])

    @staticmethod
    def _in_named_district(
        words: list[str], matches: list[_OldWard], skip: set[int]
    ) -> list[_OldWard]:
        """The old units among `matches` whose district the text names too (outside `skip`)."""
        grams = {key for start, end, key in _ngrams(words) if not skip & set(range(start, end))}
        named = [
            m
            for m in matches
            if any(f"{t}{m.district_short_key}" in grams for t in _DISTRICT_TYPES)
            or (len(m.district_short_key) > 2 and m.district_short_key in grams)
        ]
        return list({m.key: m for m in named}.values())

    def _match_district(self, words: list[str], used: set[int]) -> str | None:
        for start, end, key in sorted(_ngrams(words), key=lambda g: g[0] - g[1]):
            if used & set(range(start, end)):
                continue
            if key in self._old_districts and any(key.startswith(t) for t in _DISTRICT_TYPES):
                return self._old_districts[key][0]
        return None

    @staticmethod
    def _collect(
        words: list[str],
        used: set[int],
        typed_index: dict[str, list[_T]],
        short_index: dict[str, list[_T]],
        keep: Callable[[_T], bool],
    ) -> tuple[tuple[list[_T], int, set[int]], tuple[list[_T], int, set[int]]]:
        """Returns the matches of the longest typed mention ("phuong ben thanh") and, apart, of
        the longest bare name ("ben thanh"), each with its length in words; words that named
        the province and matches that `keep` refuses are skipped."""
        typed: list[_T] = []
        short: list[_T] = []
        typed_len = short_len = 0
        typed_span: set[int] = set()
        short_span: set[int] = set()
        for start, end, key in _ngrams(words):
            if used & set(range(start, end)):
                continue
            length = end - start
            if key in typed_index and words[start] in _TYPE_KEYS | {"dac"}:
                found = [m for m in typed_index[key] if keep(m)]
                if found and length >= typed_len:
                    typed = found if length > typed_len else typed + found
                    typed_len = length
                    typed_span |= set(range(start, end))
            elif key in short_index and not key.isdigit():
                found = [m for m in short_index[key] if keep(m)]
                if found and length >= short_len:
                    short = found if length > short_len else short + found
                    short_len = length
                    short_span |= set(range(start, end))
        return (typed, typed_len, typed_span), (short, short_len, short_span)


def _decide(candidates: list[Ward], text: str) -> WardMatch:
    if len(candidates) > 1:
        # "Văn Lang" and "Văn Lăng" fold alike: the diacritics, when typed, tell them apart.
        typed = clean(text)
        has_marks = typed != strip_diacritics(typed)
        exact = [c for c in candidates if has_marks and clean(c.short_name) in typed]
        if len(exact) < len(candidates) and exact:
            longest = max(len(c.short_name) for c in exact)
            candidates = [c for c in exact if len(c.short_name) == longest] or exact
    if len(candidates) == 1:
        return WardMatch(MatchStatus.FOUND, ward=candidates[0])
    return WardMatch(MatchStatus.AMBIGUOUS, candidates=candidates)


_TYPE_WORDS = re.compile(
    r"^(phường|xã|thị trấn|đặc khu|quận|huyện|thị xã|thành phố|tỉnh)\s+", re.IGNORECASE
)


def _strip_type(name: str) -> str:
    """ "Phường Bến Nghé" -> "Bến Nghé"; "Quận 1" -> "1"."""
    return _TYPE_WORDS.sub("", name.strip())


def _key(name: str) -> str:
    """The comparison form of a name: no diacritics, no spaces or punctuation, lower case."""
    return re.sub(r"[^a-z0-9]", "", strip_diacritics(clean(name)))


def _words(text: str) -> list[str]:
    # Not `fold`: its teencode would turn "Hong" (Hồng) into "khong" and "A" into "anh".
    words = re.findall(r"[a-z0-9]+", strip_diacritics(clean(text or "")))
    out: list[str] = []
    for i, word in enumerate(words):
        expanded = _UNIT_PREFIXES.get(word, word) if i + 1 < len(words) else word
        if expanded == "dac" and i + 1 < len(words) and words[i + 1] == "khu":
            out.append("dac")
            continue
        if word in ("tran", "xa") and out and out[-1] == "thi":  # "thị trấn", "thị xã"
            out[-1] = f"thi{word}"
            continue
        out.append(expanded)
    return out


def _ngrams(words: list[str]) -> list[tuple[int, int, str]]:
    grams = []
    for start in range(len(words)):
        for end in range(start + 1, min(len(words), start + _MAX_NGRAM) + 1):
            grams.append((start, end, "".join(words[start:end])))
    return grams


_index: WardIndex | None = None
_lock = threading.Lock()


def admin_units_data_dir() -> Path:
    """The folder of the `vietnamadminunits` data files this module reads (`dataset.db`,
    `converter_2025.json`); their format is checked by tests/requests/test_admin_units_data.py
    against the exact version pinned in pyproject.toml."""
    import vietnamadminunits

    return Path(vietnamadminunits.__file__).parent / "data"


def ward_index() -> WardIndex:
    """Returns the index, built on first use (about a second) and shared by the process."""
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                _index = WardIndex(admin_units_data_dir())
    return _index


def resolve_ward(text: str, province_hint: str | None = None) -> WardMatch:
    """Finds today's ward/commune a resident means by `text` (any spelling, old names too)."""
    return ward_index().resolve(text, province_hint)


def get_ward(code: str) -> Ward | None:
    """Returns the unit with this ward code, or None."""
    return ward_index().wards.get(code)


def province_name(code: str) -> str | None:
    """Returns the full name of a province by code, or None."""
    return ward_index().provinces.get(code)
