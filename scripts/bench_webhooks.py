"""Webhook acknowledgement under load, and replies lost when the platform fails sends.

Starts the web app with real uvicorn on a free port (a private redis-server unless told
otherwise; the worker out of the process, as in production) and drives it with
scripts/http_load.py, a raw-socket client in a process of its own: a sustained rate (500
deliveries/s) and a burst (200 at once), on GET /healthz first — the floor of this client on
this machine in the same run — then on both webhooks. Prints p50/p95/p99 and the load average.

`--replies` instead runs the worker in the app with the fakes failing a share of sends, fires
deliveries through httpx and counts the replies that reached the fake platforms. Rasa is not
started: each turn gets the pipeline's "system busy" reply.

    .venvs/app/bin/python scripts/bench_webhooks.py [--rate 500] [--seconds 10] [--burst 200]
        [--web-workers 1] [--redis-url URL | --stand-in]
    .venvs/app/bin/python scripts/bench_webhooks.py --replies [--deliveries 1000]
        [--concurrency 100] [--failure-rate 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db.migrate import upgrade  # noqa: E402
from connectors.zalo.signature import signature_header  # noqa: E402
from scripts.benchlib import free_port  # noqa: E402
from tests.chaos.servers import PrivateRedis  # noqa: E402
from tests.fakes import telegram_api, zalo_api  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402
from tests.fakes.zalo_api import FakeZaloAPI  # noqa: E402

TELEGRAM_SECRET = "bench-telegram-secret"  # noqa: S105 — a name, not a secret
ZALO_KEY = "bench-zalo-oa-key"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


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


def load_run(
    host: str, port: int, mode: str, requests: list[list[Any]], *, rate: float, connections: int
) -> dict[str, Any]:
    """Runs scripts/http_load.py in a process of its own; its JSON result."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
        json.dump(
            {
                "host": host,
                "port": port,
                "mode": mode,
                "requests": requests,
                "rate": rate,
                "connections": connections,
            },
            spec,
        )
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "http_load.py"), spec.name],
        capture_output=True,
        text=True,
        check=True,
    )
    os.unlink(spec.name)
    return dict(json.loads(out.stdout))


def as_requests(bodies: list[tuple[bytes, dict[str, str]]], path: str) -> list[list[Any]]:
    return [["POST", path, headers, body.decode()] for body, headers in bodies]


def healthz_requests(n: int) -> list[list[Any]]:
    return [["GET", "/healthz", {}, ""] for _ in range(n)]


