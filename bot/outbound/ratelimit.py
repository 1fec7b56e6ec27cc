"""Send-rate limits shared by every worker process through Redis.

Two limits per channel: messages per second overall and a minimum interval between messages
to one address (a key that expires). Every message the hotline sends (bot replies, team
notifications, staff replies, advisories…) passes the same limiter.

The overall limit is a sliding log of admission times (a sorted set), not a counter per
calendar second: with a round of sends going out at once, a counter lets the last 30 of one
second and the first 30 of the next leave within a few milliseconds, twice the platform's
limit. The log admits at most `per_second` in any one-second span, and at most a fifth of
that in any tenth of a second, so a round leaves spread over its second instead of in one
burst (a burst, delayed a little on the network, would reach the platform beside the next
one), while a sender held up for a moment (a busy machine) can still catch up within the
second.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from bot.channels.base import SendRate

WINDOW_SECONDS = 1.0
SLICE_SECONDS = 0.1  # the shorter span, holding per_second / 5 (rounded up)
SLICE_SHARE = 0.2


class RateLimiter:
    def __init__(
        self,
        redis: aioredis.Redis[str],
        *,
        channel: str,
        rate: SendRate,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._redis = redis
        self._channel = channel
        self._per_second = rate.per_second
        self._per_slice = math.ceil(rate.per_second * SLICE_SHARE)
        self._chat_interval_ms = int(rate.address_interval_seconds * 1000)
        self._log_key = f"rl:{channel}:sent"
        # Wall-clock time, shared by processes on several machines (kept in step by NTP).
        self._clock = clock
        self._sleep = sleep
        self._turn = asyncio.Lock()

    async def acquire(self, address: str) -> float:
        """Waits until one more message to this address (chat, user) is allowed; returns
        the moment it was admitted on the limiter's clock."""
        if self._chat_interval_ms > 0:
            key = f"rl:{self._channel}:to:{address}"
            while not await self._redis.set(key, "1", nx=True, px=self._chat_interval_ms):
                ttl = await self._redis.pttl(key)
                await self._sleep(max(ttl, 10) / 1000)
        if self._per_second <= 0:
            return self._clock()
        # One waiter per process asks Redis at a time, the others queue behind it in order:
        # a round of sends waiting at once would otherwise all ask again whenever a slot
        # frees, and only one of them would get it.
        async with self._turn:
            while True:
                now = self._clock()
                wait = await self._admit(now)
                if wait <= 0:
                    return now
                await self._sleep(wait)

    async def _admit(self, now: float) -> float:
        """Adds this send to the log when the last second and the last tenth of a second
        have room (0 returned); otherwise takes it back and returns how long to wait."""
        entry = f"{now:.6f}:{uuid.uuid4().hex[:8]}"
        # One MULTI: drop what left the window, add this send, count. Two processes never
        # both see room for the last slot; at worst both see none and both wait.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(self._log_key, "-inf", now - WINDOW_SECONDS)
            pipe.zadd(self._log_key, {entry: now})
            pipe.zcard(self._log_key)
            pipe.zcount(self._log_key, f"({now - SLICE_SECONDS}", "+inf")
            pipe.pexpire(self._log_key, int(WINDOW_SECONDS * 2000))
            _, _, in_window, in_slice, _ = await pipe.execute()
        if int(in_window) <= self._per_second and int(in_slice) <= self._per_slice:
            return 0.0
        await self._redis.zrem(self._log_key, entry)
        if int(in_window) > self._per_second:
            span, since = WINDOW_SECONDS, "-inf"
        else:
            span, since = SLICE_SECONDS, f"({now - SLICE_SECONDS}"
        # Room comes back when the oldest send of the full span leaves it.
        oldest = await self._redis.zrangebyscore(
            self._log_key, since, "+inf", start=0, num=1, withscores=True
        )
        if not oldest:
            return 0.001
        return max(float(oldest[0][1]) + span - now, 0.001)
