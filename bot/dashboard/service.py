"""The admin dashboard's figures: aggregate queries over aid requests (and hand-offs), always
through the workspace's one scope, so a team member's counts could never show another ward.

Every figure is one GROUP BY on indexed columns (see the i9-dash migration); median and p90
come from PostgreSQL's percentile_cont, or from Python on SQLite (development databases).
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal_column,
    select,
    tablesample,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.util import ClauseAdapter

from bot.db.base import utcnow
from bot.handoff.models import HandoffRequest
from bot.places.wards import get_ward, province_name
from bot.requests.models import (
    OPEN_STATUSES,
    AidRequest,
    AidRequestDaily,
    AidRequestDailyWard,
)
from bot.requests.workspace import (
    RequestFilters,
    check_scope,
    day_bounds,
    filter_conditions,
    open_requests,
    overdue_condition,
    scoped,
)
from bot.teams.models import Team
from bot.users.models import User
from bot.users.service import ward_scope

DEFAULT_DAYS = 30
SAMPLE_ROWS = 20_000  # team times: percentiles over a sample when far more requests match
AGE_BUCKETS = (  # (label, from hours, to hours) of the open backlog
    ("Dưới 1 ngày", 0, 24),
    ("1–3 ngày", 24, 72),
    ("3–7 ngày", 72, 168),
    ("7–30 ngày", 168, 720),
    ("Trên 30 ngày", 720, None),
)


@dataclass
class Dashboard:
    """Everything the dashboard page draws, as plain lists and numbers."""

    first_day: date
    last_day: date
    totals: dict[str, int]
    by_day: list[tuple[str, int, int]]  # (day, requests, emergencies)
    by_province: list[tuple[str, str, int]]  # (code, name, count)
    by_ward: list[tuple[str, str, int]]
    by_need: list[tuple[str, int]]
    by_status: list[tuple[str, int]]
    backlog: list[tuple[str, int]]
    teams: list[dict[str, Any]]
    # (day, hand-offs, emergencies, not understood by the assistant)
    handoffs_by_day: list[tuple[str, int, int, int]] = field(default_factory=list)


def default_range(today: date | None = None) -> tuple[date, date]:
    """The last 30 days, today included (Vietnam's date)."""
    from bot.web.templating import VIETNAM

    last = today or utcnow().astimezone(VIETNAM).date()
    return last - timedelta(days=DEFAULT_DAYS - 1), last


def _day(column: Any, dialect: str) -> ColumnElement[Any]:
    """The day in Vietnam (UTC+7) of a stored UTC time, as text YYYY-MM-DD."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("Asia/Ho_Chi_Minh", column), "YYYY-MM-DD")
    return func.date(column, "+7 hours")


def _base(user: User | None, filters: RequestFilters, now: datetime) -> Select[Any]:
    return scoped(select(), user).select_from(AidRequest).where(*filter_conditions(filters, now))


def _hours(later: Any, earlier: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier) / 3600.0
    return (func.julianday(later) - func.julianday(earlier)) * 24.0


def _percentiles(
    session: Session,
    query: Select[Any],
    hours: ColumnElement[Any],
    dialect: str,
    sample: float | None = None,
) -> dict[int, tuple[float | None, float | None]]:
    """Median and p90 of `hours` by team id (PostgreSQL: over a `sample` percent of the
    table's pages when given)."""
    if dialect == "postgresql":
        statement = query.add_columns(
            AidRequest.team_id,
            func.percentile_cont(0.5).within_group(hours),
            func.percentile_cont(0.9).within_group(hours),
        ).group_by(AidRequest.team_id)
        if sample is not None:
            sampled = tablesample(AidRequest.__table__, func.system(sample), name="sampled")
            statement = ClauseAdapter(sampled).traverse(statement)
        rows = session.execute(statement).all()
        return {r[0]: (r[1], r[2]) for r in rows}
    values: dict[int, list[float]] = {}
    for team_id, value in session.execute(query.add_columns(AidRequest.team_id, hours)):
        values.setdefault(team_id, []).append(float(value))
    result: dict[int, tuple[float | None, float | None]] = {}
    for team_id, items in values.items():
        items.sort()
        p90 = items[min(len(items) - 1, int(0.9 * len(items)))]
        result[team_id] = (statistics.median(items), p90)
    return result


def _team_times(
    session: Session,
    base: Select[Any],
    dialect: str,
    limit: int = 10,
    busiest: list[Any] | None = None,
) -> list[dict[str, Any]]:
    """Time to first action and to resolution (median, p90, hours) of the busiest teams
    (`busiest`: (team id, requests) already counted from the roll-ups)."""
    if busiest is None:
        busiest = list(
            session.execute(
                base.add_columns(AidRequest.team_id, func.count())
                .where(AidRequest.team_id.is_not(None))
                .group_by(AidRequest.team_id)
                .order_by(func.count().desc())
                .limit(limit)
            )
        )
    team_ids = [row[0] for row in busiest]
    if not team_ids:
        return []
    in_teams = base.where(AidRequest.team_id.in_(team_ids))
    # Many requests (an admin's month at a million): the median and p90 of a random sample of
    # about SAMPLE_ROWS of them (whole pages, PostgreSQL's TABLESAMPLE SYSTEM) instead of
    # sorting them all; the counts stay exact.
    counted = sum(int(n) for _team, n in busiest)
    sample = 100.0 * SAMPLE_ROWS / counted if counted > 2 * SAMPLE_ROWS else None
    first = _percentiles(
        session,
        in_teams.where(AidRequest.first_action_at.is_not(None)),
        _hours(AidRequest.first_action_at, AidRequest.created_at, dialect),
        dialect,
        sample,
    )
    resolved = _percentiles(
        session,
        in_teams.where(AidRequest.closed_at.is_not(None)),
        _hours(AidRequest.closed_at, AidRequest.created_at, dialect),
        dialect,
        sample,
    )
    names = dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids))).all())
    return [
        {
            "team_id": team_id,
            "name": names.get(team_id, "—"),
            "count": int(count),
            "first_median": first.get(team_id, (None, None))[0],
            "first_p90": first.get(team_id, (None, None))[1],
            "resolved_median": resolved.get(team_id, (None, None))[0],
            "resolved_p90": resolved.get(team_id, (None, None))[1],
        }
        for team_id, count in busiest
    ]


