"""Where the compact tracker store (`tracker_store`) keeps a conversation: in this process, or
in Redis, shared by every Rasa server of a deployment.

Per conversation there are two things, written together:

- the **log**: every event as JSON, appended to, never rewritten (a Redis list);
- the **head**: the events a turn works with, as one JSON list, and a **version**, a random
  token replaced by every write (a Redis hash with the fields `events` and `version`).

A write names the version it read. If another writer came in between (two Rasa servers on one
conversation without the lock store's ticket, the HTTP API replacing the events while a turn
ran), the write is refused and the store re-reads the head: no write is ever based on a head
it did not see, and no event of another writer is overwritten.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any, Protocol

# Version of a conversation that has nothing stored.
ABSENT = ""
# Redis key of a conversation's log / head: "<prefix>:tracker-log:<id>", "<prefix>:tracker-head:<id>"
# (bot/privacy/registry.py lists them, for erasure and the retention purge).
LOG_KEY = "{prefix}:tracker-log:{sender_id}"
HEAD_KEY = "{prefix}:tracker-head:{sender_id}"


def new_version() -> str:
    return secrets.token_hex(8)


class Backend(Protocol):
    async def head(self, sender_id: str) -> tuple[str, str] | None:
        """The head (JSON) and the version, or None if nothing is stored."""

    async def log(self, sender_id: str) -> tuple[list[str], str] | None:
        """Every event (JSON each) and the version, or None if nothing is stored."""

    async def append(
        self, sender_id: str, *, version: str, new: list[str], head: str
    ) -> str | None:
        """Appends events to the log and sets the head, if the conversation is still at
        `version`: the new version, or None (nothing written) if another writer came first."""

    async def replace(self, sender_id: str, *, events: list[str], head: str) -> str:
        """Sets the log to `events` whatever it held (no events: deletes the conversation);
        the new version."""

    async def keys(self) -> Iterable[str]:
        """The conversations stored."""


class MemoryBackend:
    """One process's conversations (`hotline run` without REDIS_URL)."""

    def __init__(self) -> None:
        self._logs: dict[str, list[str]] = {}
        self._heads: dict[str, tuple[str, str]] = {}

    async def head(self, sender_id: str) -> tuple[str, str] | None:
        return self._heads.get(sender_id)

    async def log(self, sender_id: str) -> tuple[list[str], str] | None:
        if sender_id not in self._heads:
            return None
        return list(self._logs.get(sender_id, [])), self._heads[sender_id][1]

    async def append(
        self, sender_id: str, *, version: str, new: list[str], head: str
    ) -> str | None:
        current = self._heads.get(sender_id)
        if (current[1] if current else ABSENT) != version:
            return None
        self._logs.setdefault(sender_id, []).extend(new)
        self._heads[sender_id] = (head, new_version())
        return self._heads[sender_id][1]

    async def replace(self, sender_id: str, *, events: list[str], head: str) -> str:
        if not events:
            self._logs.pop(sender_id, None)
            self._heads.pop(sender_id, None)
            return ABSENT
        self._logs[sender_id] = list(events)
        self._heads[sender_id] = (head, new_version())
        return self._heads[sender_id][1]

    async def keys(self) -> Iterable[str]:
        return list(self._heads)


# KEYS: log, head. ARGV: mode ("append" | "replace"), the version read, the head, the TTL in
# seconds (0: none), the new version, then the events. One script: the check, the append and
# the head are one atomic step for every other client of the Redis server.
_WRITE = """
local mode, expected, head, ttl, version = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
if mode == 'append' and (redis.call('HGET', KEYS[2], 'version') or '') ~= expected then
  return 0
end
if mode == 'replace' then
  redis.call('DEL', KEYS[1], KEYS[2])
  if #ARGV == 5 then return 1 end
end
for i = 6, #ARGV, 1000 do
  redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('HSET', KEYS[2], 'events', head, 'version', version)
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
end
return 1
"""


class RedisBackend:
    """Conversations in Redis, shared by every Rasa server that is given the same Redis.

    A turn costs two round trips whatever the conversation's length: one read of the head
    (HMGET) and one script call that appends the turn's events and sets the new head.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int = 6379,
        db: int = 0,
        password: str | None = None,
        key_prefix: str = "hotline",
        record_exp: float | None = None,
        socket_timeout: float = 10.0,
    ) -> None:
        import redis.asyncio as aioredis  # the Rasa environment's redis-py (4.x)

        self._redis = aioredis.Redis(
            host=host,
            port=int(port),
            db=int(db),
            password=password,
            decode_responses=True,
            socket_connect_timeout=socket_timeout,
            socket_timeout=socket_timeout,
        )
        self._prefix = key_prefix
        # A conversation idle this long is dropped by Redis (the retention rules' tracker expiry).
        self._ttl = int(record_exp or 0)
        self._write = self._redis.register_script(_WRITE)

    def _keys(self, sender_id: str) -> list[str]:
        return [
            LOG_KEY.format(prefix=self._prefix, sender_id=sender_id),
            HEAD_KEY.format(prefix=self._prefix, sender_id=sender_id),
        ]

    async def head(self, sender_id: str) -> tuple[str, str] | None:
        events, version = await self._redis.hmget(self._keys(sender_id)[1], "events", "version")
        return None if events is None else (events, version or ABSENT)

    async def log(self, sender_id: str) -> tuple[list[str], str] | None:
        log_key, head_key = self._keys(sender_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lrange(log_key, 0, -1)
            pipe.hget(head_key, "version")
            events, version = await pipe.execute()
        return None if version is None else (list(events), version)

    async def append(
        self, sender_id: str, *, version: str, new: list[str], head: str
    ) -> str | None:
        written = new_version()
        args: list[Any] = ["append", version, head, self._ttl, written, *new]
        return written if await self._write(keys=self._keys(sender_id), args=args) else None

    async def replace(self, sender_id: str, *, events: list[str], head: str) -> str:
        written = new_version() if events else ABSENT
        args: list[Any] = ["replace", ABSENT, head, self._ttl, written, *events]
        await self._write(keys=self._keys(sender_id), args=args)
        return written

    async def keys(self) -> Iterable[str]:
        prefix = HEAD_KEY.format(prefix=self._prefix, sender_id="")
        return [
            key[len(prefix) :] async for key in self._redis.scan_iter(match=f"{prefix}*", count=500)
        ]
