"""Sign-in limits in Redis: failures per username (lock-out) and per client address.

Counted per username whether the account exists or not, so the answers never tell an attacker
which usernames are real. Keys hold hashes, not the usernames or addresses themselves.
"""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis

_PREFIX = "auth:login-fail:"


def _digest(kind: str, value: str) -> str:
    return _PREFIX + kind + ":" + hashlib.sha256(value.encode()).hexdigest()[:32]


class LoginLimiter:
    """Counts failed sign-ins; says how long a username or an address must wait."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        max_failures: int,
        lockout_seconds: int,
        ip_max_failures: int,
        ip_window_seconds: int,
    ) -> None:
        self._redis = redis
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self.ip_max_failures = ip_max_failures
        self.ip_window_seconds = ip_window_seconds

    async def wait_seconds(self, *, ip: str, username: str) -> int:
        """Seconds before this address may try this username again (0: go ahead)."""
        user_key, ip_key = _digest("user", username), _digest("ip", ip)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(user_key)
            pipe.ttl(user_key)
            pipe.get(ip_key)
            pipe.ttl(ip_key)
            user_count, user_ttl, ip_count, ip_ttl = await pipe.execute()
        wait = 0
        if user_count is not None and int(user_count) >= self.max_failures:
            wait = max(wait, int(user_ttl))
        if ip_count is not None and int(ip_count) >= self.ip_max_failures:
            wait = max(wait, int(ip_ttl))
        return max(wait, 0)

    async def record_failure(self, *, ip: str, username: str) -> None:
        """Counts one failed sign-in for the username and for the address."""
        user_key, ip_key = _digest("user", username), _digest("ip", ip)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(user_key)
            pipe.expire(
                user_key, self.lockout_seconds
            )  # the lock lasts this long after the last try
            pipe.set(ip_key, 0, ex=self.ip_window_seconds, nx=True)  # a fixed window
            pipe.incr(ip_key)
            await pipe.execute()

    async def clear(self, *, username: str) -> None:
        """Forgets a username's failures after a successful sign-in or a password reset."""
        await self._redis.delete(_digest("user", username))