def build_dashboard(
    *, session: Session, user: User | None, filters: RequestFilters, path: str = "/admin"
) -> Dashboard:
    """Every figure of the dashboard for the user's scope (None: the whole hotline, for the
    daily report), filters and date range (the last 30 days when none is given).
    OutOfScope on a tampered area filter (audited)."""
    check_scope(session=session, user=user, filters=filters, path=path)
    if filters.created_from is None or filters.created_to is None:
        first, last = default_range()
        filters = RequestFilters(**{**filters.__dict__, "created_from": first, "created_to": last})
    if filters.created_from is None:
        raise RuntimeError("filters.created_from is missing")
    if filters.created_to is None:
        raise RuntimeError("filters.created_to is missing")
    dialect = session.get_bind().dialect.name
    now = utcnow()
    base = _base(user, filters, now)
    rollups = uses_rollups(user, filters)
    groups = _rollup_groups(session, filters) if rollups else _raw_groups(session, base, dialect)
    totals = {"total": 0, "open": 0, "overdue": 0, "resolved": 0, "emergencies": 0}
    days: Counter[str] = Counter()
    emergencies: Counter[str] = Counter()
    provinces: Counter[str] = Counter()
    needs: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    # Full groups (every key set) or PostgreSQL's grouping sets (one key set, the others None).
    for d, province, need, status, count, urgent in groups:
        count, urgent = int(count or 0), int(urgent or 0)
        if not count:  # a roll-up row counted down to zero
            continue
        if d is not None:
            days[str(d)] += count
            emergencies[str(d)] += urgent
        if province is not None:
            provinces[province] += count
        if need is not None:
            needs[need] += count
        if status is not None:
            statuses[status] += count
    totals["total"] = sum(statuses.values())
    totals["open"] = sum(statuses[s] for s in OPEN_STATUSES)
    totals["resolved"] = statuses["resolved"]
    totals["emergencies"] = sum(emergencies.values())
    by_day = [(d, days[d], emergencies[d]) for d in sorted(days)]
    by_province = [(code, province_name(code) or code, n) for code, n in provinces.most_common()]
    by_need = needs.most_common()
    by_status = statuses.most_common()

    by_ward = []
    if rollups and not (filters.need or filters.status):
        busiest_wards = (
            select(AidRequestDailyWard.ward_code, func.sum(AidRequestDailyWard.requests))
            .where(*_rollup_days(AidRequestDailyWard.day, filters))
            .group_by(AidRequestDailyWard.ward_code)
            .order_by(func.sum(AidRequestDailyWard.requests).desc())
            .limit(15)
        )
        if filters.province:
            busiest_wards = busiest_wards.where(
                AidRequestDailyWard.province_code == filters.province
            )
    else:
        busiest_wards = (
            base.add_columns(AidRequest.ward_code, func.count())
            .group_by(AidRequest.ward_code)
            .order_by(func.count().desc())
            .limit(15)
        )
    for code, n in session.execute(busiest_wards):
        ward = get_ward(code)
        by_ward.append((code, ward.label if ward else code, int(n)))

    backlog, totals["overdue"] = _backlog(session, user, filters, now)
    teams = _team_times(
        session, base, dialect, busiest=_busiest_teams(session, filters) if rollups else None
    )

    dashboard = Dashboard(
        first_day=filters.created_from,
        last_day=filters.created_to,
        totals=totals,
        by_day=by_day,
        by_province=by_province,
        by_ward=by_ward,
        by_need=by_need,
        by_status=by_status,
        backlog=backlog,
        teams=teams,
    )
    everything = user is None or ward_scope(user) is None
    if everything and not (filters.ward or filters.province):
        dashboard.handoffs_by_day = _handoffs_by_day(session, filters, dialect)
    return dashboard


