"""Engine and session factory, built on first use from the settings (never at import)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import get_settings

SQLITE_BUSY_TIMEOUT_S = 30


class WriterQueue:
    """One write transaction of this process at a time on a SQLite file; the others wait
    here. Waiting in SQLite's busy handler instead means polling with sleeps of up to 100 ms,
    so at 20 concurrent writers a write could wait seconds behind later ones (p95 of a saved
    request: 1–5 s). Writers of other processes still meet in the busy handler."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def enter(self, conn: Connection) -> None:
        # Past the busy timeout, BEGIN IMMEDIATE waits (and fails) as it would without us.
        if self._lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_S):
            conn.info["holds_writer_queue"] = True

    def leave(self, conn: Connection) -> None:
        if conn.info.pop("holds_writer_queue", False):
            self._lock.release()


def make_engine(url: str) -> Engine:
    """Creates an engine; SQLite gets WAL, foreign keys and a busy timeout for concurrent writers."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, hide_parameters=True
        )
        writers = WriterQueue()

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # pysqlite's own transaction handling breaks SAVEPOINTs and lets concurrent
            # writers deadlock on lock upgrades: take over BEGIN ourselves (SQLAlchemy's
            # documented recipe) and begin IMMEDIATE so writers queue on busy_timeout.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            # A read-only unit (execution option `read_only`) begins DEFERRED: under WAL it
            # neither waits for nor blocks a writer, e.g. the content edits read while the
            # request's own session holds the write lock.
            if conn.get_execution_options().get("read_only"):
                conn.exec_driver_sql("BEGIN")
                return
            writers.enter(conn)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                writers.leave(conn)
                raise

        # Let the next writer in as this one ends (its COMMIT or ROLLBACK follows at once;
        # SQLite's busy handler covers that moment).
        event.listen(engine, "commit", writers.leave)
        event.listen(engine, "rollback", writers.leave)
        return engine
    # hide_parameters: database errors and logs must not carry residents' personal data.
    # 20 kept connections: a connection opened past the pool is closed again when it comes
    # back, and a new PostgreSQL connection costs more than a save (20 concurrent saves in
    # scripts/bench_requests.py); at most 30 as before.
    return create_engine(
        url, pool_pre_ping=True, pool_size=20, max_overflow=10, hide_parameters=True
    )


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """One unit of work for an edge without a framework (action call, worker job, CLI command)."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
