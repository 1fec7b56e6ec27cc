"""Measures saving a confirmed hardship request (the service function the form calls, in its own
transaction) with 20 concurrent workers, on SQLite and, when HOTLINE_BENCH_POSTGRES_URL is set,
on PostgreSQL. Prints p50/p95 latency, throughput and the statements one save sends; figures
only, nothing is asserted. By default the conversations save back to back (a saturating closed
loop); `--think-ms 1000` gives each conversation a pause between saves, closer to people
confirming forms.

The floor is measured in the same run, on the same database, at the same concurrency: `SELECT 1`
in its own transaction, and one bare INSERT of a row of a request's size in its own (committed)
transaction. A save cannot be cheaper than the second. `--show-statements` prints the statements
of one save.

    .venvs/app/bin/python scripts/bench_requests.py [--requests 400] [--workers 20]
    HOTLINE_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venvs/app/bin/python scripts/bench_requests.py
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.consents.service import record_consent
from bot.db.migrate import upgrade
from bot.db.session import make_engine
from bot.places.wards import ward_index
from bot.requests.service import AidRequestIn, submit_aid_request
from bot.teams.service import import_teams

ROOT = Path(__file__).resolve().parent.parent
AID_FORM = "aid_request"  # the consent purpose the aid form asks for
WARDS = ["26743", "26740", "00070", "00004", "26737", "28468"]
DESCRIPTION = "Mất việc, nhà hết gạo 2 ngày"
FLOOR_TABLE = """CREATE TABLE bench_floor (
    id {serial} PRIMARY KEY, ref_code VARCHAR(8) UNIQUE NOT NULL, description TEXT NOT NULL,
    needs JSON NOT NULL, household_size INTEGER NOT NULL, created_at TIMESTAMP NOT NULL)"""


# Transaction control: round trips, not statements (SQLite's BEGIN IMMEDIATE is sent as SQL).
CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK TO")


class Wire:
    """Counts, per thread, what one unit of work sends to the database: SQL statements (with
    SAVEPOINT/RELEASE), the BEGIN psycopg sends by itself, COMMIT, new connections, and the time
    spent inside statements."""

    def __init__(self, engine: Engine) -> None:
        self._local = threading.local()
        self._implicit_begin = engine.dialect.name == "postgresql"
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._commit)
        event.listen(engine.pool, "connect", self._connect)

    @property
    def now(self) -> Counter[str]:
        if not hasattr(self._local, "counts"):
            self._local.counts = Counter()
            self._local.statements = []
        return self._local.counts  # type: ignore[no-any-return]

    def reset(self) -> None:
        self.now.clear()
        self._local.statements = []

    def statements(self) -> list[str]:
        self.now  # noqa: B018  (creates the thread's counters)
        return list(self._local.statements)

    def _before(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.now["round trips"] += 1
        if not statement.lstrip().upper().startswith(CONTROL):
            self.now["statements"] += 1
        self._local.statements.append(" ".join(statement.split())[:110])
        self._local.started = time.perf_counter()

    def _after(self, *_args: Any) -> None:
        self.now["sql µs"] += int((time.perf_counter() - self._local.started) * 1e6)

    def _begin(self, _conn: Any) -> None:
        if self._implicit_begin:
            self.now["round trips"] += 1

    def _commit(self, _conn: Any) -> None:
        self.now["round trips"] += 1

    def _connect(self, *_args: Any) -> None:
        self.now["new connections"] += 1


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    commit_ms: float = 0.0
    cpu_ms: float = 0.0  # this process's CPU time in the worker's thread (Python, driver)
    wall: float = 0.0

    def line(self, label: str) -> str:
        saves = len(self.latencies)
        quantiles = statistics.quantiles(self.latencies, n=100)
        per = {name: value / saves for name, value in self.counts.items()}
        return (
            f"  {label:<30} p50 {statistics.median(self.latencies):6.1f}   p95 "
            f"{quantiles[94]:6.1f}   max {max(self.latencies):6.1f} ms   "
            f"{saves / self.wall:5.0f}/s   stmts {per.get('statements', 0):4.1f}   "
            f"trips {per.get('round trips', 0):4.1f}   in SQL {per.get('sql µs', 0) / 1000:5.1f}   "
            f"commit {self.commit_ms / saves:5.1f}   CPU {self.cpu_ms / saves:4.1f} ms   "
            f"new conns {per.get('new connections', 0):.2f}   load {os.getloadavg()[0]:.1f}"
        )


@dataclass(frozen=True)
class Unit:
    """One unit of work: `prepare(i)` runs untimed before it (None: nothing to prepare), then
    `work(i)` runs timed and returns the moment its work was flushed, before its commit."""

    work: Callable[[int], float]
    prepare: Callable[[int], None] | None = None


def measure(unit: Unit, wire: Wire, *, requests: int, workers: int, think_ms: float) -> Run:
    """Runs the unit for i in range(requests) on `workers` threads."""
    run = Run()
    lock = threading.Lock()

    def timed(i: int) -> None:
        if think_ms:  # a person reading and typing between two confirmations
            time.sleep(random.uniform(0, 2 * think_ms) / 1000)
        if unit.prepare:
            unit.prepare(i)
        wire.reset()
        cpu = time.thread_time()
        started = time.perf_counter()
        flushed = unit.work(i)
        finished = time.perf_counter()
        cpu = time.thread_time() - cpu
        with lock:
            run.latencies.append((finished - started) * 1000)
            run.commit_ms += (finished - flushed) * 1000
            run.cpu_ms += cpu * 1000
            run.counts.update(wire.now)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(timed, range(-workers, 0)))  # warms the pool and the caches
        run.latencies.clear()
        run.counts.clear()
        run.commit_ms = run.cpu_ms = 0.0
        started = time.perf_counter()
        list(pool.map(timed, range(requests)))
        run.wall = time.perf_counter() - started
    return run


def aid(i: int) -> AidRequestIn:
    return AidRequestIn(
        needs=["food", "medicine"] if i % 3 else ["go_home"],
        description=DESCRIPTION,
        household_size=1 + i % 7,
        vulnerable=["elderly"] if i % 4 == 0 else [],
        ward_code=WARDS[i % len(WARDS)],
        address_detail=f"{i} Lê Lợi",
        phone="0912345678",
        days_without_food=2 if i % 5 == 0 else None,
    )


def saving(factory: sessionmaker[Session], *, known: bool) -> Unit:
    """One confirmation: the service function in its own transaction. A known resident gave
    their consent earlier in the conversation (untimed), and the save refers to it, as the
    form does; a new resident is a first contact."""
    run = uuid.uuid4().hex[:8]
    consents: dict[int, int] = {}

    def conversation(i: int) -> str:
        return f"web:bench{run}x{i}{'k' if known else 'n'}".replace("-", "m")

    def prepare(i: int) -> None:
        with factory.begin() as session:
            consent = record_consent(
                session=session, conversation_id=conversation(i), purpose=AID_FORM, granted=True
            )
            assert consent is not None
            consents[i] = consent.id

    def work(i: int) -> float:
        with factory() as session, session.begin():
            submit_aid_request(
                session=session,
                conversation_id=conversation(i),
                data=aid(i),
                consent_id=consents.pop(i, None),
            )
            flushed = time.perf_counter()
        return flushed

    return Unit(work=work, prepare=prepare if known else None)


def floor_units(engine: Engine) -> dict[str, Unit]:
    """The floor: `SELECT 1`, and one bare INSERT of a request-sized row, each in its own
    transaction on the same pool."""
    serial = "SERIAL" if engine.dialect.name == "postgresql" else "INTEGER"
    with engine.begin() as conn:
        conn.execute(text(FLOOR_TABLE.format(serial=serial)))
    insert = text(
        "INSERT INTO bench_floor (ref_code, description, needs, household_size, created_at) "
        "VALUES (:code, :description, :needs, :size, CURRENT_TIMESTAMP)"
    )
    counter = iter(range(10**9))
    lock = threading.Lock()

    def select_one(_i: int) -> float:
        with engine.begin() as conn:
            conn.execute(text("SELECT 1"))
            return time.perf_counter()

    def insert_one(i: int) -> float:
        with lock:
            code = f"{next(counter):08d}"
        with engine.begin() as conn:
            conn.execute(
                insert,
                {"code": code, "description": DESCRIPTION, "needs": '["food"]', "size": 1 + i % 7},
            )
            return time.perf_counter()

    return {
        "floor: SELECT 1": Unit(work=select_one),
        "floor: one INSERT, committed": Unit(work=insert_one),
    }


def bench(url: str, *, requests: int, workers: int, think_ms: float, show: bool) -> None:
    upgrade(url)
    engine = make_engine(url)
    wire = Wire(engine)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory.begin() as session:
        import_teams(session=session, path=ROOT / "data" / "teams" / "demo_teams.yml")
    ward_index()  # loaded once per process, not part of a request
    units = floor_units(engine)
    units["save, new resident"] = saving(factory, known=False)
    units["save, known resident"] = saving(factory, known=True)
    if show:
        known = units["save, known resident"]
        for i in (10**6, 10**6 + 1):  # the first one opens the pool's connection
            assert known.prepare is not None
            known.prepare(i)
            wire.reset()
            known.work(i)
        print("  statements of one save (known resident):")
        for statement in wire.statements():
            print(f"    {statement}")
    try:
        for label, unit in units.items():
            run = measure(unit, wire, requests=requests, workers=workers, think_ms=think_ms)
            print(run.line(label), flush=True)
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="mean pause of each conversation between two saves (0: back to back, saturating)",
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--show-statements", action="store_true")
    args = parser.parse_args()
    targets: list[tuple[str, str, str | None]] = []
    tmp = tempfile.TemporaryDirectory()
    if not args.skip_sqlite:
        targets.append(("SQLite", f"sqlite:///{tmp.name}/bench.db", None))
    pg = None if args.skip_postgres else os.environ.get("HOTLINE_BENCH_POSTGRES_URL")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    if pg:
        separator = "&" if "?" in pg else "?"
        targets.append(("PostgreSQL", f"{pg}{separator}options=-csearch_path%3D{schema}", schema))
    pace = f", {args.think_ms:.0f} ms think time" if args.think_ms else ", back to back"
    print(
        f"Saving a confirmed aid request: {args.requests} requests, {args.workers} "
        f"concurrent conversations{pace}; per save: statements, round trips (with BEGIN, "
        f"COMMIT, savepoints), time inside statements and in COMMIT, the Python thread's CPU time, new pool connections"
    )
    for name, url, pg_schema in targets:
        print(f"{name}:")
        if pg_schema and pg:
            admin = create_engine(pg)
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {pg_schema}"))
        try:
            bench(
                url,
                requests=args.requests,
                workers=args.workers,
                think_ms=args.think_ms,
                show=args.show_statements,
            )
        finally:
            if pg_schema and pg:
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {pg_schema} CASCADE"))
                admin.dispose()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
