"""The aid programmes file: its schema (what the admin editor validates too), validity by
date (both ends inclusive) and area (national, province, ward)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.content.aid_programmes import AidProgramme, load_aid_programmes, programmes_for
from bot.content.service import ContentError, check_content
from bot.settings import PROJECT_ROOT

BEN_THANH = "26743"
BASE = {
    "id": "thu",
    "name": "Thử",
    "eligible": "Ai đó",
    "benefit": "Một ít",
    "papers": "Không",
    "how": "Tại phường",
    "valid_from": "2026-11-01",
    "valid_to": "2026-11-30",
    "area": "national",
}


def test_the_shipped_file_follows_the_schema() -> None:
    shipped = load_aid_programmes(content_dir=PROJECT_ROOT / "data" / "content").programmes
    assert shipped
    assert all(not p.verified for p in shipped)  # examples until someone checks them


@pytest.mark.parametrize(
    "change",
    [
        {"area": ["99"]},
        {"area": []},
        {"valid_to": "2026-10-01"},
        {"id": "Có Dấu"},
        {"name": ""},
        {"surprise": "field"},
    ],
)
def test_bad_entries_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AidProgramme.model_validate(BASE | change)


def test_validity_includes_both_days() -> None:
    programme = AidProgramme.model_validate(BASE)
    assert not programme.valid_on(date(2026, 10, 31))
    assert programme.valid_on(date(2026, 11, 1))
    assert programme.valid_on(date(2026, 11, 30))
    assert not programme.valid_on(date(2026, 12, 1))
    assert AidProgramme.model_validate(BASE | {"valid_to": None}).valid_on(date(2030, 1, 1))


def test_area_national_province_ward() -> None:
    ward = AidProgramme.model_validate(BASE | {"area": [BEN_THANH]})
    province = AidProgramme.model_validate(BASE | {"area": ["79"]})
    assert ward.applies_to("79", BEN_THANH)
    assert not ward.applies_to("79", "26740")
    assert not ward.applies_to("79", None)
    assert province.applies_to("79", None)
    assert not province.applies_to("01", "00070")


def test_shipped_expired_programme_is_never_answered() -> None:
    content = PROJECT_ROOT / "data" / "content"
    today = programmes_for(
        province_code="79", ward_code=BEN_THANH, day=date(2026, 11, 27), content_dir=content
    )
    # The most local first; the example that ended in 2025 is not among them.
    assert [p.id for p in today] == [
        "ben-thanh-phieu-mua-hang",
        "hcm-lao-dong-tu-do-2026",
        "tro-cap-that-nghiep",
        "ho-tro-luong-thuc-dot-xuat",
    ]


def test_a_broken_file_is_reported_by_the_content_check(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "data" / "content", content)
    (content / "aid_programmes.yml").write_text("programmes:\n  - id: x\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"aid_programmes\.yml"):
        load_aid_programmes(content_dir=content)
    assert any("aid_programmes.yml" in p for p in check_content(content_dir=content))
