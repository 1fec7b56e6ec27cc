"""The dashboard's figures: correct sums over demo data, and a team member's scope everywhere."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.dashboard.service import build_dashboard, default_range
from bot.demo.seed import seed_demo
from bot.handoff.models import HandoffRequest
from bot.requests.models import AidRequest
from bot.requests.workspace import OutOfScope, RequestFilters, day_bounds
from tests.requests.factories import BEN_THANH, HOAN_KIEM, SAI_GON
from tests.users.factories import login
from tests.workspace.conftest import Wards, make_request


def test_demo_seed_fills_requests_residents_and_handoffs(session: Session) -> None:
    summary = seed_demo(session=session, requests=400, days=60, seed=3, batch=150)
    assert summary.requests == 400
    assert session.scalar(select(func.count()).select_from(AidRequest)) == 400
    assert session.scalar(select(func.count()).select_from(HandoffRequest)) == summary.handoffs
    statuses = set(session.scalars(select(AidRequest.status).distinct()))
    assert {"resolved", "assigned"} <= statuses
    provinces = session.scalar(select(func.count(AidRequest.province_code.distinct())))
    assert provinces is not None
    assert provinces > 10
    closed = session.scalars(select(AidRequest).where(AidRequest.closed_at.is_not(None))).all()
    assert closed
    assert all(r.first_action_at and r.closed_at >= r.first_action_at for r in closed)


def test_the_dashboard_figures_add_up(session: Session, wards: Wards) -> None:
    seed_demo(session=session, requests=500, days=40, seed=5)
    board = build_dashboard(session=session, user=wards.admin, filters=RequestFilters())
    first, last = default_range()
    start, end = day_bounds(first, last)
    expected = session.scalar(
        select(func.count())
        .select_from(AidRequest)
        .where(AidRequest.created_at >= start, AidRequest.created_at < end)
    )
    assert board.totals["total"] == expected > 0
    assert sum(n for _c, _name, n in board.by_province) == expected
    assert sum(n for _d, n, _e in board.by_day) == expected
    assert sum(n for _k, n in board.by_status) == expected
    assert sum(n for _k, n in board.by_need) == expected
    assert board.teams
    assert board.teams[0]["first_median"] is not None
    assert board.handoffs_by_day
    open_total = session.scalar(
        select(func.count())
        .select_from(AidRequest)
        .where(AidRequest.status.in_(("new", "assigned", "in_progress")))
    )
    assert sum(n for _label, n in board.backlog) == open_total


def test_a_team_members_figures_count_only_their_wards(session: Session, wards: Wards) -> None:
    seed_demo(session=session, requests=200, days=10, seed=9)
    make_request(session, ward=BEN_THANH)
    make_request(session, ward=SAI_GON, days_without_food=2)
    make_request(session, ward=HOAN_KIEM)
    board = build_dashboard(session=session, user=wards.member, filters=RequestFilters())
    demo_in_wards = session.scalar(
        select(func.count())
        .select_from(AidRequest)
        .where(AidRequest.ward_code.in_([BEN_THANH, SAI_GON]))
    )
    assert board.totals["total"] == demo_in_wards
    assert {code for code, _label, _n in board.by_ward} <= {BEN_THANH, SAI_GON}
    assert board.handoffs_by_day == []  # hand-offs have no ward: admins and staff only
    with pytest.raises(OutOfScope):
        build_dashboard(session=session, user=wards.member, filters=RequestFilters(province="01"))


def test_the_dashboard_page_is_for_admins(web: TestClient, session: Session, wards: Wards) -> None:
    seed_demo(session=session, requests=120, days=20, seed=1)
    login(web, wards.admin.username)
    page = web.get("/admin")
    assert page.status_code == 200
    assert "Bảng điều khiển" in page.text
    assert 'id="chart-by-day"' in page.text
    assert "/static/vendor/chart.umd.js" in page.text
    assert web.get("/admin?from=2026-13-01").status_code == 400
    assert web.get("/static/vendor/chart.umd.js").text.startswith("/*!\n * Chart.js v4")
    web.cookies.clear()
    login(web, wards.member.username)
    assert web.get("/admin").status_code == 403
