"""Erasure and the retention purge as the processes run them: Redis, Rasa and the database.

These are edges (each opens its own database session and commits): the pipeline runs an
erasure after the turn in which the resident confirmed it, the CLI runs both, and the worker
runs the purge once a day.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from datetime import datetime

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.db.session import session_scope
from bot.privacy.registry import RASA_TRACKER_HEAD_KEY
from bot.privacy.service import (
    Erasure,
    Purge,
    TrackerStore,
    audit_purge,
    conversations_older_than,
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
    redis: aioredis.Redis[str],
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
    redis: aioredis.Redis[str],
    tracker_store: TrackerStore | None,
    actor: str,
    dry_run: bool = False,
) -> Purge:
    """Deletes the personal data older than the retention period (PRIVACY_RETENTION_MONTHS),
    with the trackers and Redis keys of the residents it removes; audited unless a dry run."""
    cutoff = retention_cutoff(months=settings.privacy_retention_months)

    def in_database() -> tuple[Purge, list[str]]:
        with session_scope() as session:
            purge = purge_records(session=session, cutoff=cutoff, dry_run=dry_run)
            return purge, conversations_older_than(session=session, cutoff=cutoff)

    purge, long_running = await asyncio.to_thread(in_database)
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
    if tracker_store is not None:
        stored = await _conversations_in_rasa_redis(redis)
        for conversation_id in dict.fromkeys([*long_running, *stored]):
            if conversation_id not in purge.conversation_ids:
                trimmed = await _trim_tracker(tracker_store, conversation_id, cutoff)
                purge.trackers_trimmed += trimmed is True
                purge.trackers_failed += trimmed is None

    def audit() -> None:
        with session_scope() as session:
            audit_purge(session=session, purge=purge, actor=actor)

    await asyncio.to_thread(audit)
    return purge


async def _conversations_in_rasa_redis(redis: aioredis.Redis[str]) -> list[str]:
    """The conversations in Rasa's Redis tracker store (none when Rasa keeps them in memory)."""
    prefix = RASA_TRACKER_HEAD_KEY.split("{", 1)[0]
    return [key[len(prefix) :] async for key in redis.scan_iter(match=f"{prefix}*", count=500)]


async def _trim_tracker(
    tracker_store: TrackerStore, conversation_id: str, cutoff: datetime
) -> bool | None:
    """Drops a kept conversation's events older than the cutoff from Rasa's tracker: True if
    some were, False if none was that old, None if Rasa could not be reached."""
    events = await tracker_store.tracker_events(conversation_id)
    if events is None:
        return None
    kept = [e for e in events if float(e.get("timestamp") or 0) >= cutoff.timestamp()]
    if len(kept) == len(events):
        return False
    return True if await tracker_store.replace_tracker_events(conversation_id, kept) else None


async def purge_daily(
    *,
    settings: Settings,
    redis: aioredis.Redis[str],
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
