"""Erasure and the retention purge as the processes run them: Redis, Rasa and the database.

These are edges (each opens its own database session and commits): the pipeline runs an
erasure after the turn in which the resident confirmed it, the CLI runs both, and the worker
runs the purge once a day.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.db.session import session_scope
from bot.privacy.service import (
    Erasure,
    Purge,
    TrackerStore,
    audit_purge,
    erase_keys,
    erase_outside_database,
    erase_personal_data,
    purge_records,
    retention_cutoff,
)
from bot.settings import Settings

logger = logging.getLogger(__name__)

ERASE_COMMAND = "erase_personal_data"
PURGE_MARK_KEY = "privacy:purged"  # set for one interval after each retention purge


async def erase_conversation(
    *,
    settings: Settings,
    redis: aioredis.Redis,
    tracker_store: TrackerStore | None,
    conversation_id: str,
    actor: str,
) -> Erasure:
    """Erases everything the registry lists for one conversation, and audits it.

    Must run after Rasa finished the turn: Rasa saves its tracker at the end of a turn, which
    would write the erased events back.
    """
    erasure = await erase_outside_database(
        redis=redis,
        tracker_store=tracker_store,
        conversation_id=conversation_id,
        jobs_stream=settings.jobs_stream,
    )

    def in_database() -> Erasure:
        with session_scope() as session:
            return erase_personal_data(
                session=session, conversation_id=conversation_id, actor=actor, erasure=erasure
            )

    return await asyncio.to_thread(in_database)


async def purge_expired(
    *,
    settings: Settings,
    redis: aioredis.Redis,
    tracker_store: TrackerStore | None,
    actor: str,
    dry_run: bool = False,
) -> Purge:
    """Deletes the personal data older than the retention period (PRIVACY_RETENTION_MONTHS),
    with the trackers and Redis keys of the residents it removes; audited unless a dry run."""
    cutoff = retention_cutoff(months=settings.privacy_retention_months)

    def in_database() -> Purge:
        with session_scope() as session:
            return purge_records(session=session, cutoff=cutoff, dry_run=dry_run)

    purge = await asyncio.to_thread(in_database)
    if dry_run:
        return purge
    for conversation_id in purge.conversation_ids:
        purge.keys += await erase_keys(
            redis=redis, conversation_id=conversation_id, jobs_stream=settings.jobs_stream
        )
        if tracker_store is not None:
            if await tracker_store.erase_tracker(conversation_id):
                purge.trackers += 1
            else:
                purge.trackers_failed += 1

    def audit() -> None:
        with session_scope() as session:
            audit_purge(session=session, purge=purge, actor=actor)

    await asyncio.to_thread(audit)
    return purge


async def purge_daily(
    *,
    settings: Settings,
    redis: aioredis.Redis,
    tracker_store: TrackerStore | None,
    stop: asyncio.Event,
) -> None:
    """Runs the retention purge once every PRIVACY_PURGE_INTERVAL_HOURS until `stop`.

    A Redis key marks the last run, so a restarted worker does not wait a whole interval
    again and several workers do not purge at once. The first look comes after a pause (up
    to an hour), not at start, so a short-lived process (a test) leaves the data alone.
    """
    interval = settings.privacy_purge_interval_hours * 3600
    pause = min(interval, 3600.0)
    while not stop.is_set():
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=pause)
        if stop.is_set():
            return
        try:
            if not await redis.set(PURGE_MARK_KEY, "1", nx=True, ex=max(1, int(interval))):
                continue  # purged within the interval (by this or another worker)
            purge = await purge_expired(
                settings=settings, redis=redis, tracker_store=tracker_store, actor="system:purge"
            )
            logger.info(
                "retention purge: %d rows, %d residents",
                sum(purge.rows.values()),
                len(purge.conversation_ids),
            )
        except Exception:  # the worker must outlive a failed run (database down, …)
            logger.exception("retention purge failed")
            with suppress(RedisError):
                await redis.delete(PURGE_MARK_KEY)  # try again at the next look
