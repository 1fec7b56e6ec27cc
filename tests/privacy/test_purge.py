"""The retention the consent texts promise (12 months), enforced: `purge` deletes what is
older, keeps what is not, and the worker runs it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.consents.models import Consent
from bot.db.base import utcnow
from bot.privacy.runtime import PURGE_MARK_KEY, purge_daily, purge_expired
from bot.privacy.service import describe_personal_data, purge_records, retention_cutoff
from bot.requests.models import AidRequest
from bot.requests.service import submit_aid_request
from bot.residents.models import Resident
from bot.settings import Settings
from tests.privacy.factories import (
    STREAM,
    age_everything,
    fill_everything,
    fill_redis,
    rows_by_table,
)
from tests.requests.factories import aid_in

OLD = "telegram:1000001"  # last seen 13 months ago
NEW = "telegram:1000002"  # active today
KEEPER = "telegram:1000003"  # active, with an old request and a new one under an old consent


@pytest.mark.parametrize(
    ("now", "months", "expected"),
    [
        (datetime(2026, 11, 27, 9, tzinfo=UTC), 12, datetime(2025, 11, 27, 9, tzinfo=UTC)),
        (datetime(2026, 3, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2024, 3, 31, tzinfo=UTC), 1, datetime(2024, 2, 29, tzinfo=UTC)),
        (datetime(2026, 1, 15, tzinfo=UTC), 13, datetime(2024, 12, 15, tzinfo=UTC)),
    ],
)
def test_the_cutoff_is_calendar_months_back(now, months, expected) -> None:
    assert retention_cutoff(months=months, now=now) == expected


def _scene(session: Session) -> tuple[dict[str, int], int]:
    """OLD: everything 13 months old. NEW: everything today. KEEPER: active, one request 13
    months old, and a request of today given under a consent of 13 months ago."""
    long_ago = utcnow() - timedelta(days=400)
    fill_everything(session, NEW, team_slug="purge-team")
    new_rows = rows_by_table(session)
    fill_everything(session, OLD, team_slug="purge-team")
    age_everything(session, OLD, long_ago)
    fill_everything(session, KEEPER, team_slug="purge-team")
    age_everything(session, KEEPER, long_ago)
    old_consent = session.scalar(
        select(Consent.id).join(Resident).where(Resident.conversation_id == KEEPER)
    )
    fresh = submit_aid_request(
        session=session,
        conversation_id=KEEPER,
        data=aid_in(needs=["medicine"], phone="0987654321"),
        consent_id=old_consent,
    )
    session.execute(
        update(Resident).where(Resident.conversation_id == KEEPER).values(last_seen_at=utcnow())
    )
    session.flush()
    return new_rows, fresh.request.id


def test_purge_deletes_what_is_older_than_the_retention_and_keeps_the_rest(
    session: Session,
) -> None:
    new_rows, fresh_id = _scene(session)
    before = rows_by_table(session)
    cutoff = retention_cutoff(months=12)

    dry = purge_records(session=session, cutoff=cutoff, dry_run=True)
    assert rows_by_table(session) == before  # a dry run deletes nothing
    real = purge_records(session=session, cutoff=cutoff)
    assert real.rows == dry.rows
    assert real.conversation_ids == dry.conversation_ids == [OLD]

    assert describe_personal_data(session=session, conversation_id=OLD) == []
    assert describe_personal_data(session=session, conversation_id=NEW)  # untouched
    # KEEPER keeps the resident row, today's request and the consent it was given under.
    kept = session.scalars(
        select(AidRequest.id).join(Resident).where(Resident.conversation_id == KEEPER)
    ).all()
    assert kept == [fresh_id]
    consent_of_fresh = session.scalar(
        select(AidRequest.consent_id).where(AidRequest.id == fresh_id)
    )
    assert consent_of_fresh is not None
    assert session.get(Consent, consent_of_fresh) is not None
    after = rows_by_table(session)
    assert after["residents"] == 2
    assert after["aid_requests"] == new_rows["aid_requests"] + 1
    assert after["health_declarations"] == new_rows["health_declarations"]


async def test_purge_with_redis_erases_the_keys_of_the_residents_it_removes_and_audits(
    session: Session, redis
) -> None:
    _scene(session)
    await fill_redis(redis, OLD)
    await fill_redis(redis, NEW)
    settings = Settings(_env_file=None, jobs_stream=STREAM)  # type: ignore[call-arg]

    dry = await purge_expired(
        settings=settings, redis=redis, tracker_store=None, actor="cli:test", dry_run=True
    )
    assert dry.keys == 0
    assert await redis.keys(f"turn:{OLD}:*")
    purge = await purge_expired(
        settings=settings, redis=redis, tracker_store=None, actor="cli:test"
    )
    assert purge.conversation_ids == [OLD]
    assert purge.keys == 8
    assert await redis.keys(f"*{OLD}*") == []
    assert await redis.keys(f"turn:{NEW}:*")
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "privacy.purged"))
    assert event is not None
    assert event.detail["rows"] == purge.rows
    assert event.detail["residents"] == 1
    assert "telegram" not in str(event.detail)


async def test_the_worker_runs_the_purge_once_per_interval(session: Session, redis) -> None:
    _scene(session)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, jobs_stream=STREAM, privacy_purge_interval_hours=0.5 / 3600
    )
    stop = asyncio.Event()
    task = asyncio.create_task(
        purge_daily(settings=settings, redis=redis, tracker_store=None, stop=stop)
    )
    # The mark is set as a run starts; a stop lets the run finish. (The database is only
    # read once the worker is done: it shares the test's connection.)
    async with asyncio.timeout(20):
        while await redis.get(PURGE_MARK_KEY) is None:  # noqa: ASYNC110 — a Redis key, no Event to wait on
            await asyncio.sleep(0.05)
    stop.set()
    await task
    assert describe_personal_data(session=session, conversation_id=OLD) == []
    assert describe_personal_data(session=session, conversation_id=NEW)
    runs = session.scalars(select(AuditEvent).where(AuditEvent.action == "privacy.purged")).all()
    assert len(runs) == 1


def test_a_resident_quiet_for_a_year_stays_while_their_recent_data_does(
    session: Session,
) -> None:
    quiet = "telegram:1000004"
    fill_everything(session, quiet, team_slug="quiet-team")
    session.execute(
        update(Resident)
        .where(Resident.conversation_id == quiet)
        .values(last_seen_at=utcnow() - timedelta(days=400))
    )
    session.flush()
    before = rows_by_table(session)
    purge = purge_records(session=session, cutoff=retention_cutoff(months=12))
    assert purge.rows == {}
    assert purge.conversation_ids == []
    assert rows_by_table(session) == before
