"""Send-rate limits shared by every worker process through Redis.

Two limits per channel: messages per second overall (a one-second window counter) and a
minimum interval between messages to one address (a key that expires). Every message the
hotline sends (bot replies, team notifications, staff replies…) passes the same limiter.
"""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis

from bot.channels.base import SendRate


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, *, channel: str, rate: SendRate) -> None:
        self._redis = redis
        self._channel = channel
        self._per_second = rate.per_second
        self._chat_interval_ms = int(rate.address_interval_seconds * 1000)

    async def acquire(self, address: str) -> None:
        """Waits until one more message to this address (chat, user) is allowed."""
        if self._chat_interval_ms > 0:
            key = f"rl:{self._channel}:to:{address}"
            while not await self._redis.set(key, "1", nx=True, px=self._chat_interval_ms):
                ttl = await self._redis.pttl(key)
                await asyncio.sleep(max(ttl, 10) / 1000)
        if self._per_second <= 0:
            return
        while True:
            now = time.time()
            window = int(now)
            key = f"rl:{self._channel}:second:{window}"
            count = await self._redis.incr(key)
            if count == 1:
                await self._redis.expire(key, 2)
            if count <= self._per_second:
                return
            await asyncio.sleep(window + 1 - now + 0.001)
