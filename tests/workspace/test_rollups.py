"""The dashboard's daily roll-ups always equal counts over the requests themselves: after new
requests, status changes, an update that changes the first need and the priority, an erasure,
the retention purge, and a rebuild."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from bot.cli import app
from bot.dashboard.service import build_dashboard, default_range, uses_rollups
from bot.db.base import utcnow
from bot.demo.seed import seed_demo
from bot.places.wards import get_ward
from bot.privacy.service import erase_records, purge_records
from bot.requests.models import AidRequest, AidRequestDaily, AidRequestDailyWard, RequestStatus
from bot.requests.rollups import rebuild_rollups, vietnam_day
from bot.requests.service import AidRequestUpdate, set_status, update_open_aid_request
from bot.requests.workspace import RequestFilters, day_bounds
from tests.requests.factories import BEN_THANH, HOAN_KIEM, SAI_GON
from tests.workspace.conftest import Wards, make_request

Key = tuple[str, str, str, str, int]


def raw_counts(session: Session) -> tuple[Counter[Key], Counter[Key], Counter[tuple[str, str]]]:
    """(requests, emergencies) by day × province × need × status × team, and by day × ward,
    counted over the requests."""
    requests: Counter[Key] = Counter()
    urgent: Counter[Key] = Counter()
    wards: Counter[tuple[str, str]] = Counter()
    for created, province, ward, need, status, team, priority in session.execute(
        select(
            AidRequest.created_at,
            AidRequest.province_code,
            AidRequest.ward_code,
            AidRequest.primary_need,
            AidRequest.status,
            AidRequest.team_id,
            AidRequest.priority,
        )
    ):
        day = vietnam_day(created).isoformat()
        key = (day, province, need, status, team or 0)
        requests[key] += 1
        urgent[key] += priority == 1
        wards[(day, ward)] += 1
    return requests, +urgent, wards


def rolled_up(session: Session) -> tuple[Counter[Key], Counter[Key], Counter[tuple[str, str]]]:
    requests: Counter[Key] = Counter()
    urgent: Counter[Key] = Counter()
    for row in session.scalars(select(AidRequestDaily)):
        key = (row.day.isoformat(), row.province_code, row.primary_need, row.status, row.team_id)
        requests[key] += row.requests
        urgent[key] += row.emergencies
    wards: Counter[tuple[str, str]] = Counter()
    for ward in session.scalars(select(AidRequestDailyWard)):
        wards[(ward.day.isoformat(), ward.ward_code)] += ward.requests
    return +requests, +urgent, +wards  # unary plus drops the rows counted down to zero


def assert_consistent(session: Session) -> None:
    session.flush()
    assert rolled_up(session) == raw_counts(session)


def test_roll_ups_follow_creation_status_changes_and_updates(
    session: Session, wards: Wards
) -> None:
    a = make_request(session, ward=BEN_THANH)
    b = make_request(session, ward=SAI_GON, days_without_food=3)  # an emergency
    c = make_request(session, ward=HOAN_KIEM, hours_old=24 * 3, needs=["medicine"])
    assert_consistent(session)
    assert session.scalar(select(func.sum(AidRequestDaily.emergencies))) == 1

    set_status(session=session, ref_code=a.ref_code, status=RequestStatus.IN_PROGRESS, actor="t")
    set_status(session=session, ref_code=a.ref_code, status=RequestStatus.RESOLVED, actor="t")
    set_status(session=session, ref_code=b.ref_code, status=RequestStatus.REJECTED, actor="t")
    assert_consistent(session)

    # A resident adds a need that comes first and a reason for urgency: both counts move.
    set_status(session=session, ref_code=b.ref_code, status=RequestStatus.ASSIGNED, actor="t")
    update_open_aid_request(
        session=session,
        conversation_id=b.resident.conversation_id,
        ref_code=b.ref_code,
        changes=AidRequestUpdate(needs=["food", "medicine"], days_without_food=0),
    )
    update_open_aid_request(
        session=session,
        conversation_id=c.resident.conversation_id,
        ref_code=c.ref_code,
        changes=AidRequestUpdate(needs=["food"]),
    )
    assert (b.priority, c.primary_need) == (3, "food")  # no longer an emergency
    assert_consistent(session)


def test_erasure_and_the_retention_purge_take_requests_out_of_the_roll_ups(
    session: Session, wards: Wards
) -> None:
    kept = make_request(session, ward=BEN_THANH)
    erased = make_request(session, ward=BEN_THANH, days_without_food=2)
    old = make_request(session, ward=HOAN_KIEM, hours_old=24 * 400)
    old.resident.last_seen_at = utcnow() - timedelta(days=400)
    assert_consistent(session)

    erase_records(session=session, conversation_id=erased.resident.conversation_id)
    assert_consistent(session)
    purge_records(session=session, cutoff=utcnow() - timedelta(days=365))
    assert_consistent(session)
    assert session.scalar(select(func.sum(AidRequestDaily.requests))) == 1
    assert session.get(AidRequest, kept.id) is not None


def test_the_demo_seed_and_a_rebuild_give_the_same_counts(session: Session) -> None:
    seed_demo(session=session, requests=300, days=30, seed=11, batch=120)
    assert_consistent(session)
    # Counts spoilt by hand (a restore, a manual fix) come back with a rebuild: from a day on,
    # then all of them.
    session.execute(
        AidRequestDaily.__table__.update().values(requests=AidRequestDaily.requests + 5)
    )
    since = vietnam_day(utcnow() - timedelta(days=10))
    rebuild_rollups(session=session, since=since)
    requests, _urgent, _wards = rolled_up(session)
    expected, _u, _w = raw_counts(session)
    recent = {k for k in expected if k[0] >= since.isoformat()}
    assert recent
    assert all(requests[k] == expected[k] for k in recent)
    assert all(requests[k] == expected[k] + 5 for k in expected if k not in recent)
    rebuild_rollups(session=session)
    assert_consistent(session)


def test_rebuild_rollups_command(session: Session) -> None:
    make_request(session, ward=BEN_THANH)
    session.execute(AidRequestDaily.__table__.delete())
    result = CliRunner().invoke(app, ["dashboard", "rebuild-rollups"])
    assert result.exit_code == 0, result.output
    assert "Roll-ups rebuilt" in result.output
    assert_consistent(session)
    bad = CliRunner().invoke(app, ["dashboard", "rebuild-rollups", "--since", "yesterday"])
    assert bad.exit_code == 2


def test_admins_read_roll_ups_and_team_members_their_wards(session: Session, wards: Wards) -> None:
    seed_demo(session=session, requests=200, days=20, seed=4)
    make_request(session, ward=BEN_THANH)
    assert uses_rollups(wards.admin, RequestFilters())
    assert uses_rollups(wards.admin, RequestFilters(province="79"))
    assert not uses_rollups(wards.admin, RequestFilters(ward=BEN_THANH))
    assert not uses_rollups(wards.admin, RequestFilters(overdue=True))
    assert not uses_rollups(wards.member, RequestFilters())
    first, last = default_range()
    start, end = day_bounds(first, last)
    in_range = (AidRequest.created_at >= start, AidRequest.created_at < end)
    board = build_dashboard(session=session, user=wards.admin, filters=RequestFilters())
    total = session.scalar(select(func.count()).select_from(AidRequest).where(*in_range))
    assert board.totals["total"] == total
    urgent = session.scalar(
        select(func.count()).select_from(AidRequest).where(*in_range, AidRequest.priority == 1)
    )
    assert board.totals["emergencies"] == urgent
    province = build_dashboard(
        session=session, user=wards.admin, filters=RequestFilters(province="79")
    )
    in_province = session.scalar(
        select(func.count())
        .select_from(AidRequest)
        .where(*in_range, AidRequest.province_code == "79")
    )
    assert province.totals["total"] == in_province
    wards_79 = [get_ward(code) for code, _label, _n in province.by_ward]
    assert wards_79
    assert all(w is not None and w.province_code == "79" for w in wards_79)
    assert sum(n for _c, _l, n in province.by_ward) <= in_province
