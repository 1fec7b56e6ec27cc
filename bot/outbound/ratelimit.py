"""Send-rate limits shared by every worker process through Redis.

Two limits per channel: messages per second overall and a minimum interval between messages
to one address (a key that expires). Every message the hotline sends (bot replies, team
notifications, staff replies, advisories…) passes the same limiter.

The overall limit is a sliding one-second log (a sorted set of admission times), not a
counter per calendar second: with a round of sends going out at once, a counter lets the
last 30 of one second and the first 30 of the next leave within a few milliseconds, twice
the platform's limit. The log admits at most `per_second` in any one-second span.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from bot.channels.base import SendRate

WINDOW_SECONDS = 1.0


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
        self._chat_interval_ms = int(rate.address_interval_seconds * 1000)
        self._log_key = f"rl:{channel}:sent"
        # Wall-clock time, shared by processes on several machines (kept in step by NTP).
        self._clock = clock
        self._sleep = sleep

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
        while True:
            now = self._clock()
            wait = await self._admit(now)
            if wait <= 0:
                return now
            await self._sleep(wait)

    async def _admit(self, now: float) -> float:
        """Adds this send to the log when fewer than `per_second` were admitted in the last
        second (0 returned); otherwise takes it back and returns how long to wait."""
        entry = f"{now:.6f}:{uuid.uuid4().hex[:8]}"
        # One MULTI: drop what left the window, add this send, count. Two processes never
        # both see room for the last slot; at worst both see none and both wait.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(self._log_key, "-inf", now - WINDOW_SECONDS)
            pipe.zadd(self._log_key, {entry: now})
            pipe.zcard(self._log_key)
            pipe.pexpire(self._log_key, int(WINDOW_SECONDS * 2000))
            _, _, count, _ = await pipe.execute()
        if int(count) <= self._per_second:
            return 0.0
        await self._redis.zrem(self._log_key, entry)
        oldest = await self._redis.zrange(self._log_key, 0, 0, withscores=True)
        if not oldest:
            return 0.001
        return max(float(oldest[0][1]) + WINDOW_SECONDS - now, 0.001)
