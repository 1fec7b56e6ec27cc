"""The delivery worker: runs each queued turn through the pipeline and sends the replies.

Every reply is retried with exponential backoff (and the platform's `retry_after`) until it
is delivered or `delivery_max_attempts` is used up; the job is acknowledged only then. Replies
already delivered are counted in Redis per job, so a job taken over after a crash resumes
where it stopped (the pipeline returns the same replies for the same platform message id).
A crash between a send and that count may repeat one reply: delivery is at least once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.conversations.messages import OutboundReply
from bot.conversations.pipeline import ConversationPipeline
from bot.db.session import session_scope
from bot.delivery.models import IncidentKind
from bot.delivery.queue import Job, JobQueue
from bot.delivery.ratelimit import RateLimiter
from bot.delivery.service import record_incident, set_reachable
from bot.settings import Settings
from connectors.base import (
    Channel,
    DeliveryError,
    OutsideWindow,
    Rejected,
    RetryLater,
    Unreachable,
)

logger = logging.getLogger(__name__)

PROGRESS_TTL_SECONDS = 24 * 3600


def _record(
    *,
    channel: str,
    kind: IncidentKind,
    conversation_id: str | None,
    code: str | None = None,
    detail: str = "",
    unreachable: bool = False,
) -> None:
    with session_scope() as session:
        record_incident(
            session=session,
            channel=channel,
            kind=kind,
            conversation_id=conversation_id,
            code=code,
            detail=detail,
        )
        if unreachable and conversation_id:
            set_reachable(session=session, conversation_id=conversation_id, reachable=False)


def _set_reachable(conversation_id: str, reachable: bool) -> None:
    with session_scope() as session:
        set_reachable(session=session, conversation_id=conversation_id, reachable=reachable)


class DeliveryWorker:
    """Consumes the job queue; one instance per process (in the web app or `hotline worker`)."""

    def __init__(
        self,
        *,
        settings: Settings,
        queue: JobQueue,
        pipeline: ConversationPipeline,
        channels: Mapping[str, Channel],
        limiters: Mapping[str, RateLimiter],
        sleep: Callable[[float], Any] = asyncio.sleep,
        on_delivered: Callable[[Job, str], Awaitable[None]] | None = None,
    ) -> None:
        self._settings = settings
        self._queue = queue
        self._pipeline = pipeline
        self._channels = channels
        self._limiters = limiters
        self._sleep = sleep
        # Told how each reply ended ("sent", "outside_window", "unreachable", "rejected",
        # "failed"): the console shows a staff message's delivery state in the thread.
        self._on_delivered = on_delivered
        self.consumer = f"worker-{uuid.uuid4().hex[:8]}"
        self._slots = asyncio.Semaphore(settings.worker_concurrency)
        self._conversation_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._lock_users: defaultdict[str, int] = defaultdict(int)
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Reads and processes jobs until stop() is called."""
        await self._queue.ensure_group()
        idle_ms = int(self._settings.worker_claim_idle_seconds * 1000)
        loop = asyncio.get_running_loop()
        next_claim = 0.0
        while not self._stopping.is_set():
            try:
                if loop.time() >= next_claim:
                    next_claim = loop.time() + self._settings.worker_claim_idle_seconds / 3
                    # Ours still under way (waiting behind a resident's earlier messages, or
                    # retrying) must not look abandoned to the other workers…
                    await self._queue.keep_alive(self.consumer, *self._in_flight)
                    # …and jobs of a worker that died are adopted.
                    for entry_id, job in await self._queue.take_over(
                        self.consumer, idle_ms=idle_ms, count=100
                    ):
                        if entry_id not in self._in_flight:
                            await self._start(entry_id, job)
                await self._slots.acquire()
                self._slots.release()
                for entry_id, job in await self._queue.read(
                    self.consumer, count=self._settings.worker_concurrency, block_ms=200
                ):
                    await self._start(entry_id, job)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("worker loop error; retrying in 1 s")
                await asyncio.sleep(1)

    async def stop(self, timeout: float = 10.0) -> None:
        """Stops reading and waits for the jobs under way (unfinished ones stay pending)."""
        self._stopping.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()

    async def _start(self, entry_id: str, job: Job) -> None:
        await self._slots.acquire()
        self._in_flight.add(entry_id)
        task = asyncio.create_task(self._process(entry_id, job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process(self, entry_id: str, job: Job) -> None:
        key = job.conversation_id
        self._lock_users[key] += 1
        try:
            # One job at a time per conversation keeps a resident's replies in order.
            async with self._conversation_locks[key]:
                await self.process(entry_id, job)
            await self._queue.ack(entry_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Left pending: another worker (or this one, later) takes it over.
            logger.exception("job %s failed on %s", entry_id, job.channel)
        finally:
            self._in_flight.discard(entry_id)
            self._slots.release()
            self._lock_users[key] -= 1
            if self._lock_users[key] == 0:  # nobody holds or waits for it
                del self._lock_users[key]
                self._conversation_locks.pop(key, None)

    async def process(self, entry_id: str, job: Job) -> None:
        """Runs one job to its end: every reply delivered, or recorded as not deliverable."""
        channel = self._channels.get(job.channel)
        if job.kind == "unreachable":
            await asyncio.to_thread(_set_reachable, job.conversation_id, False)
            return
        if job.context.get("follow"):  # followed (again): the OA may message them
            await asyncio.to_thread(_set_reachable, job.conversation_id, True)
        if channel is None:
            logger.error("no connector for channel %s; job dropped", job.channel)
            return
        if job.kind == "turn" and job.message is not None:
            try:
                await channel.before_turn(conversation_id=job.conversation_id, context=job.context)
            except DeliveryError as exc:
                logger.info("before_turn on %s failed: %s", job.channel, exc.reason)
            replies = await self._pipeline.handle(job.message)
        else:
            replies = job.replies
        progress_key = f"sent:{entry_id}"
        done = int(await self._queue.redis.get(progress_key) or 0)
        for index, reply in enumerate(replies):
            if index < done:
                continue
            outcome = await self._deliver(entry_id, job, channel, reply)
            await self._queue.redis.set(progress_key, index + 1, ex=PROGRESS_TTL_SECONDS)
            if self._on_delivered is not None:
                try:
                    await self._on_delivered(job, outcome)
                except Exception:  # the reply is out; a failed bookkeeping must not resend it
                    logger.exception("delivery hook failed on %s", job.channel)
            if outcome in ("outside_window", "unreachable"):  # cannot be reached: skip the rest
                break
        await self._queue.redis.delete(progress_key)

    def _backoff(self, attempt: int) -> float:
        base = self._settings.delivery_backoff_base_seconds
        delay = min(self._settings.delivery_backoff_max_seconds, base * 2 ** (attempt - 1))
        return float(delay * (0.5 + random.random() / 2))  # jitter spreads the retries

    async def _deliver(
        self, entry_id: str, job: Job, channel: Channel, reply: OutboundReply
    ) -> str:
        """Sends one reply with retries; returns "sent", "outside_window", "unreachable",
        "rejected" or "failed"."""
        limiter = self._limiters.get(job.channel)
        attempts = self._settings.delivery_max_attempts
        last: DeliveryError | None = None
        for attempt in range(1, attempts + 1):
            if limiter is not None:
                await limiter.acquire(job.conversation_id)
            try:
                await channel.send(
                    conversation_id=job.conversation_id,
                    reply=reply,
                    context={**job.context, "job_id": entry_id},
                )
                return "sent"
            except RetryLater as exc:
                last = exc
                delay = (
                    max(exc.after, self._backoff(attempt)) if exc.after else self._backoff(attempt)
                )
                logger.info(
                    "send on %s failed (%s), attempt %d/%d, retry in %.2f s",
                    job.channel,
                    exc.reason,
                    attempt,
                    attempts,
                    delay,
                )
            except (OutsideWindow, Unreachable) as exc:
                # Neither gets better by retrying: record it for the admins and stop.
                unreachable = isinstance(exc, Unreachable)
                kind = IncidentKind.UNREACHABLE if unreachable else IncidentKind.OUTSIDE_WINDOW
                logger.warning("%s: resident %s (%s)", job.channel, kind, exc.code)
                await asyncio.to_thread(
                    _record,
                    channel=job.channel,
                    kind=kind,
                    conversation_id=job.conversation_id,
                    code=exc.code,
                    detail=exc.reason,
                    unreachable=unreachable,
                )
                return "unreachable" if unreachable else "outside_window"
            except Rejected as exc:
                logger.error("%s rejected a reply (%s): %s", job.channel, exc.code, exc.reason)
                await asyncio.to_thread(
                    _record,
                    channel=job.channel,
                    kind=IncidentKind.REJECTED,
                    conversation_id=job.conversation_id,
                    code=exc.code,
                    detail=exc.reason,
                )
                return "rejected"
            if attempt < attempts:
                await self._sleep(delay)
                await self._queue.keep_alive(self.consumer, entry_id)
        logger.error("%s: reply not delivered after %d attempts", job.channel, attempts)
        await asyncio.to_thread(
            _record,
            channel=job.channel,
            kind=IncidentKind.UNDELIVERABLE,
            conversation_id=job.conversation_id,
            code=last.code if last else None,
            detail=last.reason if last else "",
        )
        return "failed"
