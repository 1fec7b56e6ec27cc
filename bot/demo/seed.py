"""`hotline demo seed --requests N`: realistic demo data for the dashboard and the bench.

Residents, aid requests spread over the country's wards (big cities weigh more), needs,
priorities, statuses that depend on age, timestamps over months, first actions and closings,
and hand-offs. Written with COPY on PostgreSQL (INSERTs elsewhere; no history lines): a million
requests take minutes, not hours. Every demo team's slug starts with "demo-".
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.handoff.models import HandoffRequest
from bot.places.wards import ward_index
from bot.requests.codes import ALPHABET, LENGTH
from bot.requests.models import AidRequest, RequestStatus
from bot.requests.rollups import rebuild_rollups
from bot.requests.validation import NEED_TYPES
from bot.residents.models import Resident
from bot.teams.models import Team, TeamLevel

# Rough weights of where requests come from (the two big cities and a few large provinces
# weigh more; every other province 1). Demo data, not statistics.
PROVINCE_WEIGHTS = {"79": 14.0, "01": 9.0, "48": 3.0, "31": 3.0, "92": 2.5, "75": 2.5, "38": 2.0}
NEED_WEIGHTS = {
    "food": 40,
    "medicine": 14,
    "medical_care": 8,
    "water": 6,
    "money": 16,
    "shelter": 6,
    "go_home": 6,
    "other": 4,
}
PRIORITY_WEIGHTS = {1: 8, 2: 22, 3: 40, 4: 30}
# The scores of each level (LEVEL_THRESHOLDS in bot/requests/priority.py).
SCORE_RANGES = {1: (40, 90), 2: (20, 39), 3: (10, 19), 4: (0, 9)}
REASONS = {
    1: ["Đã 2 ngày không có lương thực"],
    2: ["Có thành viên dễ bị tổn thương trong hộ"],
    3: ["Nhu cầu thiết yếu (lương thực, nước, thuốc, y tế)"],
    4: ["Không có yếu tố ưu tiên"],
}
_K = TypeVar("_K")
CHANNEL_WEIGHTS = {"telegram": 55, "zalo": 35, "web": 10}


@dataclass(frozen=True)
class SeedSummary:
    requests: int
    residents: int
    handoffs: int
    teams: int


def _code_space(rng: random.Random, count: int) -> Iterator[str]:
    """Distinct 8-character codes from a random starting point (no draw can collide)."""
    base = len(ALPHABET)
    start = rng.randrange(0, base**LENGTH - count)
    for number in range(start, start + count):
        digits = []
        for _ in range(LENGTH):
            number, rest = divmod(number, base)
            digits.append(ALPHABET[rest])
        yield "".join(reversed(digits))


def _demo_teams(session: Session, provinces: list[str]) -> dict[str, int]:
    """One demo team per province (created once); their ids by province code."""
    existing = {
        team.province_code: team.id
        for team in session.scalars(select(Team).where(Team.slug.like("demo-%")))
        if team.province_code
    }
    names = ward_index().provinces
    for code in provinces:
        if code not in existing:
            team = Team(
                slug=f"demo-{code}",
                name=f"Tổ hỗ trợ (demo) {names.get(code, code)}",
                level=TeamLevel.PROVINCE,
                province_code=code,
                telegram_chat_id=None,
            )
            session.add(team)
            session.flush()
            existing[code] = team.id
    return existing


def _weighted(rng: random.Random, weights: Mapping[_K, float], k: int) -> list[_K]:
    return rng.choices(list(weights), weights=list(weights.values()), k=k)


def _status_for(rng: random.Random, age: timedelta) -> str:
    """Older requests are mostly closed; the last days' mostly open."""
    days = age.total_seconds() / 86400
    closed_share = min(0.92, 0.15 + days / 20)
    if rng.random() < closed_share:
        return RequestStatus.RESOLVED if rng.random() < 0.85 else RequestStatus.REJECTED
    return _weighted(rng, {"assigned": 5.0, "in_progress": 4.0, "new": 1.0}, 1)[0]


def seed_demo(
    *,
    session: Session,
    requests: int,
    days: int = 120,
    seed: int | None = None,
    batch: int = 20_000,
    progress: Callable[[int, int], None] | None = None,
) -> SeedSummary:
    """Adds `requests` demo requests (with residents and hand-offs) over the last `days` days,
    and their daily roll-ups. On PostgreSQL the rows go in with COPY (a million in minutes);
    elsewhere in batches of INSERTs. `progress(done, total)` after each batch. Flushes; the
    caller commits."""
    rng = random.Random(seed if seed is not None else secrets.randbits(32))  # noqa: S311 — jitter, not security
    index = ward_index()
    wards_by_province: dict[str, list[str]] = {}
    for ward in index.wards.values():
        wards_by_province.setdefault(ward.province_code, []).append(ward.code)
    provinces = sorted(wards_by_province)
    province_weights = {p: PROVINCE_WEIGHTS.get(p, 1.0) for p in provinces}
    teams = _demo_teams(session, provinces)
    session.flush()
    codes = _code_space(rng, requests)
    run = secrets.token_hex(3)
    now = utcnow()
    writer = _CopyWriter(session) if session.get_bind().dialect.name == "postgresql" else None
    handoffs = 0
    done = 0
    first_created: datetime | None = None
    while done < requests:
        size = min(batch, requests - done)
        channels = _weighted(rng, CHANNEL_WEIGHTS, size)
        resident_rows = [
            {
                "conversation_id": f"{channel}:demo{run}x{done + i}",
                "channel": channel,
                "reachable": True,
                "last_seen_at": now,
                "created_at": now,
            }
            for i, channel in enumerate(channels)
        ]
        if writer is not None:
            resident_ids = writer.ids("residents", size)
            writer.copy("residents", resident_rows, resident_ids)
        else:
            resident_ids = list(
                session.scalars(
                    insert(Resident).returning(Resident.id, sort_by_parameter_order=True),
                    resident_rows,
                )
            )
        request_rows, handoff_rows = _request_rows(
            rng,
            size=size,
            resident_ids=resident_ids,
            provinces=_weighted(rng, province_weights, size),
            wards_by_province=wards_by_province,
            teams=teams,
            codes=codes,
            now=now,
            days=days,
        )
        oldest = min(row["created_at"] for row in request_rows)
        first_created = oldest if first_created is None else min(first_created, oldest)
        if writer is not None:
            writer.copy("aid_requests", request_rows)
            if handoff_rows:
                writer.copy("handoff_requests", handoff_rows)
        else:
            session.execute(insert(AidRequest), request_rows)
            if handoff_rows:
                session.execute(insert(HandoffRequest), handoff_rows)
        handoffs += len(handoff_rows)
        session.flush()
        done += size
        if progress is not None:
            progress(done, requests)
    if first_created is not None:
        rebuild_rollups(session=session, since=first_created)
    return SeedSummary(requests=requests, residents=requests, handoffs=handoffs, teams=len(teams))


