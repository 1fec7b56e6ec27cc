"""Per-core figures for the capacity plan, and the plan they give.

Starts one instance of each role as `hotline run --role …` would (Rasa, action server, web
app with WORKER_IN_PROCESS=false, one worker) on PostgreSQL/Redis, the Telegram Bot API
faked, and measures, by the CPU seconds each process used (from /proc, so the figures hold
on a machine others share; wall-clock rates are printed beside them):

  turns      residents' form turns through the web app (health declarations to the end):
             turns per CPU second of Rasa, of the action server, of the web app
  acks       Telegram webhooks acknowledged (the turn queued): acks per web CPU second,
             beside /healthz answered the same way (the client's and uvicorn's floor)
  jobs       those queued turns answered by the worker (a fixed reply, no Rasa): jobs per
             worker CPU second
  outbound   messages queued in the database (team notifications) sent by the worker
  in-process the same webhooks to a web app running the workers itself (the default)

Then it prints the capacity plan for the assumptions given (see --help).

    .venvs/app/bin/python scripts/bench_capacity.py --redis-url redis://127.0.0.1:6379/14 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/hl_bench
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.conversations.messages import OutboundReply  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.supervisor import ProcessSpec, Supervisor, role_specs  # noqa: E402
from scripts.bench_webhooks import fire, percentile  # noqa: E402
from scripts.benchlib import cpu_seconds, free_port  # noqa: E402
from tests.fakes import telegram_api  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402

TELEGRAM_SECRET = "bench-telegram-secret"  # noqa: S105 — a test value, not a secret
FORM = [  # a health declaration from start to saved (as tests/e2e/test_requests_e2e.py)
    "tôi muốn khai báo y tế",
    "/affirm",
    "e tên nguyễn văn an ạ",
    "1985",
    "0912 345 678",
    "phuong hoan kiem ha noi",
    "sốt với ho",
    "/deny",
    "không đi đâu",
    "2 mũi",
    "/affirm",
]


@dataclass
class Meter:
    """CPU seconds of some processes and wall time over one phase."""

    processes: dict[str, int]
    started: float = 0.0
    cpu: dict[str, float] | None = None

    def __enter__(self) -> Meter:
        self.cpu = {name: cpu_seconds(pid) for name, pid in self.processes.items()}
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.cpu is None:
            raise RuntimeError("not started")
        self.wall = time.perf_counter() - self.started
        self.cpu = {name: cpu_seconds(pid) - self.cpu[name] for name, pid in self.processes.items()}

    def per_cpu(self, name: str, count: int) -> float:
        if self.cpu is None:
            raise RuntimeError("not measured")
        return count / self.cpu[name] if self.cpu[name] > 0 else math.inf


def wait_for(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the stack")
        time.sleep(0.05)


async def form_turns(web_url: str, conversations: int) -> tuple[list[float], int, int, int]:
    """Runs FORM in `conversations` web chats at once; (latencies, turns, replies, busy)."""
    latencies: list[float] = []
    replies = busy = 0

    async def one() -> None:
        nonlocal replies, busy
        cookies = {"hotline_chat": uuid.uuid4().hex}
        async with httpx.AsyncClient(base_url=web_url, cookies=cookies, timeout=120) as client:
            for text in FORM:
                started = time.perf_counter()
                response = await client.post("/api/chat/messages", json={"text": text})
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()
                answer = response.json()["replies"]
                if any("hệ thống đang bận" in r["text"] for r in answer):
                    busy += 1  # a check timed out under load: the form goes on from there
                replies += len(answer)

    await asyncio.gather(*(one() for _ in range(conversations)))
    return latencies, len(latencies), replies, busy


def telegram_bodies(count: int, offset: int, max_chars: int) -> list[tuple[bytes, dict[str, str]]]:
    """Webhook deliveries whose turn needs no Rasa (a message over the length limit)."""
    text = "a" * (max_chars + 1)
    headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
    }
    bodies = []
    for i in range(count):
        chat = 700_000 + (offset + i) % 500
        update = {
            "update_id": 9_000_000 + offset + i,
            "message": {
                "message_id": offset + i,
                "from": {"id": chat, "is_bot": False, "first_name": "B"},
                "chat": {"id": chat, "type": "private"},
                "date": int(time.time()),
                "text": text,
            },
        }
        bodies.append((json.dumps(update).encode(), headers))
    return bodies


def measure_turns(
    web_url: str, processes: dict[str, int], args: argparse.Namespace, figures: dict[str, float]
) -> list[tuple[str, str, str, str]]:
    """Form turns through the web app: turns per CPU second of Rasa, actions and web."""
    rows: list[tuple[str, str, str, str]] = []
    asyncio.run(form_turns(web_url, 2))  # warm-up: Rasa loads its graphs on first use
    with Meter(processes) as turns_meter:
        latencies: list[float] = []
        turns = replies = busy = 0
        for _ in range(args.rounds):
            lat, t, r, b = asyncio.run(form_turns(web_url, args.conversations))
            latencies += lat
            turns += t
            replies += r
            busy += b
    for name in processes:
        figures[f"turns/{name}"] = turns_meter.per_cpu(name, turns)
        rows.append(
            (
                f"form turn ({name})",
                f"{turns_meter.per_cpu(name, turns):.1f}",
                f"{turns / turns_meter.wall:.1f}",
                f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
                f"p95 {percentile(latencies, 95) * 1000:.0f} ms, {args.conversations} at once, "
                f"{busy} 'busy'",
            )
        )
    figures["replies_per_turn"] = replies / turns
    return rows


def start(specs: list[ProcessSpec], log_dir: Path) -> Supervisor:
    supervisor = Supervisor(specs, echo=False, log_dir=log_dir)
    supervisor.start()
    failed = supervisor.wait_ready(timeout=400)
    if failed is not None:
        supervisor.stop()
        raise SystemExit(f"{failed.name} did not start:\n" + "\n".join(failed.tail))
    return supervisor


def pid(spec: ProcessSpec) -> int:
    if spec.process is None:
        raise RuntimeError(f"{spec.name} is not running")
    return spec.process.pid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default=os.environ.get("HOTLINE_BENCH_REDIS_URL", ""))
    parser.add_argument("--database-url", default="", help="PostgreSQL (default: SQLite file)")
    parser.add_argument("--conversations", type=int, default=10, help="concurrent form runs")
    parser.add_argument("--rounds", type=int, default=2, help="form runs per conversation slot")
    parser.add_argument("--webhooks", type=int, default=2000)
    parser.add_argument("--outbound", type=int, default=1000)
    parser.add_argument("--no-rasa", action="store_true", help="webhooks and workers only")
    plan = parser.add_argument_group("capacity plan assumptions")
    plan.add_argument("--residents", type=int, default=3_000_000)
    plan.add_argument("--writing-share", type=float, default=0.02, help="of residents, peak hour")
    plan.add_argument("--turns", type=float, default=12, help="turns per conversation")
    plan.add_argument("--burst", type=float, default=2.0, help="peak minute ÷ peak-hour mean")
    plan.add_argument("--notifications", type=float, default=0.3, help="per conversation")
    plan.add_argument("--utilisation", type=float, default=0.6, help="target CPU share")
    args = parser.parse_args()
    if not args.redis_url:
        raise SystemExit("--redis-url is needed: the web app and the worker share the queue")

    telegram = FakeTelegramAPI().start()
    workdir = Path(tempfile.mkdtemp(prefix="bench-capacity-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    upgrade(database_url)
    stream = f"hotline:jobs:bench-{uuid.uuid4().hex[:8]}"
    env = {
        "ENV": "test",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "REDIS_URL": args.redis_url,
        "RASA_URL": f"http://127.0.0.1:{free_port()}",
        "ACTION_SERVER_URL": f"http://127.0.0.1:{free_port()}",
        "RASA_TOKEN": uuid.uuid4().hex,
        "WORKER_IN_PROCESS": "false",
        "JOBS_STREAM": stream,
        "TELEGRAM_BOT_TOKEN": telegram_api.TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE_URL": telegram.url,
        # The Bot API's own limit (30/s) would measure Telegram, not the worker.
        "TELEGRAM_MESSAGES_PER_SECOND": "100000",
        "TELEGRAM_CHAT_INTERVAL_SECONDS": "0",
    }
    os.environ.update(env)
    settings = Settings()
    web_port = free_port()
    web, worker = specs = [
        *role_specs(settings, ["web"], port=web_port),
        *role_specs(settings, ["worker"]),
    ]
    if not args.no_rasa:
        specs += [*role_specs(settings, ["rasa"]), *role_specs(settings, ["actions"])]
    load_before = os.getloadavg()
    supervisor = start(specs, workdir / "log")
    web_url = f"http://127.0.0.1:{web_port}"
    rows: list[tuple[str, str, str, str]] = []
    figures: dict[str, float] = {}
    try:
        print(
            f"load average at start: {load_before[0]:.2f} on {os.cpu_count()} CPUs; logs {workdir}"
        )
        if not args.no_rasa:
            rasa, actions = specs[2:]
            processes = {"rasa": pid(rasa), "actions": pid(actions), "web": pid(web)}
            rows += measure_turns(web_url, processes, args, figures)

        # Webhook acknowledgement, the worker out of the web process; /healthz as the floor.
        n = args.webhooks
        with Meter({"web": pid(web)}) as floor:
            timings, _ = asyncio.run(fire_get(f"{web_url}/healthz", n, 50))
        rows.append(
            (
                "GET /healthz (floor)",
                f"{floor.per_cpu('web', n):.0f}",
                f"{n / floor.wall:.0f}",
                p(timings),
            )
        )
        bodies = telegram_bodies(n + 50, 0, settings.max_message_chars)
        sent_before = len(telegram.sent())
        # One meter over both: the worker answers while the webhooks still arrive.
        with Meter({"web": pid(web), "worker": pid(worker)}) as acks:
            timings, failures = asyncio.run(fire(f"{web_url}/webhooks/telegram", bodies, 50))
            acked = time.perf_counter() - acks.started
            wait_for(lambda: len(telegram.sent()) - sent_before >= n + 50, timeout=600)
        figures["acks/web"] = acks.per_cpu("web", n + 50)
        figures["jobs/worker"] = acks.per_cpu("worker", n + 50)
        rows.append(
            (
                "webhook ack (web)",
                f"{figures['acks/web']:.0f}",
                f"{n / acked:.0f}",
                p(timings) + f", 50 at once, {failures} failed",
            )
        )
        rows.append(
            (
                "queued turn answered (worker)",
                f"{figures['jobs/worker']:.0f}",
                f"{(n + 50) / acks.wall:.0f}",
                "fixed reply (no Rasa), sent to the fake Bot API",
            )
        )

        # Messages queued in the database (team notifications, staff replies, advisories).
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session

        from bot.outbound.service import enqueue

        engine = create_engine(database_url)
        sent_before = len(telegram.sent())
        with Meter({"worker": pid(worker)}) as outbound:
            with Session(engine) as session, session.begin():
                for i in range(args.outbound):
                    enqueue(
                        session=session,
                        channel="telegram",
                        address=str(800_000 + i),
                        reply=OutboundReply(f"Thông báo {i}"),
                        kind="team_notification",
                    )
            wait_for(lambda: len(telegram.sent()) - sent_before >= args.outbound, timeout=900)
        engine.dispose()
        figures["outbound/worker"] = outbound.per_cpu("worker", args.outbound)
        rows.append(
            (
                "outbound message sent (worker)",
                f"{figures['outbound/worker']:.0f}",
                f"{args.outbound / outbound.wall:.0f}",
                "from the database, leased in batches of 20",
            )
        )

        # The default: the workers inside the web app (its own queue, so the worker above
        # does not take its jobs).
        inproc_port = free_port()
        os.environ["WORKER_IN_PROCESS"] = "true"
        os.environ["JOBS_STREAM"] = stream + "-inproc"
        (inproc,) = role_specs(Settings(), ["web"], port=inproc_port)
        inproc.name = inproc.log_name = "web-inprocess"
        second = start([inproc], workdir / "log")
        try:
            bodies = telegram_bodies(n + 50, n + 50, settings.max_message_chars)
            sent_before = len(telegram.sent())
            with Meter({"web": pid(inproc)}) as mixed:
                timings, failures = asyncio.run(
                    fire(f"http://127.0.0.1:{inproc_port}/webhooks/telegram", bodies, 50)
                )
                acked = time.perf_counter() - mixed.started
                wait_for(lambda: len(telegram.sent()) - sent_before >= n + 50, timeout=600)
            rows.append(
                (
                    "ack + answer, workers in web",
                    f"{mixed.per_cpu('web', n + 50):.0f}",
                    f"{n / acked:.0f}",
                    p(timings) + f", {failures} failed; CPU counts answering them too",
                )
            )
        finally:
            second.stop()
    finally:
        supervisor.stop()
        telegram.stop()
    load_after = os.getloadavg()

    print(
        f"\nper-core figures (load average {load_before[0]:.2f} → {load_after[0]:.2f}, {os.cpu_count()} CPUs)"
    )
    print(f"{'what':<32} {'per CPU s':>10} {'per s (wall)':>13}  notes")
    for what, per_cpu, per_wall, note in rows:
        print(f"{what:<32} {per_cpu:>10} {per_wall:>13}  {note}")
    if not args.no_rasa:
        print(f"replies per form turn: {figures['replies_per_turn']:.2f}")
        print_plan(args, figures)
    return 0


async def fire_get(url: str, count: int, concurrency: int) -> tuple[list[float], int]:
    """GETs `url` `count` times, `concurrency` at a time (the client's own floor)."""
    timings: list[float] = []
    slots = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one() -> None:
            async with slots:
                started = time.perf_counter()
                (await client.get(url)).raise_for_status()
                timings.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(one() for _ in range(count)))
    return timings, 0


