"""The web app on the test's database transaction and its own Redis, for the sign-in tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import fakeredis
import httpx
import pytest
import redis as sync_redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from bot.settings import Settings
from bot.web.app import create_app
from tests.conftest import REDIS_URL
from tests.e2e.conftest import free_port


def web_settings(db_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "database_url": db_url,
        "redis_url": None,
        "rasa_url": f"http://127.0.0.1:{free_port()}",
        "action_server_url": f"http://127.0.0.1:{free_port()}",
        "worker_in_process": False,
        "outbox_worker_in_web": False,
        "login_max_failures": 3,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def web_redis() -> aioredis.Redis:
    """Real Redis (flushed) when configured, else a fresh in-process stand-in."""
    if REDIS_URL:
        sync_redis.Redis.from_url(REDIS_URL).flushdb()
        return aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    return fakeredis.FakeAsyncRedis(decode_responses=True)


@pytest.fixture
def app_settings(db_url: str) -> Settings:
    return web_settings(db_url)


@contextmanager
def running_app(settings: Settings, *, base_url: str = "http://testserver") -> Iterator[TestClient]:
    """The app with its lifespan, and a client; its Redis is closed on the app's own loop."""
    redis = web_redis()
    with TestClient(create_app(settings, redis=redis), base_url=base_url) as client:
        yield client
        client.portal.call(redis.aclose)  # type: ignore[union-attr]


@contextmanager
def other_browser(client: TestClient) -> Iterator[TestClient]:
    """The same client with an empty cookie jar for a while: a second person on the same app
    (a second TestClient would run on another event loop than the app's Redis connections)."""
    saved = httpx.Cookies(client.cookies)
    client.cookies = httpx.Cookies()
    try:
        yield client
    finally:
        client.cookies = saved


@pytest.fixture
def web(session: Session, app_settings: Settings) -> Iterator[TestClient]:
    """A browser-like client of the app; the app's database sessions join the test's transaction."""
    with running_app(app_settings) as client:
        yield client
