"""Finding today's ward/commune from what residents type, with or without diacritics."""

from __future__ import annotations

import pytest

from bot.places.wards import MatchStatus, get_ward, resolve_ward, ward_index
from hotline_nlu.normalize import strip_diacritics


def test_the_2025_units_are_all_there() -> None:
    index = ward_index()
    assert len(index.wards) == 3321
    assert len(index.provinces) == 34


@pytest.mark.parametrize(
    ("typed", "code", "label"),
    [
        ("phuong ben thanh", "26743", "Phường Bến Thành, Thành phố Hồ Chí Minh"),
        ("Bến Thành", "26743", None),
        ("P. Bến Thành, TP.HCM", "26743", None),
        ("ở p Sài Gòn tphcm", "26740", "Phường Sài Gòn, Thành phố Hồ Chí Minh"),
        ("12 Lê Lợi, phường Sài Gòn, TP.HCM", "26740", None),
        ("xa tan phu dong thap", "28468", "Xã Tân Phú, Tỉnh Đồng Tháp"),
        ("xã Tân Phú đồng tháp ạ", "28468", None),
        ("Hoàn Kiếm", "00070", "Phường Hoàn Kiếm, Thành phố Hà Nội"),
        ("phuong Hoan Kiem Ha Noi", "00070", None),
        ("p. Ba Đình, hn", "00004", "Phường Ba Đình, Thành phố Hà Nội"),
        ("phuong Ninh Kieu, Can Tho", None, "Phường Ninh Kiều, Thành phố Cần Thơ"),
        ("phường Hải Châu, Đà Nẵng", None, "Phường Hải Châu, Thành phố Đà Nẵng"),
        ("phường Tân Định tphcm", "26737", None),
        ("PHƯỜNG BẾN THÀNH", "26743", None),
        ("xã ba đình thanh hóa", "16171", "Xã Ba Đình, Tỉnh Thanh Hóa"),
    ],
)
def test_todays_names(typed: str, code: str | None, label: str | None) -> None:
    match = resolve_ward(typed)
    assert match.status is MatchStatus.FOUND, typed
    assert match.ward is not None
    if code:
        assert match.ward.code == code
    if label:
        assert match.ward.label == label
    assert match.old_name is None


@pytest.mark.parametrize(
    ("typed", "today", "old"),
    [
        ("phường Bến Nghé, quận 1", "Phường Sài Gòn", "Phường Bến Nghé, Quận 1"),
        ("phuong ben nghe quan 1 tphcm", "Phường Sài Gòn", "Phường Bến Nghé, Quận 1"),
        ("phường Hàng Bạc, quận Hoàn Kiếm", "Phường Hoàn Kiếm", "Phường Hàng Bạc, Quận Hoàn Kiếm"),
        ("phường 1 quận 3", "Phường Bàn Cờ", "Phường 1, Quận 3"),
        ("xa tan phu tien giang", "Xã Tân Phú", None),  # Tiền Giang merged into Đồng Tháp
    ],
)
def test_old_names_map_to_todays_unit(typed: str, today: str, old: str | None) -> None:
    match = resolve_ward(typed)
    assert match.status is MatchStatus.FOUND, typed
    assert match.ward is not None
    assert match.ward.name == today
    if old:
        assert match.old_name == old


def test_a_name_in_several_provinces_is_ambiguous_until_the_province_is_known() -> None:
    match = resolve_ward("xã Tân Phú")
    assert match.status is MatchStatus.AMBIGUOUS
    provinces = {c.province_short for c in match.candidates}
    assert {"Đồng Tháp", "Đồng Nai", "Tây Ninh"} <= provinces
    resolved = resolve_ward("xã Tân Phú", province_hint="Đồng Nai")
    assert resolved.found
    assert resolved.ward is not None
    assert resolved.ward.province_short == "Đồng Nai"


def test_an_abolished_district_alone_asks_for_the_ward() -> None:
    match = resolve_ward("quận 1")
    assert match.status is MatchStatus.DISTRICT_ONLY
    assert match.district_name == "Quận 1"


@pytest.mark.parametrize("typed", ["abc xyz", "", "hà nội", "tôi không biết"])
def test_nothing_found(typed: str) -> None:
    assert resolve_ward(typed).status is MatchStatus.NOT_FOUND


def test_get_ward() -> None:
    ward = get_ward("26743")
    assert ward is not None
    assert ward.unit_type == "Phường"
    assert ward.province_code == "79"
    assert ward.latitude is not None
    assert get_ward("99999") is None


def test_every_unit_is_found_by_its_own_name() -> None:
    """All 3,321 units, typed with diacritics (exact) and without (found, or a short choice that
    includes it when two names differ only by their marks, e.g. Tân Thành / Tân Thạnh)."""
    missed = []
    for ward in ward_index().wards.values():
        exact = resolve_ward(f"{ward.name}, {ward.province_name}")
        if not (exact.found and exact.ward is not None and exact.ward.code == ward.code):
            missed.append(ward.label)
        plain = resolve_ward(strip_diacritics(f"{ward.name} {ward.province_short}").lower())
        codes = {c.code for c in plain.candidates} | ({plain.ward.code} if plain.ward else set())
        if ward.code not in codes:
            missed.append(f"{ward.label} (không dấu)")
    assert missed == []


def test_every_pre_2025_unit_maps_to_its_successor() -> None:
    """All 10,035 pre-2025 wards/communes, named with their old district and today's province
    (as residents do), resolve to the unit they became part of (or a choice that includes it)."""
    index = ward_index()
    missed = []
    for olds in index._old_by_typed.values():
        for old in olds:
            match = resolve_ward(f"{old.label}, {index.provinces[old.province_code]}")
            codes = {c.code for c in match.candidates} | (
                {match.ward.code} if match.ward else set()
            )
            if not codes & set(old.new_ward_codes):
                missed.append(old.label)
    assert missed == []
