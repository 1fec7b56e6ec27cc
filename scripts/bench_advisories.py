"""Measures an advisory fan-out: figures only, nothing is asserted.

- enqueue time of one advisory to `--subscribers` subscribers (set-based batches of 10,000,
  each its own transaction, as `hotline` runs it), against two baselines of the same run:
  queueing a sample one by one with `enqueue` (scaled), and one bare INSERT … SELECT of the
  same number of outbound rows (the floor the database sets);
- the process's RSS before and after the fan-out;
- duplicates (copies per resident beyond one: must be 0);
- the outbound worker's claims with 100,000 copies due: their time, and EXPLAIN ANALYZE;
- the send rate: outbound workers (`--workers` processes sharing the limiter in Redis)
  delivering the copies to a fake Telegram Bot API for `--send-seconds` at each of `--rates`
  (TELEGRAM_MESSAGES_PER_SECOND: 30 is Telegram's), against the limit: the mean rate, the
  most let through by the limiter in any one second (all workers) and the most received by
  the fake in any one second (the same, shifted by both processes' scheduling), duplicates at
  the fake, the workers' RSS, and how long a staff reply queued in the middle of the run
  took to reach the fake;
- cancel latency: a second advisory cancelled while it goes out, from the cancel's commit
  to the fan-out's stop, and how many copies were still open after it (must be 0);
- the load average beside the figures (the machine may be shared).

    .venvs/app/bin/python scripts/bench_advisories.py \\
        --url postgresql+psycopg://postgres@127.0.0.1:5432/test [--subscribers 100000] \\
        --redis-url redis://127.0.0.1:6379/4 [--send-seconds 60] [--rates 30,200] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from sqlalchemy import Select, create_engine, func, insert, select, text
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
from bot.outbound.claims import (
    advisories_due,
    claim_advisory_round,
    claim_due,
    direct_due,
)
from bot.outbound.events import DeliveryEvents
from bot.outbound.models import OPEN_STATUSES, OutboundMessage
from bot.outbound.policy import RetryPolicy
from bot.outbound.ratelimit import RateLimiter
from bot.outbound.sender import OutboundSender
from bot.outbound.service import enqueue
from bot.outbound.worker import OutboundWorker
from bot.residents.models import Resident
from bot.settings import Settings
from bot.subscriptions.models import Subscription
from bot.users.models import Role
from connectors.telegram.channel import TelegramChannel
from tests.fakes import telegram_api
from tests.fakes.telegram_api import FakeTelegramAPI
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


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f})"


def floor_insert(factory: sessionmaker, n: int) -> float:  # type: ignore[type-arg]
    """One bare INSERT … SELECT of n outbound rows from the subscriptions (rolled back)."""
    t = time.perf_counter()
    with factory() as session:
        session.execute(
            text(
                "INSERT INTO outbound_messages (kind, channel, address, conversation_id, text,"
                " buttons, status, attempts, next_attempt_at, created_at, updated_at)"
                " SELECT 'bench_floor', channel, substr(conversation_id, 10), conversation_id,"
                " :text, '[]', 'pending', 0, now(), now(), now() FROM subscriptions"
            ),
            {"text": TEXT},
        )
        elapsed = time.perf_counter() - t
        session.rollback()
    return elapsed


def bench_settings(telegram_url: str, redis_url: str | None) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        redis_url=redis_url,
        telegram_bot_token=telegram_api.TOKEN,
        telegram_webhook_secret="s" * 32,
        telegram_api_base_url=telegram_url,
    )


def explain(factory: sessionmaker, query: Select[OutboundMessage]) -> str:  # type: ignore[type-arg]
    """EXPLAIN ANALYZE of a claim query (rolled back: the rows it locks stay as they were)."""
    with factory() as session:
        bind = session.get_bind()
        compiled = query.compile(dialect=bind.dialect, compile_kwargs={"render_postcompile": True})
        rows = session.connection().exec_driver_sql(
            f"EXPLAIN (ANALYZE, BUFFERS) {compiled}", compiled.params
        )
        plan = "\n".join(f"    {row[0]}" for row in rows)
        session.rollback()
    return plan


def worker_process(
    url: str, redis_url: str, api_url: str, rate: int, ready: Event, stop: Event, rss: Any
) -> None:
    """One outbound worker process, as `hotline worker` runs it, until `stop` is set."""
    factory = sessionmaker(bind=make_engine(url), expire_on_commit=False)
    db_session.get_sessionmaker = lambda: factory  # type: ignore[assignment]
    settings = bench_settings(api_url, redis_url).model_copy(
        update={"telegram_messages_per_second": rate}
    )

    admitted: list[float] = []
    acquire = RateLimiter.acquire

    async def recording(self: RateLimiter, address: str) -> float:
        at = await acquire(self, address)
        admitted.append(at)
        return at

    RateLimiter.acquire = recording  # type: ignore[method-assign]  # this process only

    async def run() -> None:
        import redis.asyncio as aioredis

        redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
        channel = TelegramChannel(settings=settings, redis=redis)
        sender = OutboundSender(
            channels={"telegram": channel}, redis=redis, policy=RetryPolicy.from_settings(settings)
        )
        worker = OutboundWorker(sender=sender, events=DeliveryEvents())
        task = asyncio.create_task(worker.run())
        start = rss_mb()
        ready.set()
        await asyncio.to_thread(stop.wait)
        worker.stop()
        await task
        rss.put((start, rss_mb(), admitted))
        await channel.aclose()
        await redis.aclose()

    asyncio.run(run())


@dataclass(frozen=True)
class Sending:
    sent: int
    rate: float  # mean messages/s at the fake, first to last
    peak: int  # most messages received in any one second
    admitted_peak: int  # most let through by the limiter in any one second (all workers)
    chats: list[str]
    reply_seconds: float | None  # from the staff reply's commit to the fake
    rss: list[tuple[float, float]]


def most_in_one_second(times: list[float]) -> int:
    most = first = 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def queue_staff_reply(factory: sessionmaker, chat: str) -> None:  # type: ignore[type-arg]
    with factory.begin() as session:
        enqueue(
            session=session,
            channel="telegram",
            address=chat,
            reply=OutboundReply("Cán bộ trả lời: chúng tôi đã nhận được yêu cầu của bạn."),
            kind="staff_reply",
            conversation_id=f"telegram:{chat}",
        )


def measure_sending(
    factory: sessionmaker,  # type: ignore[type-arg]
    url: str,
    redis_url: str,
    rate: int,
    workers: int,
    seconds: float,
    reply_chat: str,
) -> Sending:
    """Runs `workers` outbound worker processes against the fake Bot API for `seconds`, with
    a staff reply queued half-way."""
    fake = FakeTelegramAPI().start()
    spawn = multiprocessing.get_context("spawn")
    stop = spawn.Event()
    rss = spawn.Queue()
    readies = [spawn.Event() for _ in range(workers)]
    processes = [
        spawn.Process(
            target=worker_process, args=(url, redis_url, fake.url, rate, ready, stop, rss)
        )
        for ready in readies
    ]
    try:
        for process in processes:
            process.start()
        for ready in readies:
            ready.wait(60)
        started = time.monotonic()
        time.sleep(seconds / 2)
        queue_staff_reply(factory, reply_chat)
        queued = time.monotonic()
        time.sleep(max(0.0, started + seconds - time.monotonic()))
        stop.set()
        reports = [rss.get(timeout=60) for _ in processes]
        for process in processes:
            process.join(60)
        sent = fake.sent()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        fake.stop()
    times = [c.at for c in sent]
    chats = [str(c.params["chat_id"]) for c in sent]
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    reply = next((c.at for c in sent if str(c.params["chat_id"]) == reply_chat), None)
    return Sending(
        sent=len(sent),
        rate=(len(sent) - 1) / span if span > 0 else 0.0,
        peak=most_in_one_second(times),
        admitted_peak=most_in_one_second(sorted(t for *_, ts in reports for t in ts)),
        chats=chats,
        reply_seconds=reply - queued if reply is not None else None,
        rss=[(before, after) for before, after, _ in reports],
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="PostgreSQL URL (a scratch schema is made)")
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--redis-url", required=True, help="the rate limiter's Redis")
    parser.add_argument("--send-seconds", type=float, default=60.0)
    parser.add_argument("--rates", type=lambda v: [int(r) for r in v.split(",")], default=[30, 200])
    parser.add_argument("--workers", type=int, default=2, help="also run with this many")
    args = parser.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{args.url}{'&' if '?' in args.url else '?'}options=-csearch_path%3D{schema}"
    print(f"start: {load()}")
    try:
        upgrade(url)
        engine = make_engine(url)
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        db_session.get_sessionmaker = lambda: factory  # type: ignore[assignment]
        n = args.subscribers
        t = time.perf_counter()
        fill(factory, n)
        with engine.begin() as conn:  # statistics, as autovacuum keeps them in production
            conn.execute(text("ANALYZE"))
        print(f"setup: {n} subscribers in {time.perf_counter() - t:.1f} s")
        with factory.begin() as session:
            author = make_user(session, role=Role.ADMIN, username="bench.author")
            approver = make_user(session, role=Role.ADMIN, username="bench.approver")

        base_n = max(1, n // 50)
        t = time.perf_counter()
        with factory() as session:
            for i in range(base_n):
                enqueue(
                    session=session,
                    channel="telegram",
                    address=str(i),
                    reply=OutboundReply(TEXT),
                    kind="bench_baseline",
                )
            baseline = time.perf_counter() - t
            session.rollback()
        print(
            f"baseline 1: enqueue() one by one, {base_n} messages: {baseline:.2f} s "
            f"(≈ {baseline * n / base_n:.1f} s for {n}); {load()}"
        )
        floor = floor_insert(factory, n)
        print(f"baseline 2: one bare INSERT … SELECT of {n} outbound rows: {floor:.2f} s")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # the baselines' rolled-back rows, as autovacuum clears them in production
            conn.execute(text("VACUUM ANALYZE outbound_messages"))

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
            f"fan-out: {copies} copies ({queued} outbound rows) in {batches + 1} batches, "
            f"{elapsed:.2f} s ({copies / elapsed:,.0f}/s), status {status}; {load()}"
        )
        if steps:
            print(
                f"batch time: first {steps[0] * 1000:.0f} ms, last {steps[-1] * 1000:.0f} ms, "
                f"longest {max(steps) * 1000:.0f} ms"
            )
        print(
            f"memory: RSS {before:.0f} MB before, {after:.0f} MB after ({after - before:+.0f} MB)"
        )
        print(f"duplicates: {queued - distinct} (outbound rows {queued}, residents {distinct})")

        now = utcnow()
        with factory() as session:
            t = time.perf_counter()
            direct = claim_due(session=session, channels=["telegram"], now=now)
            copies_claimed = claim_advisory_round(
                session=session, budgets={"telegram": 30}, now=now
            ).messages
            claim = time.perf_counter() - t
            session.rollback()
        print(
            f"outbound worker: one round's claims ({len(direct)} direct, {len(copies_claimed)} "
            f"advisory copies) among {queued} due rows: {claim * 1000:.1f} ms"
        )
        queue_staff_reply(factory, "42")  # one direct message due, as in a busy hour
        now = utcnow()
        print("EXPLAIN ANALYZE, advisory claim (30 copies):")
        print(explain(factory, advisories_due(channel="telegram", now=now, limit=30)))
        print("EXPLAIN ANALYZE, direct claim (1 staff reply among the copies):")
        print(explain(factory, direct_due(channels=["telegram"], now=now, limit=20)))
        chats: list[str] = []
        for rate in args.rates:
            for workers in sorted({1, args.workers}):
                run = measure_sending(
                    factory,
                    url,
                    args.redis_url,
                    rate,
                    workers,
                    args.send_seconds,
                    f"9{rate}{workers}",
                )
                chats += run.chats
                rss = ", ".join(f"{a:.0f} → {b:.0f} MB" for a, b in run.rss)
                reply = (
                    f"{run.reply_seconds:.2f} s" if run.reply_seconds is not None else "not sent"
                )
                print(
                    f"sending at {rate}/s, {workers} worker(s): {run.sent} messages, "
                    f"{run.rate:.1f}/s ({(run.rate - rate) / rate * 100:+.1f} % of the limit), "
                    f"most in any 1 s: {run.admitted_peak} let through by the limiter, {run.peak} "
                    f"received by the fake; staff reply queued mid-run reached the fake in "
                    f"{reply}; RSS {rss}; {load()}"
                )
        print(
            f"duplicates at the fake over all runs: {len(chats) - len(set(chats))} of {len(chats)}"
        )

        second = sending_advisory(factory, author, approver)
        stop_at: list[float] = []

        def fan() -> None:
            run_fan_out(advisory_id=second)
            stop_at.append(time.perf_counter())

        worker = threading.Thread(target=fan)
        worker.start()
        time.sleep(min(2.0, elapsed / 4))
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
            f"{open_left} left open (withdrawn as skipped:cancelled); {load()}"
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
