"""Measures saving a confirmed hardship request (the service function the form calls, in its own
transaction) with 20 concurrent workers, on SQLite and, when HOTLINE_BENCH_POSTGRES_URL is set,
on PostgreSQL. Prints p50/p95 latency and throughput; figures only, nothing is asserted.
By default the conversations save back to back (a saturating closed loop); `--think-ms 1000`
gives each conversation a pause between saves, closer to people confirming forms.

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
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.db.migrate import upgrade
from bot.db.session import make_engine
from bot.places.wards import ward_index
from bot.requests.service import AidRequestIn, submit_aid_request
from bot.residents.service import get_or_create_resident
from bot.teams.service import import_teams

ROOT = Path(__file__).resolve().parent.parent
WARDS = ["26743", "26740", "00070", "00004", "26737", "28468"]


def bench(
    url: str, *, requests: int, workers: int, think_ms: float, known: bool
) -> dict[str, float]:
    upgrade(url)
    engine = make_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory.begin() as session:
        import_teams(session=session, path=ROOT / "data" / "teams" / "demo_teams.yml")
    ward_index()  # loaded once per process, not part of a request
    run = uuid.uuid4().hex[:8]

    def one(i: int) -> float:
        if think_ms:  # a person reading and typing between two confirmations
            time.sleep(random.uniform(0, 2 * think_ms) / 1000)
        data = AidRequestIn(
            needs=["food", "medicine"] if i % 3 else ["go_home"],
            description="Mất việc, nhà hết gạo 2 ngày",
            household_size=1 + i % 7,
            vulnerable=["elderly"] if i % 4 == 0 else [],
            ward_code=WARDS[i % len(WARDS)],
            address_detail=f"{i} Lê Lợi",
            phone="0912345678",
            days_without_food=2 if i % 5 == 0 else None,
        )
        conversation = f"web:bench{run}x{i}{'k' if known else 'n'}"
        if known:  # as in a conversation: the pipeline stored the first message already
            with factory.begin() as session:
                get_or_create_resident(session=session, conversation_id=conversation)
        started = time.perf_counter()
        with factory.begin() as session:
            submit_aid_request(session=session, conversation_id=conversation, data=data)
        return (time.perf_counter() - started) * 1000

    # Warm the pool and the caches.
    for i in range(workers):
        if not think_ms:
            one(-1 - i)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        latencies = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - started
    engine.dispose()
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "p50": statistics.median(latencies),
        "p95": quantiles[94],
        "max": max(latencies),
        "throughput": requests / wall,
    }


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
    args = parser.parse_args()
    targets: list[tuple[str, str, str | None]] = []
    tmp = tempfile.TemporaryDirectory()
    if not args.skip_sqlite:
        targets.append(("SQLite", f"sqlite:///{tmp.name}/bench.db", None))
    pg = os.environ.get("HOTLINE_BENCH_POSTGRES_URL")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    if pg:
        separator = "&" if "?" in pg else "?"
        targets.append(("PostgreSQL", f"{pg}{separator}options=-csearch_path%3D{schema}", schema))
    pace = f", {args.think_ms:.0f} ms think time" if args.think_ms else ", back to back"
    print(
        f"Saving a confirmed aid request: {args.requests} requests, {args.workers} "
        f"concurrent conversations{pace}"
    )
    for name, url, pg_schema in targets:
        if pg_schema and pg:
            admin = create_engine(pg)
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {pg_schema}"))
        try:
            for known in (False, True):
                result = bench(
                    url,
                    requests=args.requests,
                    workers=args.workers,
                    think_ms=args.think_ms,
                    known=known,
                )
                who = "known resident" if known else "new resident"
                print(
                    f"  {name:<10} {who:<15} p50 {result['p50']:6.1f} ms   p95 "
                    f"{result['p95']:6.1f} ms   max {result['max']:6.1f} ms   "
                    f"{result['throughput']:6.0f} requests/s   load {os.getloadavg()[0]:.1f}"
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
