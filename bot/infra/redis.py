"""Redis when REDIS_URL is set, else an in-process stand-in (fakeredis) for a zero-set-up run."""

from __future__ import annotations

from functools import lru_cache

import redis.asyncio as aioredis

from bot.settings import get_settings


@lru_cache
def get_redis() -> aioredis.Redis:
    """Returns this process's Redis client; the stand-in is shared only inside the process."""
    url = get_settings().redis_url
    if url:
        return aioredis.Redis.from_url(url, decode_responses=True)
    import fakeredis  # only needed without a real Redis

    return fakeredis.FakeAsyncRedis(decode_responses=True)