def _request_rows(
    rng: random.Random,
    *,
    size: int,
    resident_ids: list[int],
    provinces: list[str],
    wards_by_province: dict[str, list[str]],
    teams: dict[str, int],
    codes: Iterator[str],
    now: datetime,
    days: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One batch of demo requests (and the hand-offs of some of their residents)."""
    span = timedelta(days=days).total_seconds()
    needs = _weighted(rng, NEED_WEIGHTS, size)
    priorities = _weighted(rng, PRIORITY_WEIGHTS, size)
    request_rows: list[dict[str, Any]] = []
    handoff_rows: list[dict[str, Any]] = []
    for resident_id, province, need, priority in zip(
        resident_ids, provinces, needs, priorities, strict=True
    ):
        # Recent days busier: the power pulls ages towards zero.
        age = timedelta(seconds=span * rng.random() ** 1.6)
        created = now - age
        extra = [n for n in NEED_TYPES if n != need and rng.random() < 0.08]
        status = _status_for(rng, age)
        first_action = (
            None
            if status == RequestStatus.NEW
            else min(now, created + timedelta(hours=rng.expovariate(1 / 6)))
        )
        closed = (
            min(now, first_action + timedelta(hours=rng.expovariate(1 / 30)))
            if first_action and status in (RequestStatus.RESOLVED, RequestStatus.REJECTED)
            else None
        )
        request_rows.append(
            {
                "ref_code": next(codes),
                "resident_id": resident_id,
                "needs": [need, *extra],
                "primary_need": need,
                "description": "Dữ liệu minh họa",
                "household_size": rng.randint(1, 9),
                "vulnerable": [],
                "ward_code": rng.choice(wards_by_province[province]),
                "province_code": province,
                "address_detail": "Địa chỉ minh họa",
                "phone": f"09{rng.randrange(10**8):08d}",
                "priority": priority,
                "priority_score": rng.randint(*SCORE_RANGES[priority]),
                "priority_reasons": REASONS[priority],
                "status": str(status),
                "team_id": teams[province],
                "routing_note": "Dữ liệu minh họa",
                "created_at": created,
                "updated_at": closed or first_action or created,
                "first_action_at": first_action,
                "closed_at": closed,
            }
        )
        if rng.random() < 0.06:
            handoff_rows.append(_handoff(rng, resident_id, created, now))
    return request_rows, handoff_rows


class _CopyWriter:
    """PostgreSQL's COPY through the session's own psycopg connection (same transaction):
    about ten times faster than INSERTs for a million rows."""

    def __init__(self, session: Session) -> None:
        self.session = session
        raw = session.connection().connection.driver_connection
        if raw is None:
            raise RuntimeError("no driver connection")
        self.raw: Any = raw

    def ids(self, table: str, count: int) -> list[int]:
        """`count` fresh ids of the table's sequence (COPY cannot return them)."""
        with self.raw.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                (table, count),
            )
            return [int(r[0]) for r in cursor.fetchall()]

    def copy(self, table: str, rows: list[dict[str, Any]], ids: list[int] | None = None) -> None:
        columns = ([] if ids is None else ["id"]) + list(rows[0])
        json_columns = {k for k, v in rows[0].items() if isinstance(v, list | dict)}
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with self.raw.cursor() as cursor, cursor.copy(sql) as copy:
            for position, row in enumerate(rows):
                values = [
                    json.dumps(v, ensure_ascii=False) if k in json_columns else v
                    for k, v in row.items()
                ]
                copy.write_row(values if ids is None else [ids[position], *values])


def _handoff(
    rng: random.Random, resident_id: int, created: datetime, now: datetime
) -> dict[str, Any]:
    asked = created - timedelta(minutes=rng.randint(1, 30))
    closed = asked + timedelta(minutes=rng.expovariate(1 / 40))
    return {
        "resident_id": resident_id,
        "reason": rng.choice(["asked", "asked", "emergency", "misunderstood"]),
        "status": "closed" if closed < now else "open",
        "created_at": asked,
        "closed_at": closed if closed < now else None,
    }
