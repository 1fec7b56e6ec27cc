"""Cost of staff sign-in, against a bare endpoint of the same server in the same run.

    .venvs/app/bin/python scripts/bench_auth.py [--requests 200] [--concurrency 1 8]

Starts the web app under uvicorn (SQLite, the in-process Redis stand-in, no Rasa) and measures:
  /healthz            no session, no template (the baseline)
  GET /account        a signed-in page: session from Redis, user from the database, template
  GET /login          the login form (template + CSRF cookie)
  POST /login         a sign-in (Argon2id check; at most 4 at once per process)
Prints requests/s and p50/p95 latency per row. Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bot.db.migrate import upgrade  # noqa: E402
from bot.users.service import create_user  # noqa: E402
from scripts.benchlib import free_port  # noqa: E402

PASSWORD = "Do-thu-mat-khau-2026"  # noqa: S105 — a name, not a secret
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


async def signed_in_client(base: str, username: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=60)
    form = await client.get("/login")
    token = TOKEN_RE.search(form.text).group(1)  # type: ignore[union-attr]
    response = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code in (200, 303), response.status_code
    return client


async def measure(label: str, calls: int, concurrency: int, call) -> None:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    queue = iter(range(calls))

    async def worker() -> None:
        for _ in queue:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    print(
        f"{label:<16} {concurrency:>4} {calls / elapsed:>9.1f} "
        f"{statistics.median(latencies) * 1000:>9.1f} {p95 * 1000:>9.1f}"
    )


async def run(base: str, username: str, requests: int, levels: list[int]) -> None:
    print(f"{'row':<16} {'conc':>4} {'req/s':>9} {'p50 ms':>9} {'p95 ms':>9}")
    anonymous = httpx.AsyncClient(base_url=base, timeout=60)
    staff = await signed_in_client(base, username)
    for level in levels:

        async def healthz() -> None:
            assert (await anonymous.get("/healthz")).status_code == 200

        async def account() -> None:
            assert (await staff.get("/account")).status_code == 200

        async def login_form() -> None:
            assert (await anonymous.get("/login")).status_code == 200

        async def login() -> None:
            client = await signed_in_client(base, username)
            await client.aclose()

        await measure("/healthz", requests, level, healthz)
        await measure("GET /account", requests, level, account)
        await measure("GET /login", requests, level, login_form)
        await measure("POST /login", max(10, requests // 10), level, login)
    await anonymous.aclose()
    await staff.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        engine = create_engine(url)
        with Session(engine) as session, session.begin():
            create_user(
                session=session, username="bench", role="staff", password=PASSWORD, actor="bench"
            )
        engine.dispose()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {
            "ENV": "test",
            "DATABASE_URL": url,
            "RASA_URL": f"http://127.0.0.1:{free_port()}",
            "ACTION_SERVER_URL": f"http://127.0.0.1:{free_port()}",
            "LOGIN_IP_MAX_FAILURES": "100000",
            "LOG_LEVEL": "WARNING",
        }
        argv = [sys.executable, "-m", "uvicorn", "bot.web.app:create_app", "--factory"]
        argv += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
        server = subprocess.Popen(argv, cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            asyncio.run(run(base, "bench", args.requests, args.concurrency))
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