def ack_figures(port: int, args: argparse.Namespace) -> list[str]:
    """The acknowledgement table: a trivial endpoint (the client's own floor) and both
    webhooks, at a sustained rate and in one burst."""
    rows = [
        "| endpoint | load | deliveries | 2xx | achieved /s | p50 ms | p95 ms | p99 ms | max ms "
        "| client CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    sustained = int(args.rate * args.seconds)
    counter = iter(range(10**9))

    def batch(kind: str, n: int) -> list[list[Any]]:
        if kind == "healthz":
            return healthz_requests(n)
        make, path = (
            (telegram_update, "/webhooks/telegram")
            if kind == "telegram"
            else (zalo_event, "/webhooks/zalo")
        )
        return as_requests([make(next(counter)) for _ in range(n)], path)

    for kind in ("healthz", "telegram", "zalo"):
        # Warm-up (first calls import and connect), not measured.
        load_run("127.0.0.1", port, "rate", batch(kind, 200), rate=200, connections=20)
        for mode, n in (("rate", sustained), ("burst", args.burst)):
            result = load_run(
                "127.0.0.1",
                port,
                mode,
                batch(kind, n),
                rate=args.rate,
                connections=args.connections,
            )
            t = result["timings"] or [float("nan")]
            ok = sum(v for k, v in result["statuses"].items() if k.startswith("2"))
            label = (
                f"{args.rate:.0f}/s for {args.seconds:.0f} s"
                if mode == "rate"
                else (f"{n} at once")
            )
            rows.append(
                f"| {kind} | {label} | {n} | {ok} | {n / result['seconds']:.0f} | "
                f"{percentile(t, 50):.1f} | {percentile(t, 95):.1f} | {percentile(t, 99):.1f} | "
                f"{max(t):.1f} | {result['client_cpu_seconds']:.1f} |"
            )
            others = {k: v for k, v in result["statuses"].items() if not k.startswith("2")}
            if others:
                print(f"  {kind} {mode}: not 2xx: {others}", file=sys.stderr)
    return rows


def start_server(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    argv = [
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
    ]
    if workers > 1:
        argv += ["--workers", str(workers)]
    server = subprocess.Popen(argv, cwd=ROOT, env=env)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the web app did not start")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=500, help="sustained deliveries/s")
    parser.add_argument("--seconds", type=float, default=10, help="how long to sustain it")
    parser.add_argument("--burst", type=int, default=200, help="deliveries arriving at once")
    parser.add_argument("--connections", type=int, default=64, help="client sockets (rate)")
    parser.add_argument("--web-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("HOTLINE_BENCH_REDIS_URL", ""),
        help="default: a private redis-server started for the run",
    )
    parser.add_argument(
        "--stand-in",
        action="store_true",
        help="the in-process Redis stand-in instead of a redis-server",
    )
    parser.add_argument(
        "--replies",
        action="store_true",
        help="instead: replies lost with the worker on and failing sends",
    )
    parser.add_argument("--deliveries", type=int, default=1000, help="--replies: per channel")
    parser.add_argument("--concurrency", type=int, default=100, help="--replies: in flight")
    parser.add_argument("--failure-rate", type=float, default=0.3, help="--replies")
    args = parser.parse_args()

    telegram = FakeTelegramAPI().start()
    zalo = FakeZaloAPI().start()
    telegram.random_failure_rate = zalo.random_failure_rate = args.failure_rate
    workdir = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    upgrade(database_url)
    redis_server = None
    redis_url = args.redis_url
    if not redis_url and not args.stand_in:
        redis_server = PrivateRedis(workdir / "redis")
        redis_server.start()
        redis_url = redis_server.url
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
        "REDIS_URL": redis_url,
        # Acknowledgement figures: the worker runs elsewhere in production (`hotline worker`).
        "WORKER_IN_PROCESS": "true" if args.replies else "false",
    }
    if not redis_url:
        env.pop("REDIS_URL")
    server = start_server(env, port, args.web_workers)
    try:
        load_before = os.getloadavg()
        print(
            f"load average (1, 5 min) before: {load_before[0]:.2f}, {load_before[1]:.2f} on "
            f"{os.cpu_count()} CPUs; {args.web_workers} uvicorn worker(s); "
            f"{'Redis ' + redis_url if redis_url else 'in-process Redis stand-in'}"
        )
        if not args.replies:
            rows = ack_figures(port, args)
            load_after = os.getloadavg()
            print("\n".join(rows))
            print(f"load average (1, 5 min) after: {load_after[0]:.2f}, {load_after[1]:.2f}")
            return 0
        return replies_lost(f"http://127.0.0.1:{port}", args, telegram, zalo)
    finally:
        server.terminate()
        server.wait(10)
        telegram.stop()
        zalo.stop()
        if redis_server is not None:
            redis_server.stop()


def replies_lost(
    base: str, args: argparse.Namespace, telegram: FakeTelegramAPI, zalo: FakeZaloAPI
) -> int:
    """Deliveries through httpx with the worker on; how many replies reached the platform."""
    n, c = args.deliveries, args.concurrency
    print(f"{n} deliveries per channel, {c} at a time, {args.failure_rate:.0%} of sends failing")
    for name, path, make in (
        ("telegram", "/webhooks/telegram", telegram_update),
        ("zalo", "/webhooks/zalo", zalo_event),
    ):
        timings, failed = asyncio.run(fire(base + path, [make(i) for i in range(n + c)], c))
        print(
            f"  {name:<9} ack ms (httpx)  p50 {percentile(timings, 50):6.1f}  "
            f"p95 {percentile(timings, 95):6.1f}  (failed deliveries: {failed})"
        )
    expected = n + c
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if len(telegram.sent()) >= expected and len(zalo.sent) >= expected:
            break
        time.sleep(0.5)
    got_t, got_z = len(telegram.sent()), len(zalo.sent)
    print(
        f"  replies delivered: telegram {got_t}/{expected} (lost {expected - got_t}), "
        f"zalo {got_z}/{expected} (lost {expected - got_z})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
