"""Daily roll-ups of aid requests: counts per day (Vietnam's date of receipt) × province ×
first need × status × team, and per day × ward, so the dashboard sums a few thousand rows
instead of scanning a million requests.

Kept in the same transaction as the change they count: `count_request` when a request is
created, `track` around anything that changes a counted field (status, first need, priority),
`uncount` before requests are deleted (erasure, retention purge). `rebuild_rollups` recomputes
them from the requests (`hotline dashboard rebuild-rollups`, the demo seed). Counts only: no
personal data.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.orm import Session

from bot.db.upsert import upsert_for
from bot.requests.models import AidRequest, AidRequestDaily, AidRequestDailyWard

VIETNAM_OFFSET = timedelta(hours=7)  # Vietnam has no daylight saving time


@dataclass(frozen=True, order=True)
class RollupKey:
    """Where one request is counted."""

    day: date
    province_code: str
    ward_code: str
    primary_need: str
    status: str
    team_id: int
    emergency: bool


def vietnam_day(moment: datetime) -> date:
    """Vietnam's date of a stored time (SQLite gives it back without a zone: UTC)."""
    if moment.tzinfo is not None:
        moment = moment.replace(tzinfo=None) - (moment.utcoffset() or timedelta())
    return (moment + VIETNAM_OFFSET).date()


def key_of(request: AidRequest) -> RollupKey:
    created = request.created_at
    if created is None:
        raise RuntimeError("the request has no created_at yet (flush it first)")
    return RollupKey(
        day=vietnam_day(created),
        province_code=request.province_code,
        ward_code=request.ward_code,
        primary_need=request.primary_need,
        status=str(request.status),
        team_id=request.team_id or 0,
        emergency=request.priority == 1,
    )


@cache
def _counting_upsert(
    dialect: str, model: Any, keys: tuple[str, ...], counters: tuple[str, ...]
) -> Any:
    """The statement adding to the `counters` of the row at `keys` (created when missing).
    Built once per shape: a save runs it twice, and building and keying it costs more CPU
    than executing it; the values are bound at execution."""
    statement = upsert_for(dialect, model.__table__)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: getattr(model, name) + statement.excluded[name] for name in counters},
    )


def _upsert(
    session: Session,
    model: Any,
    keys: dict[str, Any],
    values: dict[str, int],
    extra: dict[str, Any] | None = None,
) -> None:
    """Adds `values` to the counters of one roll-up row (created with `extra` when missing);
    one atomic statement, so concurrent transactions never lose a count."""
    dialect = session.get_bind().dialect.name
    statement = _counting_upsert(dialect, model, tuple(keys), tuple(values))
    session.connection().execute(statement, {**keys, **values, **(extra or {})})


def _apply(session: Session, key: RollupKey, sign: int) -> None:
    _upsert(
        session,
        AidRequestDaily,
        {
            "day": key.day,
            "province_code": key.province_code,
            "primary_need": key.primary_need,
            "status": key.status,
            "team_id": key.team_id,
        },
        {"requests": sign, "emergencies": sign if key.emergency else 0},
    )
    _upsert(
        session,
        AidRequestDailyWard,
        {"day": key.day, "ward_code": key.ward_code},
        {"requests": sign},
        {"province_code": key.province_code},
    )


def count_request(*, session: Session, request: AidRequest) -> None:
    """Counts a newly saved request (after its flush)."""
    _apply(session, key_of(request), +1)


def move(*, session: Session, before: RollupKey, after: RollupKey) -> None:
    """Moves one request's count from where it was to where it is now (nothing when equal).
    Rows are touched in key order so two transactions cannot deadlock on them."""
    if before == after:
        return
    for key, sign in sorted(((before, -1), (after, +1))):
        _apply(session, key, sign)


@contextmanager
def track(*, session: Session, request: AidRequest) -> Iterator[None]:
    """Around a change of a request: moves its count if a counted field changed."""
    before = key_of(request)
    yield
    move(session=session, before=before, after=key_of(request))


def uncount(*, session: Session, where: ColumnElement[bool]) -> None:
    """Takes the requests matching `where` out of the roll-ups (before they are deleted)."""
    rows = session.execute(
        select(
            AidRequest.created_at,
            AidRequest.province_code,
            AidRequest.ward_code,
            AidRequest.primary_need,
            AidRequest.status,
            AidRequest.team_id,
            AidRequest.priority,
        ).where(where)
    ).all()
    for created, province, ward, need, status, team_id, priority in rows:
        key = RollupKey(
            day=vietnam_day(created),
            province_code=province,
            ward_code=ward,
            primary_need=need,
            status=str(status),
            team_id=team_id or 0,
            emergency=priority == 1,
        )
        _apply(session, key, -1)


def _day_of(column: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return cast(func.timezone("Asia/Ho_Chi_Minh", column), Date)
    return func.date(column, "+7 hours")


def rebuild_rollups(*, session: Session, since: datetime | date | None = None) -> int:
    """Recomputes the roll-ups of every day from `since` (Vietnam's date; None: all) from the
    requests themselves; returns how many roll-up rows were written. Flushes."""
    dialect = session.get_bind().dialect.name
    first_day = vietnam_day(since) if isinstance(since, datetime) else since
    day = _day_of(AidRequest.created_at, dialect)
    source = select(AidRequest)
    if first_day is not None:
        start = (datetime.combine(first_day, time()) - VIETNAM_OFFSET).replace(tzinfo=UTC)
        source = source.where(AidRequest.created_at >= start)
        session.execute(delete(AidRequestDaily).where(AidRequestDaily.day >= first_day))
        session.execute(delete(AidRequestDailyWard).where(AidRequestDailyWard.day >= first_day))
    else:
        session.execute(delete(AidRequestDaily))
        session.execute(delete(AidRequestDailyWard))
    team = func.coalesce(AidRequest.team_id, literal(0))
    counts = (
        source.with_only_columns(
            day.label("day"),
            AidRequest.province_code,
            AidRequest.primary_need,
            AidRequest.status,
            team.label("team_id"),
            func.count().label("requests"),
            func.sum(case((AidRequest.priority == 1, 1), else_=0)).label("emergencies"),
        )
        .group_by(day, AidRequest.province_code, AidRequest.primary_need, AidRequest.status, team)
        .subquery()
    )
    written = session.execute(
        insert(AidRequestDaily).from_select(
            [
                "day",
                "province_code",
                "primary_need",
                "status",
                "team_id",
                "requests",
                "emergencies",
            ],
            select(counts),
        )
    ).rowcount  # type: ignore[attr-defined]
    wards = (
        source.with_only_columns(
            day.label("day"),
            AidRequest.ward_code,
            func.min(AidRequest.province_code).label("province_code"),
            func.count().label("requests"),
        )
        .group_by(day, AidRequest.ward_code)
        .subquery()
    )
    written += session.execute(
        insert(AidRequestDailyWard).from_select(
            ["day", "ward_code", "province_code", "requests"], select(wards)
        )
    ).rowcount  # type: ignore[attr-defined]
    session.flush()
    return int(written)