def uses_rollups(user: User | None, filters: RequestFilters) -> bool:
    """Whether the by-day/area/need/status figures can come from the daily roll-ups: the
    whole hotline or a province (a team member's wards and a single ward are few rows, read
    from the requests through the scope; age and overdue are not in the roll-ups)."""
    everything = user is None or ward_scope(user) is None
    return everything and not (filters.ward or filters.age or filters.overdue)


def _rollup_days(column: Any, filters: RequestFilters) -> list[ColumnElement[bool]]:
    conditions = []
    if filters.created_from is not None:
        conditions.append(column >= filters.created_from)
    if filters.created_to is not None:
        conditions.append(column <= filters.created_to)
    return conditions


def _rollup_conditions(filters: RequestFilters) -> list[ColumnElement[bool]]:
    conditions = _rollup_days(AidRequestDaily.day, filters)
    if filters.province:
        conditions.append(AidRequestDaily.province_code == filters.province)
    if filters.need:
        conditions.append(AidRequestDaily.primary_need == filters.need)
    if filters.status == "open":
        conditions.append(AidRequestDaily.status.in_(OPEN_STATUSES))
    elif filters.status:
        conditions.append(AidRequestDaily.status == filters.status)
    return conditions


def _rollup_groups(session: Session, filters: RequestFilters) -> list[Any]:
    """(day, province, need, status, requests, emergencies) from the daily roll-ups. On
    PostgreSQL one GROUPING SETS query returns only the four breakdowns (a hundred rows, not
    tens of thousands of combinations to add up here)."""
    keys = (
        AidRequestDaily.day,
        AidRequestDaily.province_code,
        AidRequestDaily.primary_need,
        AidRequestDaily.status,
    )
    query = select(
        *keys, func.sum(AidRequestDaily.requests), func.sum(AidRequestDaily.emergencies)
    ).where(*_rollup_conditions(filters))
    if session.get_bind().dialect.name == "postgresql":
        query = query.group_by(func.grouping_sets(*keys))
    else:
        query = query.group_by(*keys)
    return list(session.execute(query))


def _raw_groups(session: Session, base: Select[Any], dialect: str) -> list[Any]:
    """The same groups from the requests themselves (a team member's wards, a ward)."""
    day = _day(AidRequest.created_at, dialect).label("day")
    return list(
        session.execute(
            base.add_columns(
                day,
                AidRequest.province_code,
                AidRequest.primary_need,
                AidRequest.status,
                func.count(),
                func.sum(case((AidRequest.priority == 1, 1), else_=0)),
            ).group_by(
                literal_column("day"),
                AidRequest.province_code,
                AidRequest.primary_need,
                AidRequest.status,
            )
        )
    )


def _busiest_teams(session: Session, filters: RequestFilters, limit: int = 10) -> list[Any]:
    total = func.sum(AidRequestDaily.requests)
    return list(
        session.execute(
            select(AidRequestDaily.team_id, total)
            .where(*_rollup_conditions(filters), AidRequestDaily.team_id != 0)
            .group_by(AidRequestDaily.team_id)
            .having(total > 0)
            .order_by(total.desc())
            .limit(limit)
        )
    )


def _backlog(
    session: Session, user: User | None, filters: RequestFilters, now: datetime
) -> tuple[list[tuple[str, int]], int]:
    """The open backlog by age (whatever the date range) and how many open requests of the
    range are overdue: one pass over open requests only (a partial index holds them)."""
    columns = []
    for _label, start, end in AGE_BUCKETS:
        condition = AidRequest.created_at <= now - timedelta(hours=start)
        if end is not None:
            condition = condition & (AidRequest.created_at > now - timedelta(hours=end))
        columns.append(func.sum(case((condition, 1), else_=0)))
    in_range = and_(*filter_conditions(filters, now)) if filter_conditions(filters, now) else true()
    columns.append(func.sum(case((and_(in_range, overdue_condition(now)), 1), else_=0)))
    open_filters = RequestFilters(**{**filters.__dict__, "created_from": None, "created_to": None})
    row = session.execute(
        _base(user, open_filters, now).where(open_requests()).add_columns(*columns)
    ).one()
    backlog = [(label, int(v or 0)) for (label, _s, _e), v in zip(AGE_BUCKETS, row, strict=False)]
    return backlog, int(row[-1] or 0)


def _handoffs_by_day(
    session: Session, filters: RequestFilters, dialect: str
) -> list[tuple[str, int, int, int]]:
    """Hand-offs to a person per day: all, emergencies, and because the assistant did not
    understand."""
    start, end = day_bounds(filters.created_from, filters.created_to)
    day = _day(HandoffRequest.created_at, dialect)
    query = (
        select(
            day.label("day"),
            func.count(),
            func.sum(case((HandoffRequest.reason == "emergency", 1), else_=0)),
            func.sum(case((HandoffRequest.reason == "misunderstood", 1), else_=0)),
        )
        .group_by(literal_column("day"))
        .order_by(literal_column("day"))
    )
    if start is not None:
        query = query.where(HandoffRequest.created_at >= start)
    if end is not None:
        query = query.where(HandoffRequest.created_at < end)
    return [(str(d), int(n), int(e or 0), int(m or 0)) for d, n, e, m in session.execute(query)]
