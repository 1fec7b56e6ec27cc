"""Shared fixtures: a real database per backend (SQLite always, PostgreSQL when configured),
rolled back per test with a savepoint, and Redis (real when configured, else fakeredis).

Set HOTLINE_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) and
HOTLINE_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15) to run against the real servers too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from bot.db import session as db_session
from bot.db.migrate import upgrade
from bot.db.session import make_engine

# The `browser` fixture (headless Chromium) for every test folder.
pytest_plugins = ["tests.browser.support"]

POSTGRES_URL = os.environ.get("HOTLINE_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL")

BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])


def _postgres_schema_url(base: str, schema: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database for this test session (one per backend)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        upgrade(url)
        yield url
        return
    assert POSTGRES_URL is not None
    schema = f"test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = _postgres_schema_url(POSTGRES_URL, schema)
    upgrade(url)
    yield url
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection whose outer transaction is rolled back after the test."""
    with engine.connect() as conn:
        transaction = conn.begin()
        yield conn
        transaction.rollback()


@pytest.fixture
def session(connection: Connection, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """A session inside the test's transaction; code that opens its own sessions
    (session_scope in actions, the web app's SessionDep) joins the same transaction."""
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    monkeypatch.setattr(db_session, "get_sessionmaker", lambda: factory)
    with factory() as s:
        yield s


@pytest.fixture
async def redis() -> Iterator[object]:  # type: ignore[misc]
    """Real Redis (a scratch db, flushed) when configured, else the in-process stand-in."""
    if REDIS_URL:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
        await client.flushdb()
        yield client
        await client.flushdb()
        await client.aclose()
    else:
        import fakeredis

        client = fakeredis.FakeAsyncRedis(decode_responses=True)
        yield client
        await client.aclose()
