"""The inbound job worker: runs each queued turn through the pipeline and sends the replies
through the one outbound sender (same rate limits and retry policy as every other message).

A reply is retried in place while the resident waits, as the retry policy says; one that
cannot be delivered (retries used up, the channel paused) becomes a dead letter in
`outbound_messages` (`hotline outbound list --status dead`, `hotline outbound replay`). The
job is acknowledged only when every reply is sent or recorded. Replies already delivered are
counted in Redis per job, so a job taken over after a crash resumes where it stopped (the
pipeline returns the same replies for the same platform message id). A crash between a send
and that count may repeat one reply: delivery is at least once.

A job that raises (a bug, a malformed job, Redis or the database gone for a moment) is tried
again by the same worker after 2, 4, 8 … s (at most a third of the take-over time), up to
JOB_MAX_ATTEMPTS times in all, then kept as a dead job (`hotline jobs dead`, `hotline jobs
replay`) with an incident, and the resident is sent the "system busy" reply: never a silent
loss, never an endless retry.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from redis.exceptions import LockError

from bot.channels.incidents import set_reachable
from bot.conversations.messages import OutboundReply
from bot.conversations.pipeline import ConversationPipeline, unavailable_reply
from bot.db.session import session_scope
from bot.delivery.queue import Job, JobQueue
from bot.delivery.service import forget_dead_jobs, record_dead_job, replays_requested
from bot.outbound.events import DeliveryEvents, DeliveryStateChanged
from bot.outbound.models import SkipReason
from bot.outbound.policy import Action
from bot.outbound.sender import Attempt, OutboundSender
from bot.outbound.service import dead_letter
from bot.settings import Settings

logger = logging.getLogger(__name__)

PROGRESS_TTL_SECONDS = 24 * 3600
ATTEMPTS_TTL_SECONDS = 7 * 24 * 3600
JOB_MAX_ATTEMPTS = 5
BOT_REPLY = "bot_reply"
# Held in Redis by the worker running a conversation's job, so that two workers never run
# two turns of one resident at once (their replies would interleave).
CONVERSATION_LOCK_PREFIX = "joblock:"


def _set_reachable(conversation_id: str, reachable: bool) -> None:
    with session_scope() as session:
        set_reachable(session=session, conversation_id=conversation_id, reachable=reachable)


def _address(conversation_id: str) -> str:
    return conversation_id.split(":", 1)[1]


class ChannelNotConfigured(RuntimeError):
    """This worker has no connector for the job's channel (another worker may have one)."""


def _dead_letter_replies(
    entry_id: str, job: Job, replies: list[tuple[str, OutboundReply]], error: str
) -> list[DeliveryStateChanged]:
    with session_scope() as session:
        return [
            DeliveryStateChanged.of(
                dead_letter(
                    session=session,
                    channel=job.channel,
                    address=_address(job.conversation_id),
                    reply=reply,
                    kind=BOT_REPLY,
                    conversation_id=job.conversation_id,
                    dedupe_key=f"job:{entry_id}:{index}",
                    error=error,
                )
            )
            for index, reply in replies
        ]


def _record_dead_job(entry_id: str, job: Job, error: str, attempts: int) -> None:
    with session_scope() as session:
        record_dead_job(session=session, entry_id=entry_id, job=job, error=error, attempts=attempts)


