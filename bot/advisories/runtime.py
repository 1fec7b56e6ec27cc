"""Running fan-outs: batch by batch, each in its own transaction, so a cancel (committed by
another request) is seen before the next batch."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from bot.advisories.service import (
    BATCH_SIZE,
    due_scheduled,
    fan_out_batch,
    get_advisory,
    start_sending,
)
from bot.db.base import utcnow
from bot.db.session import session_scope

logger = logging.getLogger(__name__)


# Each batch is one transaction and a cancel is seen between batches: the batch size follows
# the database's speed so that a batch takes about this long (a cancel stops within 1 s).
BATCH_SECONDS = 0.4
MIN_BATCH, MAX_BATCH = 1_000, 50_000


def run_fan_out(
    *,
    advisory_id: int,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
    adaptive: bool = True,
) -> int:
    """Queues every copy of a sending advisory; returns the number of batches run
    (`on_batch` is told the last subscription id of each, for progress and the bench).
    With `adaptive`, the next batch is sized so it takes about BATCH_SECONDS."""
    after = 0
    batches = 0
    size = batch_size
    while True:
        started = time.perf_counter()
        with session_scope() as session:
            done = fan_out_batch(
                session=session, advisory_id=advisory_id, after_id=after, batch_size=size
            )
        if done is None:
            return batches
        if adaptive:
            took = max(time.perf_counter() - started, 0.001)
            size = max(MIN_BATCH, min(MAX_BATCH, int(size * BATCH_SECONDS / took)))
        after = done
        batches += 1
        if on_batch is not None:
            on_batch(done)


def start_due(*, batch_size: int = BATCH_SIZE) -> list[int]:
    """Starts the scheduled advisories whose time has come, and fans them out."""
    started = []
    with session_scope() as session:
        for advisory_id in due_scheduled(session=session, now=utcnow()):
            advisory = get_advisory(session=session, advisory_id=advisory_id)
            if advisory is None:
                raise RuntimeError("advisory is missing")
            start_sending(session=session, advisory=advisory, user="system:scheduler")
            started.append(advisory_id)
    for advisory_id in started:
        run_fan_out(advisory_id=advisory_id, batch_size=batch_size)
    return started


async def scheduler_loop(*, stop: asyncio.Event, every_seconds: float = 15.0) -> None:
    """Starts due scheduled advisories until `stop` is set (runs beside the outbound worker)."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(start_due)
        except Exception as exc:  # noqa: BLE001 — keep the loop alive; the next round retries
            logger.error("advisory scheduler failed: %s", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
