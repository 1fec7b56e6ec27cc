"""Send-rate limits shared by every worker process through Redis.

Two limits per channel: messages per second overall (a one-second window counter) and a
minimum interval between messages to one conversation (a key that expires).
"""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis


class RateLimiter:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        channel: str,
        per_second: int,
        chat_interval_seconds: float = 0.0,
    ) -> None:
        self._redis = redis
        self._channel = channel
        self._per_second = per_second
        self._chat_interval_ms = int(chat_interval_seconds * 1000)

    async def acquire(self, conversation_id: str) -> None:
        """Waits until one more message to this conversation is allowed."""
        if self._chat_interval_ms > 0:
            key = f"rl:{self._channel}:chat:{conversation_id}"
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