def p(timings: list[float]) -> str:
    if not timings:
        return "-"
    return f"p50 {percentile(timings, 50):.0f} ms, p95 {percentile(timings, 95):.0f} ms"


def print_plan(args: argparse.Namespace, figures: dict[str, float]) -> None:
    """Processes of each role for the peak the assumptions describe."""
    per_hour = args.residents * args.writing_share
    turns = per_hour * args.turns / 3600 * args.burst  # turns per second at the peak minute
    replies = turns * figures["replies_per_turn"]
    notifications = per_hour * args.notifications / 3600 * args.burst
    u = args.utilisation
    need = {
        "rasa": turns / figures["turns/rasa"] / u,
        "actions": turns / figures["turns/actions"] / u,
        # Webhooks are acknowledged by the web apps; each turn then runs in a worker as it
        # runs in the web app for the web chat (figures of the web chat path).
        "web": turns / figures["acks/web"] / u,
        "worker": (
            turns / figures["turns/web"]
            + replies / figures["jobs/worker"]
            + notifications / figures["outbound/worker"]
        )
        / u,
    }
    print(
        f"\ncapacity plan: {args.residents:,} residents, {args.writing_share:.1%} write in the peak"
        f" hour ({per_hour:,.0f} conversations), {args.turns:g} turns each, peak minute"
        f" {args.burst:g}× the hour's mean → {turns:.0f} turns/s, {replies:.0f} replies/s,"
        f" {notifications:.1f} team notifications/s; cores kept at {u:.0%}"
    )
    for role, cores in need.items():
        print(f"  {role:<8} {cores:6.1f} cores → {math.ceil(cores)} processes")


if __name__ == "__main__":
    sys.exit(main())
