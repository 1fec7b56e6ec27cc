"""Redis when REDIS_URL is set, else an in-process stand-in (fakeredis) for a zero-set-up run."""

from __future__ import annotations

from functools import lru_cache

import redis.asyncio as aioredis

from bot.settings import get_settings

# redis-py's default async pool refuses the 101st concurrent command (MaxConnectionsError);
# webhooks under load plus the delivery worker pass that, so commands wait for a connection
# instead (a blocking pool), up to POOL_TIMEOUT_SECONDS.
MAX_CONNECTIONS = 200
POOL_TIMEOUT_SECONDS = 20


@lru_cache
def get_redis() -> aioredis.Redis[str]:
    """Returns this process's Redis client; the stand-in is shared only inside the process."""
    url = get_settings().redis_url
    if url:
        pool: aioredis.BlockingConnectionPool[aioredis.Connection] = (
            aioredis.BlockingConnectionPool.from_url(
                url,
                max_connections=MAX_CONNECTIONS,
                timeout=POOL_TIMEOUT_SECONDS,
                decode_responses=True,
            )
        )
        # decode_responses is the pool's; repeated here so the type says str.
        client: aioredis.Redis[str] = aioredis.Redis(connection_pool=pool, decode_responses=True)
        return client
    import fakeredis  # only needed without a real Redis

    return fakeredis.FakeAsyncRedis(
        decode_responses=True,
        connection_pool_class=aioredis.BlockingConnectionPool,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_TIMEOUT_SECONDS,
    )
