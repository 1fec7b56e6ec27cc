"""Test data for requests and teams."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from bot.requests.service import AidRequestIn, HealthDeclarationIn
from bot.teams.models import Team, TeamLevel, TeamWard

BEN_THANH = "26743"  # Phường Bến Thành, TP. Hồ Chí Minh
SAI_GON = "26740"  # Phường Sài Gòn, TP. Hồ Chí Minh
TAN_DINH = "26737"  # Phường Tân Định, TP. Hồ Chí Minh
HOAN_KIEM = "00070"  # Phường Hoàn Kiếm, Hà Nội
TAN_PHU_DONG_THAP = "28468"  # Xã Tân Phú, Đồng Tháp

_ids = itertools.count(1)


def conversation_id() -> str:
    return f"web:test{next(_ids)}x{id(object())}"


def aid_in(**changes: Any) -> AidRequestIn:
    base = AidRequestIn(
        needs=["food"],
        description="Mất việc, nhà hết gạo",
        household_size=4,
        vulnerable=[],
        ward_code=BEN_THANH,
        address_detail="12 Lê Lợi",
        phone="0912345678",
    )
    return replace(base, **changes)


def health_in(**changes: Any) -> HealthDeclarationIn:
    base = HealthDeclarationIn(
        full_name="Nguyễn Văn An",
        birth_year=1985,
        phone="0912345678",
        ward_code=HOAN_KIEM,
        symptoms=["fever"],
        case_contact=False,
        recent_travel=None,
        vaccine_doses=3,
    )
    return replace(base, **changes)


def make_team(
    session: Session,
    *,
    slug: str,
    level: TeamLevel = TeamLevel.WARD,
    wards: list[str] | None = None,
    province_code: str | None = None,
    chat: str | None = "-100123",
) -> Team:
    team = Team(
        slug=slug,
        name=f"Tổ {slug}",
        level=level,
        province_code=province_code,
        telegram_chat_id=chat,
    )
    session.add(team)
    session.flush()
    for code in wards or []:
        session.add(TeamWard(team_id=team.id, ward_code=code))
    session.flush()
    return team
