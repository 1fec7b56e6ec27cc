"""Live console figures: a resident message reaching 20 open consoles, a staff reply reaching
the resident's web chat page, with 50 resident conversations active.

Starts the web app with real uvicorn on a free port (one process, worker in process, SQLite
or --database-url, in-process live bus or Redis pub/sub with --redis-url). Rasa is not needed:
every conversation is in the console's hands (queued, then claimed), which is the path being
measured. The client (this process) opens 20 console event streams (`/console/events`) and 50
web chat event streams (`/api/chat/events`), then:

1. resident → consoles: each conversation posts a message at a random moment within each wave;
   the latency is from the POST's start to the event at each of the 20 consoles;
2. staff → resident: the staff member posts a reply to each conversation (random moments); the
   latency is from the POST's start to the message at that resident's page.

Baselines in the same run: the same two paths with one console and one conversation and
nothing else going on, and `GET /healthz` while the load runs. The client's own event-loop lag
is measured too: if it is large, the figures say more about this client than about the server.

    .venvs/app/bin/python scripts/bench_console.py [--waves 5] [--consoles 20]
        [--conversations 50] [--redis-url redis://127.0.0.1:6379/8] [--database-url …]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bot.db.migrate import upgrade  # noqa: E402
from bot.handoff.models import HandoffReason  # noqa: E402
from bot.handoff.service import request_handoff  # noqa: E402
from bot.users.models import Role  # noqa: E402
from bot.users.service import create_user  # noqa: E402
from scripts.benchlib import free_port  # noqa: E402

PASSWORD = "Mat-khau-do-hieu-nang-7"  # noqa: S105 — a name, not a secret
WAVE_SECONDS = 2.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def row(name: str, values: list[float]) -> str:
    if not values:
        return f"  {name:<44} no samples"
    ms = [v * 1000 for v in values]
    return (
        f"  {name:<44} n {len(ms):5d}  p50 {percentile(ms, 50):7.1f} ms  "
        f"p95 {percentile(ms, 95):7.1f} ms  max {max(ms):7.1f} ms"
    )


class Stream:
    """One server-sent event stream; calls `on_event(name, data, received_at)` per event."""

    def __init__(self, client: httpx.AsyncClient, path: str, on_event: Callable) -> None:  # type: ignore[type-arg]
        self.ready = asyncio.Event()
        self._task = asyncio.create_task(self._run(client, path, on_event))

    async def _run(self, client: httpx.AsyncClient, path: str, on_event: Callable) -> None:  # type: ignore[type-arg]
        async with client.stream("GET", path, timeout=None) as response:
            response.raise_for_status()
            name = ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    now = time.perf_counter()
                    if name == "ready":
                        self.ready.set()
                    else:
                        on_event(name, json.loads(line[5:].strip()), now)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await self._task


async def login(client: httpx.AsyncClient, username: str) -> str:
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "no login form"
    response = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token[1]}
    )
    assert response.status_code in (200, 303), response.status_code
    account = await client.get("/account")
    token = re.search(r'name="csrf_token" value="([^"]+)"', account.text)
    assert token, "not signed in"
    return token[1]


async def loop_lag(stop: asyncio.Event, samples: list[float]) -> None:
    """How late this client's event loop wakes up from a 10 ms sleep."""
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.01)
        samples.append(time.perf_counter() - start - 0.01)


async def healthz(client: httpx.AsyncClient, stop: asyncio.Event, samples: list[float]) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await client.get("/healthz")
        samples.append(time.perf_counter() - start)
        await asyncio.sleep(0.1)


