"""Teams, their wards and members as the admin pages change them; the ward search."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.places.search import search_wards
from bot.teams.service import (
    TeamError,
    add_ward,
    create_team,
    remove_ward,
    route_ward,
    team_overview,
    update_team,
)
from bot.users.models import Role, User
from bot.users.service import UserError, add_to_team, remove_from_team, team_candidates
from tests.requests.factories import BEN_THANH, HOAN_KIEM, SAI_GON, make_team
from tests.users.factories import make_user
from tests.workspace.conftest import make_request


@pytest.mark.parametrize(
    "query", ["phuong ben thanh", "Phường Bến Thành", "ben thanh ho chi minh", "BEN THANH", "26743"]
)
def test_the_search_finds_a_ward_with_or_without_diacritics(query: str) -> None:
    found = search_wards(query)
    assert found
    assert found[0].code == BEN_THANH
    assert found[0].name == "Phường Bến Thành"


def test_the_search_is_limited_and_empty_for_nothing() -> None:
    assert search_wards("") == []
    assert search_wards("   ") == []
    assert len(search_wards("xa", limit=10)) == 10
    assert search_wards("khongcophuongnaonhuvay") == []


def test_an_admin_creates_a_team_and_gives_it_wards(session: Session, admin: User) -> None:
    team = create_team(
        session=session,
        slug="hcm-ben-thanh",
        name="  Tổ  Bến Thành ",
        level="ward",
        province_code="",
        telegram_chat_id="-1001234567890",
        actor="user:1",
    )
    assert team.name == "Tổ Bến Thành"
    add_ward(session=session, team=team, ward_code=BEN_THANH, actor="user:1")
    add_ward(session=session, team=team, ward_code=SAI_GON, actor="user:1")
    assert route_ward(session=session, ward_code=BEN_THANH).team.id == team.id
    with pytest.raises(TeamError, match="đã thuộc tổ này"):
        add_ward(session=session, team=team, ward_code=BEN_THANH, actor="user:1")
    other = make_team(session, slug="khac", wards=[HOAN_KIEM])
    with pytest.raises(TeamError, match="đang thuộc tổ"):
        add_ward(session=session, team=team, ward_code=HOAN_KIEM, actor="user:1")
    with pytest.raises(TeamError, match="Không có phường/xã"):
        add_ward(session=session, team=team, ward_code="99999", actor="user:1")
    assert remove_ward(session=session, team=team, ward_code=SAI_GON, actor="user:1")
    assert not remove_ward(session=session, team=team, ward_code=HOAN_KIEM, actor="user:1")
    assert route_ward(session=session, ward_code=HOAN_KIEM).team.id == other.id
    actions = session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.entity == "team", AuditEvent.entity_id == team.id
        )
    ).all()
    assert sorted(actions) == [
        "team.created",
        "team.ward_added",
        "team.ward_added",
        "team.ward_removed",
    ]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"slug": "Bến Thành"}, "Mã tổ"),
        ({"name": " "}, "Tên tổ"),
        ({"telegram_chat_id": "nhom cua to"}, "Telegram"),
        ({"level": "province"}, "mã tỉnh"),
        ({"province_code": "99"}, "Không có tỉnh"),
    ],
)
def test_a_bad_team_is_refused_with_the_reason(
    session: Session, changes: dict[str, str], problem: str
) -> None:
    fields = {
        "slug": "to-moi",
        "name": "Tổ mới",
        "level": "ward",
        "province_code": "",
        "telegram_chat_id": "",
    } | changes
    with pytest.raises(TeamError, match=problem):
        create_team(session=session, actor="user:1", **fields)


def test_a_team_slug_is_unique(session: Session) -> None:
    make_team(session, slug="to-a")
    with pytest.raises(TeamError, match="đã có"):
        create_team(
            session=session,
            slug="to-a",
            name="Tổ A",
            level="ward",
            province_code="",
            telegram_chat_id="",
            actor="user:1",
        )


def test_an_update_is_audited_with_the_changed_fields_only(session: Session) -> None:
    team = make_team(session, slug="to-b")
    update_team(
        session=session,
        team=team,
        name=team.name,
        telegram_chat_id="@to_b_chat",
        active=False,
        actor="user:1",
    )
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "team.updated")).one()
    assert event.detail == {"changed": ["telegram_chat_id", "active"]}
    assert route_ward(session=session, ward_code=BEN_THANH).team.slug == "central"


def test_members_are_team_accounts_and_keep_one_team(session: Session) -> None:
    first = make_team(session, slug="to-1", wards=[BEN_THANH])
    second = make_team(session, slug="to-2", wards=[HOAN_KIEM])
    member = make_user(session, role=Role.TEAM, teams=["to-1"])
    staff = make_user(session, role=Role.STAFF)
    assert member not in team_candidates(session=session, team=first)
    assert member in team_candidates(session=session, team=second)
    with pytest.raises(UserError, match="vai trò thành viên tổ"):
        add_to_team(session=session, user=staff, team=first, actor="user:1")
    with pytest.raises(UserError, match="duy nhất"):
        remove_from_team(session=session, user=member, team=first, actor="user:1")
    add_to_team(session=session, user=member, team=second, actor="user:1")
    remove_from_team(session=session, user=member, team=first, actor="user:1")
    assert [t.slug for t in member.teams] == ["to-2"]


def test_the_overview_counts_wards_members_and_open_requests(session: Session) -> None:
    team = make_team(session, slug="to-dem", wards=[BEN_THANH, SAI_GON])
    make_user(session, role=Role.TEAM, teams=["to-dem"])
    make_request(session, ward=BEN_THANH)
    make_request(session, ward=SAI_GON)
    row = next(r for r in team_overview(session=session) if r.team.id == team.id)
    assert (row.wards, row.members, row.open_requests) == (2, 1, 2)
