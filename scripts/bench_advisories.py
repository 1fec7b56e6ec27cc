"""Measures an advisory fan-out: figures only, nothing is asserted.

- enqueue time of one advisory to `--subscribers` subscribers (batches of 1,000, each its own
  transaction, as `hotline` runs it), against the baseline of queueing the same number of
  messages one by one with `enqueue` (measured on a tenth, scaled);
- the process's RSS before and after the fan-out;
- duplicates (copies per resident beyond one: must be 0);
- cancel latency: a second advisory cancelled while it goes out, from the cancel's commit
  to the fan-out's stop, and how many copies were still open after it (must be 0).

    .venvs/app/bin/python scripts/bench_advisories.py \\
        --url postgresql+psycopg://postgres@127.0.0.1:5432/test [--subscribers 100000]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.advisories.models import AdvisoryDelivery
from bot.advisories.runtime import run_fan_out
from bot.advisories.service import (
    approve,
    cancel,
    create_advisory,
    get_advisory,
    start_sending,
    submit,
)
from bot.conversations.messages import OutboundReply
from bot.db import session as db_session
from bot.db.base import utcnow
from bot.db.migrate import upgrade
from bot.db.session import make_engine
from bot.outbound.models import OPEN_STATUSES, OutboundMessage
from bot.outbound.service import enqueue
from bot.residents.models import Resident
from bot.subscriptions.models import Subscription
from bot.users.models import Role
from tests.users.factories import make_user

TEXT = "Thông báo thử: từ 18h hôm nay tạm dừng chợ đêm. Người dân hạn chế ra ngoài."


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fill(factory: sessionmaker, count: int) -> None:  # type: ignore[type-arg]
    now = utcnow()
    with factory.begin() as session:
        for start in range(0, count, 5000):
            chunk = range(start, min(count, start + 5000))
            session.execute(
                insert(Resident),
                [
                    {
                        "conversation_id": f"telegram:{10_000_000 + n}",
                        "channel": "telegram",
                        "reachable": True,
                        "last_seen_at": now,
                        "created_at": now,
                    }
                    for n in chunk
                ],
            )
        ids = dict(session.execute(select(Resident.conversation_id, Resident.id)).all())
        rows = [
            {
                "resident_id": rid,
                "conversation_id": cid,
                "channel": "telegram",
                "province_code": "79",
                "ward_code": "26734",
                "active": True,
                "created_at": now,
            }
            for cid, rid in ids.items()
        ]
        for start in range(0, len(rows), 5000):
            session.execute(insert(Subscription), rows[start : start + 5000])


def sending_advisory(factory: sessionmaker, author, approver) -> int:  # type: ignore[no-untyped-def,type-arg]
    with factory.begin() as session:
        a = session.merge(author)
        b = session.merge(approver)
        advisory = create_advisory(
            session=session,
            author=a,
            title="Bench",
            text=TEXT,
            target_kind="provinces",
            target_codes=["79"],
        )
        submit(session=session, advisory=advisory, user=a, threshold=10)
        approve(session=session, advisory=advisory, approver=b)
        start_sending(session=session, advisory=advisory, user=a)
        return advisory.id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="PostgreSQL URL (a scratch schema is made)")
    parser.add_argument("--subscribers", type=int, default=100_000)
    args = parser.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{args.url}{'&' if '?' in args.url else '?'}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        engine = make_engine(url)
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        db_session.get_sessionmaker = lambda: factory  # type: ignore[assignment]
        n = args.subscribers
        t = time.perf_counter()
        fill(factory, n)
        print(f"setup: {n} subscribers in {time.perf_counter() - t:.1f} s")
        with factory.begin() as session:
            author = make_user(session, role=Role.ADMIN, username="bench.author")
            approver = make_user(session, role=Role.ADMIN, username="bench.approver")

        base_n = max(1, n // 10)
        t = time.perf_counter()
        with factory.begin() as session:
            for i in range(base_n):
                enqueue(
                    session=session,
                    channel="telegram",
                    address=str(i),
                    reply=OutboundReply(TEXT),
                    kind="bench_baseline",
                )
        baseline = time.perf_counter() - t
        print(
            f"baseline: enqueue() one by one, {base_n} messages: {baseline:.2f} s "
            f"(≈ {baseline * n / base_n:.1f} s for {n})"
        )

        advisory_id = sending_advisory(factory, author, approver)
        before = rss_mb()
        t = time.perf_counter()
        marks: list[float] = []
        batches = run_fan_out(
            advisory_id=advisory_id, on_batch=lambda _: marks.append(time.perf_counter())
        )
        elapsed = time.perf_counter() - t
        steps = [b - a for a, b in zip([t, *marks], marks, strict=False)]
        after = rss_mb()
        with factory() as session:
            copies = session.scalar(
                select(func.count())
                .select_from(AdvisoryDelivery)
                .where(AdvisoryDelivery.advisory_id == advisory_id)
            )
            distinct = session.scalar(
                select(func.count(func.distinct(OutboundMessage.conversation_id))).where(
                    OutboundMessage.kind == "advisory"
                )
            )
            queued = session.scalar(
                select(func.count())
                .select_from(OutboundMessage)
                .where(OutboundMessage.kind == "advisory")
            )
            status = get_advisory(session=session, advisory_id=advisory_id).status  # type: ignore[union-attr]
        print(
            f"fan-out: {copies} copies in {batches} batches, {elapsed:.2f} s "
            f"({copies / elapsed:,.0f}/s), status {status}"
        )
        if len(steps) >= 4:
            q = max(1, len(steps) // 10)
            print(
                f"batch time: first {q} batches {sum(steps[:q]) / q * 1000:.0f} ms each, "
                f"last {q} {sum(steps[-q:]) / q * 1000:.0f} ms each"
            )
        print(
            f"memory: RSS {before:.0f} MB before, {after:.0f} MB after ({after - before:+.0f} MB)"
        )
        print(f"duplicates: {queued - distinct} (outbound rows {queued}, residents {distinct})")

        second = sending_advisory(factory, author, approver)
        stopped = threading.Event()
        stop_at: list[float] = []

        def fan() -> None:
            run_fan_out(advisory_id=second)
            stop_at.append(time.perf_counter())
            stopped.set()

        worker = threading.Thread(target=fan)
        worker.start()
        time.sleep(min(1.0, elapsed / 4))
        with factory.begin() as session:
            cancel(
                session=session,
                advisory=get_advisory(session=session, advisory_id=second),  # type: ignore[arg-type]
                user=session.merge(author),
            )
        cancelled_at = time.perf_counter()
        worker.join()
        with factory() as session:
            done = session.scalar(
                select(func.count())
                .select_from(AdvisoryDelivery)
                .where(AdvisoryDelivery.advisory_id == second)
            )
            open_left = session.scalar(
                select(func.count())
                .select_from(OutboundMessage)
                .join(AdvisoryDelivery, AdvisoryDelivery.outbound_id == OutboundMessage.id)
                .where(
                    AdvisoryDelivery.advisory_id == second,
                    OutboundMessage.status.in_(OPEN_STATUSES),
                )
            )
        print(
            f"cancel: fan-out stopped {max(0.0, stop_at[0] - cancelled_at) * 1000:.0f} ms after "
            f"the cancel was committed; {done} of {n} copies had been queued, "
            f"{open_left} left open (withdrawn as skipped:cancelled)"
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
