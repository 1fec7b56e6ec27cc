"""Webhook acknowledgement under load, and replies lost when the platform fails sends.

Starts the web app with real uvicorn on a free port (worker in process, Telegram and Zalo
pointed at the local fakes that fail a share of sends at random), fires N deliveries with C
at a time through httpx, and prints p50/p95/p99 of the time to the 200. Then waits for the
worker and prints how many replies reached the fake platform. Rasa is not started: each turn
gets the pipeline's "system busy" reply, so the figures are those of the channel path.

    .venvs/app/bin/python scripts/bench_webhooks.py [--deliveries 1000] [--concurrency 100]
        [--failure-rate 0.3] [--redis-url redis://127.0.0.1:6379/13]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db.migrate import upgrade  # noqa: E402
from connectors.zalo.signature import signature_header  # noqa: E402
from tests.fakes import telegram_api, zalo_api  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402
from tests.fakes.zalo_api import FakeZaloAPI  # noqa: E402

TELEGRAM_SECRET = "bench-telegram-secret"
ZALO_KEY = "bench-zalo-oa-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def telegram_update(i: int) -> tuple[bytes, dict[str, str]]:
    chat = 900000 + i % 200
    body = {
        "update_id": 5_000_000 + i,
        "message": {
            "message_id": i,
            "from": {"id": chat, "is_bot": False, "first_name": "B"},
            "chat": {"id": chat, "type": "private"},
            "date": int(time.time()),
            "text": f"tin nhắn {i}",
        },
    }
    headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
    }
    return json.dumps(body).encode(), headers


def zalo_event(i: int) -> tuple[bytes, dict[str, str]]:
    timestamp = str(int(time.time() * 1000))
    body = json.dumps(
        {
            "app_id": zalo_api.APP_ID,
            "event_name": "user_send_text",
            "timestamp": timestamp,
            "sender": {"id": str(800000 + i % 200)},
            "recipient": {"id": "1"},
            "message": {"text": f"tin nhắn {i}", "msg_id": f"bench{i}"},
        }
    ).encode()
    header = signature_header(
        app_id=zalo_api.APP_ID, body=body, timestamp=timestamp, oa_secret_key=ZALO_KEY
    )
    return body, {"Content-Type": "application/json", "X-ZEvent-Signature": header}


async def fire(
    url: str, bodies: list[tuple[bytes, dict[str, str]]], concurrency: int
) -> tuple[list[float], int]:
    """Posts every body, `concurrency` at a time; returns the timings of the 200s (after a
    warm-up of one round) and the number of deliveries that failed."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    timings: list[float] = []
    failures = 0
    slots = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:

        async def one(body: bytes, headers: dict[str, str]) -> None:
            nonlocal failures
            async with slots:
                started = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    failures += 1
                    print(f"  {url}: {type(exc).__name__}", file=sys.stderr)
                    return
                if response.status_code != 200:
                    failures += 1
                    print(f"  {url}: HTTP {response.status_code}", file=sys.stderr)
                    return
                timings.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(one(b, h) for b, h in bodies[:concurrency]))  # warm-up
        timings.clear()
        await asyncio.gather(*(one(b, h) for b, h in bodies[concurrency:]))
    return timings, failures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--failure-rate", type=float, default=0.3)
    parser.add_argument("--redis-url", default=os.environ.get("HOTLINE_BENCH_REDIS_URL", ""))
    parser.add_argument(
        "--no-worker", action="store_true", help="acknowledgement only: no worker in the app"
    )
    args = parser.parse_args()

    telegram = FakeTelegramAPI().start()
    zalo = FakeZaloAPI().start()
    telegram.random_failure_rate = zalo.random_failure_rate = args.failure_rate
    workdir = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    upgrade(database_url)
    port = free_port()
    env = {
        **os.environ,
        "ENV": "test",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "RASA_URL": f"http://127.0.0.1:{free_port()}",  # nothing there: "system busy" replies
        "TELEGRAM_BOT_TOKEN": telegram_api.TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE_URL": telegram.url,
        "ZALO_APP_ID": zalo_api.APP_ID,
        "ZALO_APP_SECRET": zalo_api.APP_SECRET,
        "ZALO_OA_SECRET_KEY": ZALO_KEY,
        "ZALO_ACCESS_TOKEN": "access-0",
        "ZALO_REFRESH_TOKEN": "refresh-0",
        "ZALO_API_BASE_URL": zalo.url,
        "ZALO_OAUTH_BASE_URL": zalo.url,
        "OUTBOUND_BACKOFF_BASE_SECONDS": "0.05",
        "OUTBOUND_BACKOFF_MAX_SECONDS": "1",
        "REDIS_URL": args.redis_url,
        "WORKER_IN_PROCESS": "false" if args.no_worker else "true",
    }
    if not args.redis_url:
        env.pop("REDIS_URL")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bot.web.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        n, c = args.deliveries, args.concurrency
        print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        print(
            f"{n} deliveries per channel, {c} at a time, {args.failure_rate:.0%} of sends failing"
            f" ({'Redis ' + args.redis_url if args.redis_url else 'in-process Redis stand-in'})"
        )
        results = {}
        for name, path, make in (
            ("telegram", "/webhooks/telegram", telegram_update),
            ("zalo", "/webhooks/zalo", zalo_event),
        ):
            timings, failed = asyncio.run(fire(base + path, [make(i) for i in range(n + c)], c))
            results[name] = timings
            print(
                f"  {name:<9} ack ms  p50 {percentile(timings, 50):6.1f}  "
                f"p95 {percentile(timings, 95):6.1f}  p99 {percentile(timings, 99):6.1f}  "
                f"max {max(timings):6.1f}  mean {statistics.mean(timings):6.1f}  "
                f"(failed deliveries: {failed})"
            )
        if args.no_worker:
            return 0
        expected = n + c
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            got_t, got_z = len(telegram.sent()), len(zalo.sent)
            if got_t >= expected and got_z >= expected:
                break
            time.sleep(0.5)
        got_t, got_z = len(telegram.sent()), len(zalo.sent)
        print(
            f"  replies delivered: telegram {got_t}/{expected} (lost {expected - got_t}), "
            f"zalo {got_z}/{expected} (lost {expected - got_z})"
        )
        return 0
    finally:
        server.terminate()
        server.wait(10)
        telegram.stop()
        zalo.stop()


if __name__ == "__main__":
    sys.exit(main())
