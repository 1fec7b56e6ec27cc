"""Teams, members and requests in two wards of two teams, for the workspace and dashboard tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.requests.models import AidRequest
from bot.requests.rollups import track
from bot.requests.service import submit_aid_request
from bot.teams.models import Team
from bot.users.models import Role, User
from tests.requests.factories import BEN_THANH, HOAN_KIEM, SAI_GON, aid_in, make_team
from tests.users.conftest import app_settings, web  # noqa: F401  (fixtures)
from tests.users.factories import make_user

_chat = iter(range(700_000, 800_000))


def make_request(
    session: Session,
    *,
    ward: str,
    hours_old: float = 0,
    channel: str = "telegram",
    **changes: object,
) -> AidRequest:
    """A resident's request submitted through the real service, then aged."""
    saved = submit_aid_request(
        session=session,
        conversation_id=f"{channel}:{next(_chat)}",
        data=aid_in(ward_code=ward, **changes),
    )
    request = saved.request
    if hours_old:
        with track(session=session, request=request):  # its day's count moves with it
            request.created_at = utcnow() - timedelta(hours=hours_old)
    session.flush()
    return request


@dataclass
class Wards:
    ben_thanh: Team
    hoan_kiem: Team
    member: User  # team Bến Thành (Bến Thành + Sài Gòn)
    colleague: User  # same team
    outsider: User  # team Hoàn Kiếm
    admin: User


@pytest.fixture
def wards(session: Session) -> Wards:
    ben_thanh = make_team(session, slug="ben-thanh", wards=[BEN_THANH, SAI_GON])
    hoan_kiem = make_team(session, slug="hoan-kiem", wards=[HOAN_KIEM])
    return Wards(
        ben_thanh=ben_thanh,
        hoan_kiem=hoan_kiem,
        member=make_user(session, role=Role.TEAM, teams=["ben-thanh"], display_name="Lê Thị Hoa"),
        colleague=make_user(
            session, role=Role.TEAM, teams=["ben-thanh"], display_name="Phạm Văn Nam"
        ),
        outsider=make_user(session, role=Role.TEAM, teams=["hoan-kiem"]),
        admin=make_user(session, role=Role.ADMIN),
    )
