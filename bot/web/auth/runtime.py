"""The app's session store and login limiter, built on first use from its settings and Redis."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from starlette.types import ASGIApp

from bot.settings import Settings
from bot.web.auth.ratelimit import LoginLimiter
from bot.web.auth.sessions import SessionStore

SESSION_COOKIE = "hotline_session"
LOGIN_CSRF_COOKIE = "hotline_login_csrf"


# Argon2 as configured takes 64 MiB and ~80 ms of a core per check: a burst of sign-ins waits
# for a slot instead of filling the thread pool (and the memory) with password checks.
PASSWORD_CHECKS_AT_ONCE = 4


@dataclass(frozen=True)
class AuthRuntime:
    settings: Settings
    sessions: SessionStore
    limiter: LoginLimiter
    password_checks: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(PASSWORD_CHECKS_AT_ONCE)
    )


def auth_runtime(app: ASGIApp) -> AuthRuntime:
    """Returns the app's AuthRuntime, building it from app.state the first time."""
    state = app.state  # type: ignore[attr-defined]
    runtime: AuthRuntime | None = getattr(state, "auth", None)
    if runtime is None:
        settings: Settings = state.settings
        redis: aioredis.Redis | None = getattr(state, "redis", None)
        if redis is None:
            from bot.infra.redis import get_redis

            redis = get_redis()
        runtime = AuthRuntime(
            settings=settings,
            sessions=SessionStore(
                redis,
                idle_seconds=settings.session_idle_minutes * 60,
                absolute_seconds=settings.session_absolute_hours * 3600,
            ),
            limiter=LoginLimiter(
                redis,
                max_failures=settings.login_max_failures,
                lockout_seconds=settings.login_lockout_minutes * 60,
                ip_max_failures=settings.login_ip_max_failures,
                ip_window_seconds=settings.login_ip_window_minutes * 60,
            ),
        )
        state.auth = runtime
    return runtime


def revoke_sessions_from_thread(app: ASGIApp, user_id: int) -> None:
    """Ends a user's sessions from a sync route (which runs in the thread pool)."""
    from anyio.from_thread import run

    run(auth_runtime(app).sessions.revoke_user, user_id)
