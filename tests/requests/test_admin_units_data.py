"""The format of the `vietnamadminunits` data that bot/places/wards.py reads, for the exact
version pinned: a new release that renames a column or changes the conversion tables fails
here, not in front of a resident."""

from __future__ import annotations

import json
import re
import sqlite3
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

from bot.places.wards import admin_units_data_dir

ROOT = Path(__file__).resolve().parents[2]
# The columns wards.py reads.
UNIT_COLUMNS = {
    "wardCode",
    "ward",
    "wardShort",
    "wardType",
    "provinceCode",
    "province",
    "provinceShort",
    "wardLat",
    "wardLon",
    "provinceKey",
    "wardKey",
    "provinceKeywords",
}
LEGACY_COLUMNS = {
    "province",
    "provinceKey",
    "provinceShortKey",
    "provinceKeywords",
    "district",
    "districtKey",
    "districtShortKey",
    "ward",
    "wardKey",
    "wardShortKey",
}


@pytest.fixture(scope="module")
def dataset() -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{admin_units_data_dir() / 'dataset.db'}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def test_the_installed_version_is_the_exact_pin() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    pins = [d for d in pyproject["project"]["dependencies"] if d.startswith("vietnamadminunits")]
    assert pins == [f"vietnamadminunits=={version('vietnamadminunits')}"]
    lock = (ROOT / "requirements" / "app.lock").read_text("utf-8")
    assert f"\nvietnamadminunits=={version('vietnamadminunits')} " in lock


def test_the_2025_units_table(dataset: sqlite3.Connection) -> None:
    assert _columns(dataset, "admin_units") >= UNIT_COLUMNS
    rows = dataset.execute("SELECT * FROM admin_units").fetchall()
    assert len(rows) == 3321
    assert len({r["provinceCode"] for r in rows}) == 34
    assert len({r["wardCode"] for r in rows}) == 3321
    assert {r["wardType"] for r in rows} == {"Phường", "Xã", "Đặc khu"}
    for row in rows:
        assert re.fullmatch(r"\d{5}", row["wardCode"]) and re.fullmatch(
            r"\d{2}", row["provinceCode"]
        )
        # (the type column and the name can disagree: "Phường Việt Hòa" is typed "Xã")
        assert row["ward"].startswith(("Phường ", "Xã ", "Đặc khu ")) and row["wardShort"]
        assert isinstance(row["wardLat"], float) and isinstance(row["wardLon"], float)
        assert 8 <= row["wardLat"] <= 24 and 102 <= row["wardLon"] <= 118
        keywords = json.loads(row["provinceKeywords"])
        assert isinstance(keywords, list) and all(isinstance(k, str) for k in keywords)


def test_the_legacy_table(dataset: sqlite3.Connection) -> None:
    assert _columns(dataset, "admin_units_legacy") >= LEGACY_COLUMNS
    provinces = dataset.execute(
        "SELECT COUNT(DISTINCT provinceKey) FROM admin_units_legacy"
    ).fetchone()[0]
    assert provinces == 63  # the provinces before 2025-07-01


def test_the_2025_conversion_tables(dataset: sqlite3.Connection) -> None:
    conversion = json.loads((admin_units_data_dir() / "converter_2025.json").read_text("utf-8"))
    assert set(conversion) >= {
        "DICT_PROVINCE",
        "DICT_PROVINCE_WARD_NO_DIVIDED",
        "DICT_PROVINCE_WARD_DIVIDED",
    }
    new_provinces = {r[0] for r in dataset.execute("SELECT provinceKey FROM admin_units")}
    old_provinces = {r[0] for r in dataset.execute("SELECT provinceKey FROM admin_units_legacy")}
    assert set(conversion["DICT_PROVINCE"]) == new_provinces
    merged = [old for olds in conversion["DICT_PROVINCE"].values() for old in olds]
    assert set(merged) == old_provinces and len(merged) == 63
    for wards in conversion["DICT_PROVINCE_WARD_NO_DIVIDED"].values():
        assert all(isinstance(olds, list) for olds in wards.values())
    for divided in conversion["DICT_PROVINCE_WARD_DIVIDED"].values():
        for parts in divided.values():
            assert {"newWardKey", "isDefaultNewWard"} <= set(parts[0])
            assert sum(bool(p["isDefaultNewWard"]) for p in parts) == 1
