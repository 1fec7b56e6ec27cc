"""The inbound job queue: a Redis stream with one consumer group.

A webhook adds a job and answers; a worker reads it, runs the turn and sends the replies, and
acknowledges it only then. A job whose worker died stays pending and is taken over by another
worker after `worker_claim_idle_seconds` (XAUTOCLAIM), so nothing is lost between the webhook's
200 and the last reply.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, ResponseError

from bot.conversations.messages import InboundMessage, OutboundReply

logger = logging.getLogger(__name__)

STREAM = "hotline:jobs"
PUT_BATCH = 500  # events queued in one round trip at most
GROUP = "workers"
# Webhook dedupe (Telegram update_id, Zalo msg_id): an event seen within a day is acknowledged
# and dropped.
EVENT_TTL_SECONDS = 24 * 3600
# Queues an event's job and marks the event seen, in one round trip and as one step (a script
# runs alone): a Redis that stops between the two cannot keep the mark without the job, which
# would drop the platform's retry as a duplicate (acknowledged, never answered). The job first:
# a failing XADD leaves no mark.
_PUT_ONCE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return false
end
local entry = redis.call('XADD', KEYS[2], '*', 'job', ARGV[2])
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
return entry
"""
_PUT_ONCE_SHA = hashlib.sha1(_PUT_ONCE.encode()).hexdigest()  # noqa: S324 — Redis names scripts so


@dataclass
class Job:
    """One unit of work: a resident's message (kind "turn"), fixed replies ("replies", e.g. a
    welcome), or a follow-state change ("unreachable")."""

    kind: str
    channel: str
    conversation_id: str
    message: InboundMessage | None = None
    replies: list[OutboundReply] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)  # channel details (callback id…)

    def dumps(self) -> str:
        return json.dumps(
            {
                "kind": self.kind,
                "channel": self.channel,
                "conversation_id": self.conversation_id,
                "message": self.message.as_dict() if self.message else None,
                "replies": [r.as_dict() for r in self.replies],
                "context": self.context,
            },
            ensure_ascii=False,
        )

    @classmethod
    def loads(cls, raw: str) -> Job:
        data = json.loads(raw)
        return cls(
            kind=data["kind"],
            channel=data["channel"],
            conversation_id=data["conversation_id"],
            message=InboundMessage.from_dict(data["message"]) if data.get("message") else None,
            replies=[OutboundReply.from_dict(r) for r in data.get("replies") or []],
            context=dict(data.get("context") or {}),
        )


class _NoScripting(Exception):
    """This Redis runs no Lua (the in-process stand-in): queue with two plain commands."""


def _no_lua(result: object) -> bool:
    text = str(result).lower()
    return isinstance(result, ResponseError) and ("unknown command" in text or "lua" in text)


class JobQueue:
    """Adds, reads, takes over and acknowledges jobs."""

    def __init__(self, redis: aioredis.Redis[str], *, stream: str = STREAM) -> None:
        self.redis = redis
        self.stream = stream
        self._scripting = True  # False: the in-process stand-in without Lua
        # Events waiting for the next round trip, and the task making it (see put_once).
        self._waiting: list[tuple[str, str, asyncio.Future[str | None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def put_once(self, channel: str, event_id: str, job: Job) -> str | None:
        """Queues the job of a platform event the first time the event is seen (within a
        day); None for a repeated event. Raises RedisError when it could not be queued.

        Deliveries that arrive while a round trip to Redis is under way wait for the next one
        and go together in a pipeline: 200 arriving at once cost a few round trips, not 200
        (and not 200 new connections from the pool). Each script still runs on its own."""
        key = f"event:{channel}:{event_id}"
        if self._scripting:
            done: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
            self._waiting.append((key, job.dumps(), done))
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.create_task(self._flush())
            try:
                return await asyncio.shield(done)
            except _NoScripting:
                pass
        if not await self.first_delivery(channel, event_id):
            return None
        try:
            return await self.put(job)
        except BaseException:
            await self.forget_event(channel, event_id)  # the platform will deliver it again
            raise

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:PUT_BATCH], self._waiting[PUT_BATCH:]
            try:
                results = await self._run_batch(batch)
            except Exception as exc:  # noqa: BLE001 — handed to every waiting delivery
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (*_, done), result in zip(batch, results, strict=True):
                if done.done():
                    continue
                if isinstance(result, BaseException):
                    done.set_exception(result)
                else:
                    done.set_result(str(result) if result else None)

    async def _run_batch(
        self, batch: list[tuple[str, str, asyncio.Future[str | None]]]
    ) -> list[Any]:
        """One pipeline of the script, one result (or error) per event."""
        for _ in range(2):
            pipe = self.redis.pipeline(transaction=False)
            for key, raw, _done in batch:
                pipe.evalsha(_PUT_ONCE_SHA, 2, key, self.stream, EVENT_TTL_SECONDS, raw)
            try:
                results = list(await pipe.execute(raise_on_error=False))
            finally:
                await pipe.reset()
            if results and all(_no_lua(r) for r in results):
                self._scripting = False
                raise _NoScripting
            if not all(isinstance(r, NoScriptError) for r in results):
                return results
            # A restarted Redis has forgotten the script (none of the batch ran): load it.
            await self.redis.script_load(_PUT_ONCE)
        return results

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def first_delivery(self, channel: str, event_id: str) -> bool:
        """True the first time a platform event id is seen (within a day)."""
        key = f"event:{channel}:{event_id}"
        return bool(await self.redis.set(key, "1", nx=True, ex=EVENT_TTL_SECONDS))

    async def forget_event(self, channel: str, event_id: str) -> None:
        """Lets the platform's retry through when we could not queue the event."""
        await self.redis.delete(f"event:{channel}:{event_id}")

    async def put(self, job: Job) -> str:
        return str(await self.redis.xadd(self.stream, {"job": job.dumps()}))

    async def read(self, consumer: str, *, count: int, block_ms: int) -> list[tuple[str, Job]]:
        """New jobs for this consumer; malformed entries are acknowledged and dropped."""
        answer = await self.redis.xreadgroup(
            GROUP, consumer, {self.stream: ">"}, count=count, block=block_ms
        )
        return await self._decode(answer[0][1] if answer else [])

    async def take_over(self, consumer: str, *, idle_ms: int, count: int) -> list[tuple[str, Job]]:
        """Jobs left unacknowledged by a worker that stopped, now this consumer's."""
        answer = await self.redis.xautoclaim(
            self.stream, GROUP, consumer, min_idle_time=idle_ms, start_id="0-0", count=count
        )
        return await self._decode(answer[1] if answer else [])

    async def keep_alive(self, consumer: str, *entry_ids: str) -> None:
        """Resets jobs' idle time so no other worker takes them over while we work on them."""
        if entry_ids:
            await self.redis.xclaim(self.stream, GROUP, consumer, 0, list(entry_ids), justid=True)

    async def ack(self, entry_id: str) -> None:
        await self.redis.xack(self.stream, GROUP, entry_id)
        await self.redis.xdel(self.stream, entry_id)

    async def pending_count(self) -> int:
        info = await self.redis.xpending(self.stream, GROUP)
        return int(info["pending"]) if info else 0

    async def _decode(self, entries: list[Any]) -> list[tuple[str, Job]]:
        jobs = []
        for entry_id, fields in entries:
            if fields is None:  # deleted while pending
                await self.ack(entry_id)
                continue
            try:
                jobs.append((entry_id, Job.loads(fields["job"])))
            except (KeyError, ValueError, TypeError):
                logger.error("dropping a malformed job %s", entry_id)
                await self.ack(entry_id)
        return jobs
