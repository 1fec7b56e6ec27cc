"""Server-side sessions of signed-in users, in Redis (or the in-process stand-in).

Why Redis rather than a table: a session is read on every page and every live-update request,
its idle time-out is a key expiry, and ending one is a delete, with no database write per
request. What makes a session dead for good lives in the database, though: a session carries
the user's `session_version`, which disabling an account or changing its password bumps, so
`hotline users disable` in another process (which cannot reach the in-process stand-in) still
ends the sessions at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

import redis.asyncio as aioredis

_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
_PREFIX = "auth:session:"
_USER_PREFIX = "auth:user-sessions:"


@dataclass(frozen=True)
class StaffSession:
    key: str  # the hash of the cookie's token: Redis never holds a usable cookie
    user_id: int
    version: int  # the user's session_version when the session was opened
    csrf_token: str
    created_at: float
    last_seen: float


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """Opens, reads (touching the idle clock), and ends sessions."""

    def __init__(self, redis: aioredis.Redis, *, idle_seconds: int, absolute_seconds: int) -> None:
        self._redis = redis
        self.idle_seconds = idle_seconds
        self.absolute_seconds = absolute_seconds

    async def create(self, *, user_id: int, version: int) -> tuple[str, StaffSession]:
        """Opens a session; returns the cookie's token (given out once) and the session."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        session = StaffSession(
            key=_key(token),
            user_id=user_id,
            version=version,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                _PREFIX + session.key,
                mapping={
                    "user_id": user_id,
                    "version": version,
                    "csrf": session.csrf_token,
                    "created_at": now,
                    "last_seen": now,
                },
            )
            pipe.expire(_PREFIX + session.key, self.idle_seconds)
            pipe.sadd(_USER_PREFIX + str(user_id), session.key)
            pipe.expire(_USER_PREFIX + str(user_id), self.absolute_seconds)
            await pipe.execute()
        return token, session

    async def load(self, token: str | None) -> StaffSession | None:
        """Returns the live session of a cookie token and restarts its idle clock; None if dead."""
        if not token or not _TOKEN_RE.match(token):
            return None
        key = _key(token)
        data = await self._redis.hgetall(_PREFIX + key)
        if not data:
            return None
        try:
            session = StaffSession(
                key=key,
                user_id=int(data["user_id"]),
                version=int(data["version"]),
                csrf_token=str(data["csrf"]),
                created_at=float(data["created_at"]),
                last_seen=float(data["last_seen"]),
            )
        except (KeyError, ValueError):
            await self._redis.delete(_PREFIX + key)
            return None
        now = time.time()
        age = now - session.created_at
        if age >= self.absolute_seconds or now - session.last_seen >= self.idle_seconds:
            await self.revoke_key(session.key, user_id=session.user_id)
            return None
        ttl = int(min(self.idle_seconds, self.absolute_seconds - age)) + 1
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(_PREFIX + key, "last_seen", now)
            pipe.expire(_PREFIX + key, ttl)
            await pipe.execute()
        return session

    async def revoke_key(self, key: str, *, user_id: int) -> None:
        """Ends one session."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(_PREFIX + key)
            pipe.srem(_USER_PREFIX + str(user_id), key)
            await pipe.execute()

    async def revoke_user(self, user_id: int) -> int:
        """Ends every session of a user; returns how many there were."""
        keys = await self._redis.smembers(_USER_PREFIX + str(user_id))
        async with self._redis.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.delete(_PREFIX + key)
            pipe.delete(_USER_PREFIX + str(user_id))
            await pipe.execute()
        return len(keys)