async def run(base: str, database_url: str, args: argparse.Namespace) -> None:
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as staff:
        token = await login(staff, args.username)
        # Residents: one browser (cookie) each, their conversation queued then claimed.
        residents = []
        for _ in range(args.conversations + 1):
            client = httpx.AsyncClient(base_url=base, limits=limits, timeout=30)
            await client.get("/")
            residents.append(client)
        engine = create_engine(database_url)
        with Session(engine) as session, session.begin():
            handoffs = [
                request_handoff(
                    session=session,
                    conversation_id=f"web:{c.cookies['hotline_chat']}",
                    reason=HandoffReason.ASKED,
                ).id
                for c in residents
            ]
        engine.dispose()
        for hid in handoffs:
            r = await staff.post(f"/console/c/{hid}/claim", data={"csrf_token": token})
            assert r.status_code in (200, 303), r.status_code

        async def measure(
            consoles: int, conversations: list[int], waves: int
        ) -> tuple[list[float], list[float]]:
            sent: dict[tuple[int, int], float] = {}
            to_console: list[float] = []
            to_page: list[float] = []
            wave_of: dict[int, int] = {}

            def on_console(name: str, data: dict, at: float) -> None:  # type: ignore[type-arg]
                if name == "message":
                    key = (data["handoff_id"], wave_of.get(data["handoff_id"], -1))
                    if key in sent:
                        to_console.append(at - sent[key])

            def on_page(index: int) -> Callable:  # type: ignore[type-arg]
                def handler(name: str, data: dict, at: float) -> None:  # type: ignore[type-arg]
                    key = (-handoffs[index] - 1, wave_of.get(-handoffs[index] - 1, -1))
                    if key in sent:
                        to_page.append(at - sent[key])

                return handler

            streams = [Stream(staff, "/console/events", on_console) for _ in range(consoles)]
            streams += [Stream(residents[i], "/api/chat/events", on_page(i)) for i in conversations]
            await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in streams)), 30)

            async def resident_says(i: int, wave: int) -> None:
                await asyncio.sleep(random.uniform(0, WAVE_SECONDS))
                wave_of[handoffs[i]] = wave
                sent[(handoffs[i], wave)] = time.perf_counter()
                r = await residents[i].post("/api/chat/messages", json={"text": f"tin {wave}"})
                assert r.status_code == 200, r.status_code

            async def staff_says(i: int, wave: int) -> None:
                await asyncio.sleep(random.uniform(0, WAVE_SECONDS))
                key = -handoffs[i] - 1
                wave_of[key] = wave
                sent[(key, wave)] = time.perf_counter()
                r = await staff.post(
                    f"/console/c/{handoffs[i]}/reply",
                    data={"csrf_token": token, "text": f"Nhân viên trả lời {wave}"},
                )
                assert r.status_code in (200, 303), r.status_code

            for wave in range(waves):
                await asyncio.gather(*(resident_says(i, wave) for i in conversations))
                await asyncio.sleep(1.0)
            for wave in range(waves):
                await asyncio.gather(*(staff_says(i, wave) for i in conversations))
                await asyncio.sleep(1.0)
            await asyncio.sleep(2.0)
            for s in streams:
                await s.close()
            expected = waves * len(conversations)
            print(
                f"  (received {len(to_console)}/{expected * consoles} console events, "
                f"{len(to_page)}/{expected} page messages)"
            )
            return to_console, to_page

        print("baseline: 1 console, 1 conversation, nothing else")
        quiet_console, quiet_page = await measure(1, [args.conversations], args.waves * 2)
        print(row("resident message → console", quiet_console))
        print(row("staff reply → web chat page", quiet_page))

        stop = asyncio.Event()
        lag: list[float] = []
        health: list[float] = []
        side = [
            asyncio.create_task(loop_lag(stop, lag)),
            asyncio.create_task(healthz(residents[-1], stop, health)),
        ]
        print(
            f"load: {args.consoles} consoles open, {args.conversations} conversations active, "
            f"{args.waves} waves each way"
        )
        console_times, page_times = await measure(
            args.consoles, list(range(args.conversations)), args.waves
        )
        stop.set()
        await asyncio.gather(*side)
        print(row("resident message → each console", console_times))
        print(row("staff reply → web chat page", page_times))
        print(row("GET /healthz during the load (baseline)", health))
        print(row("client event-loop lag (10 ms sleep)", lag))
        for client in residents:
            await client.aclose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--waves", type=int, default=5)
    parser.add_argument("--consoles", type=int, default=20)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-console-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    upgrade(database_url)
    engine = create_engine(database_url)
    with Session(engine) as session, session.begin():
        args.username = create_user(
            session=session,
            username=f"bench{random.randrange(10**6)}",
            role=Role.STAFF,
            display_name="Nhân viên đo",
            team_slugs=[],
            password=PASSWORD,
            actor="bench",
        ).user.username
    engine.dispose()
    port = free_port()
    env = {
        **os.environ,
        "ENV": "test",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "RASA_URL": f"http://127.0.0.1:{free_port()}",
        "ACTION_SERVER_URL": f"http://127.0.0.1:{free_port()}",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "REDIS_URL": args.redis_url,
        "JOBS_STREAM": f"hotline:jobs:bench{random.randrange(10**6)}",
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
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        backend = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
        bus = f"Redis pub/sub ({args.redis_url})" if args.redis_url else "in-process live bus"
        print(
            f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {backend}; {bus}; "
            "one uvicorn process, delivery worker in process"
        )
        asyncio.run(run(base, database_url, args))
        return 0
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    sys.exit(main())