class DeliveryWorker:
    """Consumes the job queue; one instance per process (in the web app or `hotline worker`)."""

    def __init__(
        self,
        *,
        settings: Settings,
        queue: JobQueue,
        pipeline: ConversationPipeline,
        sender: OutboundSender,
        events: DeliveryEvents | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._queue = queue
        self._pipeline = pipeline
        self._sender = sender
        self._events = events or DeliveryEvents()
        self._sleep = sleep
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
                    # …jobs of a worker that died (or that failed here) are adopted…
                    for entry_id, job in await self._queue.take_over(
                        self.consumer, idle_ms=idle_ms, count=100
                    ):
                        if entry_id not in self._in_flight:
                            await self._start(entry_id, job)
                    # …and dead jobs an operator asked to replay go back on the queue.
                    await self.requeue_replays()
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

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 — the caller's bound on a wait, not a per-call timeout
        """Stops reading and waits for the jobs under way (unfinished ones stay pending)."""
        self._stopping.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()

    async def requeue_replays(self) -> int:
        """Puts the dead jobs an operator asked to replay back on the queue."""

        def requested() -> list[tuple[int, Job]]:
            with session_scope() as session:
                return replays_requested(session=session)

        def forget(ids: list[int]) -> None:
            with session_scope() as session:
                forget_dead_jobs(session=session, ids=ids)

        taken = await asyncio.to_thread(requested)
        for _, job in taken:
            await self._queue.put(job)
        if taken:
            await asyncio.to_thread(forget, [dead_id for dead_id, _ in taken])
            logger.info("%d dead jobs put back on the queue", len(taken))
        return len(taken)

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
            # One job at a time per conversation keeps a resident's replies in order: in this
            # process, and across the workers sharing the queue.
            async with self._conversation_locks[key], self._hold_conversation(key):
                await self.process(entry_id, job)
            await self._queue.ack(entry_id)
            await self._queue.redis.delete(f"attempts:{entry_id}")
        except asyncio.CancelledError:
            raise  # stopping: the job stays pending and is taken over later
        except Exception as exc:  # noqa: BLE001 — every failure is handled here on purpose
            await self._failed(entry_id, job, exc)
        finally:
            self._in_flight.discard(entry_id)
            self._slots.release()
            self._lock_users[key] -= 1
            if self._lock_users[key] == 0:  # nobody holds or waits for it
                del self._lock_users[key]
                self._conversation_locks.pop(key, None)

    @asynccontextmanager
    async def _hold_conversation(self, conversation_id: str) -> AsyncIterator[None]:
        """Holds the conversation for this worker while it runs a job (only with a real Redis:
        the stand-in is this process's own, and the local lock is enough).

        The hold expires after WORKER_CLAIM_IDLE_SECONDS, when a dead worker's job may be taken
        over anyway; a job that runs longer (replies retried for minutes) loses it, and the
        conversation's next job may then start before it ends.
        """
        if not self._settings.redis_url:
            yield
            return
        lock = self._queue.redis.lock(
            f"{CONVERSATION_LOCK_PREFIX}{conversation_id}",
            timeout=self._settings.worker_claim_idle_seconds,
            sleep=0.05,
        )
        await lock.acquire()
        try:
            yield
        finally:
            with suppress(LockError):  # expired meanwhile: nothing to release
                await lock.release()

    async def _failed(self, entry_id: str, job: Job, exc: Exception) -> None:
        """Counts a failed try; the last one makes the job a dead letter."""
        error = type(exc).__name__
        key = f"attempts:{entry_id}"
        attempts = int(await self._queue.redis.incr(key))
        await self._queue.redis.expire(key, ATTEMPTS_TTL_SECONDS)
        if attempts < JOB_MAX_ATTEMPTS:
            logger.warning(
                "job %s on %s failed (%s), try %d/%d",
                entry_id,
                job.channel,
                error,
                attempts,
                JOB_MAX_ATTEMPTS,
                exc_info=exc,
            )
            # Tried again here after a short pause: a Redis restart or a database failover is
            # usually over in seconds, and the take-over time (WORKER_CLAIM_IDLE_SECONDS, 2 min)
            # is for workers that died. If this one dies meanwhile, the job is taken over.
            delay = min(2.0**attempts, self._settings.worker_claim_idle_seconds / 3)
            task = asyncio.create_task(self._retry_later(entry_id, job, delay))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        logger.error(
            "job %s on %s failed %d times (%s): moved to the dead letters",
            entry_id,
            job.channel,
            attempts,
            error,
            exc_info=exc,
        )
        try:
            await asyncio.to_thread(_record_dead_job, entry_id, job, error, attempts)
        except Exception:
            logger.exception("could not keep dead job %s; it stays pending", entry_id)
            return
        await self._queue.ack(entry_id)
        await self._queue.redis.delete(key)
        if job.kind == "turn":  # the resident is not left in silence
            await self._send(entry_id, job, [(0, unavailable_reply())], dead_key="busy")

    async def _retry_later(self, entry_id: str, job: Job, delay: float) -> None:
        # "In flight" while it waits: kept alive, so neither this worker's nor another's
        # take-over runs it a second time.
        self._in_flight.add(entry_id)
        try:
            await asyncio.sleep(delay)
        finally:
            self._in_flight.discard(entry_id)
        if not self._stopping.is_set():
            await self._start(entry_id, job)

    async def process(self, entry_id: str, job: Job) -> None:
        """Runs one job to its end: every reply delivered, or recorded as not deliverable."""
        if job.kind == "unreachable":
            await asyncio.to_thread(_set_reachable, job.conversation_id, False)
            return
        if job.context.get("follow"):  # followed (again): the OA may message them
            await asyncio.to_thread(_set_reachable, job.conversation_id, True)
        connector = self._sender.channels.get(job.channel)
        if connector is None:
            raise ChannelNotConfigured(job.channel)
        # Before anything else: a button press shows a spinner until it is answered, whether
        # it starts a turn or only gets a fixed reply (a press in a team's group).
        await connector.acknowledge(address=_address(job.conversation_id), context=job.context)
        if job.kind == "turn" and job.message is not None:
            replies = await self._pipeline.handle(job.message)
        else:
            replies = job.replies
        progress_key = f"sent:{entry_id}"
        done = int(await self._queue.redis.get(progress_key) or 0)
        await self._send(entry_id, job, list(enumerate(replies))[done:], progress_key=progress_key)
        await self._queue.redis.delete(progress_key)

    async def _send(
        self,
        entry_id: str,
        job: Job,
        replies: list[tuple[int, OutboundReply]],
        *,
        progress_key: str | None = None,
        dead_key: str = "",
    ) -> None:
        """Sends a job's replies in order; what cannot be sent is recorded (see the module)."""
        for position, (index, reply) in enumerate(replies):
            result = await self._sender.deliver(
                channel=job.channel,
                address=_address(job.conversation_id),
                reply=reply,
                conversation_id=job.conversation_id,
                context={**job.context, "job_id": entry_id},
                sleep=self._sleep,
                while_waiting=lambda: self._queue.keep_alive(self.consumer, entry_id),
            )
            if progress_key is not None:
                await self._queue.redis.set(progress_key, index + 1, ex=PROGRESS_TTL_SECONDS)
            if not self._carry_on(result):
                if result.decision is not None and result.decision.action in (
                    Action.DEAD,
                    Action.PAUSE,
                ):
                    rest = [(f"{dead_key}{i}", r) for i, r in replies[position:]]
                    for event in await asyncio.to_thread(
                        _dead_letter_replies, entry_id, job, rest, result.error or "-"
                    ):
                        await self._events.publish(event)
                return

    @staticmethod
    def _carry_on(result: Attempt) -> bool:
        """Whether the next replies of the job are still worth sending."""
        if result.decision is None:
            return True
        if result.decision.action is Action.SKIP:
            # A refused message does not stop the next; a resident out of reach does.
            return result.decision.reason in (SkipReason.REJECTED, SkipReason.NO_CHANNEL)
        return False
