"""Measures the dashboard, the team workspace's lists and detail page, and the exports at
growing numbers of requests (demo data from `hotline demo seed`) on PostgreSQL. Prints p50/p95
per page, one request at a time through the whole web app (sign-in, sessions, templates); the
baseline in the same run is /healthz. Figures only, nothing is asserted.

    HOTLINE_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venvs/app/bin/python scripts/bench_dashboard.py [--sizes 10000,100000] [--repeat 30]

Each size adds to the previous one in one scratch schema (dropped at the end).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.db.migrate import upgrade
from bot.demo.seed import seed_demo
from bot.requests.models import AidRequest
from bot.settings import Settings
from bot.teams.models import Team, TeamLevel, TeamWard
from bot.users.service import create_user

PASSWORD = "Mat-khau-do-hieu-nang-1"  # noqa: S105 — a name, not a secret
LOADS: dict[int, float] = {}  # the load average when each size was measured


def first_day(days_ago: int) -> str:
    """A date in Vietnam `days_ago` days before today, YYYY-MM-DD."""
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(hours=7) - timedelta(days=days_ago)).date().isoformat()


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    for _ in range(3):  # warm-up: caches, plans, connections
        call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def accounts(url: str) -> tuple[str, str, str]:
    """An admin, and a team member whose team covers the 20 busiest wards of HCMC; and the
    code of one request in those wards."""
    engine = create_engine(url)
    tag = uuid.uuid4().hex[:6]
    with Session(engine) as session, session.begin():
        wards = [
            code
            for code, _n in session.execute(
                select(AidRequest.ward_code, func.count())
                .where(AidRequest.province_code == "79")
                .group_by(AidRequest.ward_code)
                .order_by(func.count().desc())
                .limit(20)
            )
        ]
        # One team for the whole run (a ward has one team): its wards are the busiest of
        # the first size measured.
        team = session.scalar(select(Team).where(Team.slug == "bench-team"))
        if team is None:
            team = Team(slug="bench-team", name="Tổ đo hiệu năng", level=TeamLevel.WARD)
            session.add(team)
            session.flush()
            session.add_all(TeamWard(team_id=team.id, ward_code=w) for w in wards)
            session.flush()
        wards = list(session.scalars(select(TeamWard.ward_code).where(TeamWard.team_id == team.id)))
        for role, teams in (("admin", []), ("team", [team.slug])):
            create_user(
                session=session,
                username=f"bench-{role}-{tag}",
                role=role,
                team_slugs=teams,
                password=PASSWORD,
                actor="bench",
            )
        code = session.scalar(
            select(AidRequest.ref_code).where(AidRequest.ward_code.in_(wards)).limit(1)
        )
    engine.dispose()
    return f"bench-admin-{tag}", f"bench-team-{tag}", str(code)


def sign_in(client, username: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "no CSRF token on the login page"
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.status_code


def measure(url: str, repeat: int, export_rows: bool) -> list[tuple[str, float, float]]:
    import fakeredis
    from fastapi.testclient import TestClient

    from bot.db import session as db_session
    from bot.settings import get_settings
    from bot.web.app import create_app

    admin, member, code = accounts(url)
    os.environ["DATABASE_URL"] = url  # the app's sessions come from the global settings
    get_settings.cache_clear()
    db_session.get_engine.cache_clear()
    db_session.get_sessionmaker.cache_clear()
    settings = Settings(
        env="test",
        database_url=url,
        redis_url=None,
        worker_in_process=False,  # type: ignore[call-arg]
    )
    rows = []
    with TestClient(
        create_app(settings, redis=fakeredis.FakeAsyncRedis(decode_responses=True))
    ) as client:
        pages = {"/healthz (baseline)": "/healthz"}
        sign_in(client, admin)
        admin_pages = {
            "/admin (dashboard, last 30 days)": "/admin",
            "/admin?province=79": "/admin?province=79",
            "/admin (120 days)": f"/admin?from={first_day(119)}&to={first_day(0)}",
            "/admin?status=open&need=food": "/admin?status=open&need=food",
            "/team (admin, all wards)": "/team",
            "/team?status=open&overdue=1 (admin)": "/team?status=open&overdue=1",
            "/team?need=medicine&page=20 (admin)": "/team?need=medicine&page=20",
            "/team?province=79&page=200 (admin, last page)": "/team?province=79&page=200",
        }
        for label, path in {**pages, **admin_pages}.items():
            assert client.get(path).status_code == 200, path
            rows.append((label, *timed(lambda p=path: client.get(p), repeat)))
            print(f"{label:<44} {rows[-1][1]:>8.1f} {rows[-1][2]:>8.1f}", flush=True)
        if export_rows:
            for label, path in (
                ("/team/export.csv?province=79 (admin)", "/team/export.csv?province=79"),
                ("/team/export.xlsx?province=79 (admin)", "/team/export.xlsx?province=79"),
            ):
                rows.append((label, *timed(lambda p=path: client.get(p), max(3, repeat // 10))))
                print(f"{label:<44} {rows[-1][1]:>8.1f} {rows[-1][2]:>8.1f}", flush=True)
        client.cookies.clear()
        sign_in(client, member)
        team_pages = {
            "/team (member, 20 wards)": "/team",
            "/team?status=open&overdue=1 (member)": "/team?status=open&overdue=1",
            "/team/requests/<code> (member)": f"/team/requests/{code}",
        }
        for label, path in team_pages.items():
            assert client.get(path).status_code == 200, path
            rows.append((label, *timed(lambda p=path: client.get(p), repeat)))
            print(f"{label:<44} {rows[-1][1]:>8.1f} {rows[-1][2]:>8.1f}", flush=True)
    return rows


def measure_xlsx(url: str, rows: int) -> tuple[str, float, float]:
    """Writes the first `rows` rows of the unfiltered list (an admin's) to an XLSX file as the
    export does, in a child process (its own peak memory); returns (label, seconds, MB)."""
    import subprocess

    code = (
        "import resource, sys, tempfile, time\n"
        "from pathlib import Path\n"
        "from sqlalchemy import create_engine\n"
        "from sqlalchemy.orm import Session\n"
        "from bot.exports.service import export_rows, write_xlsx\n"
        "from bot.requests.workspace import RequestFilters\n"
        "from bot.users.models import User\n"
        "url, rows = sys.argv[1], int(sys.argv[2])\n"
        "admin = User(role='admin', username='bench', display_name='bench', password_hash='-')\n"
        "engine = create_engine(url)\n"
        "with Session(engine) as session, tempfile.TemporaryDirectory() as folder:\n"
        "    started = time.perf_counter()\n"
        "    source = export_rows(session=session, user=admin, filters=RequestFilters(), path='-')\n"
        "    written = write_xlsx((r for _, r in zip(range(rows), source)), Path(folder) / 'x.xlsx')\n"
        "    seconds = time.perf_counter() - started\n"
        "    size = (Path(folder) / 'x.xlsx').stat().st_size / 1e6\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(written, seconds, size, peak)\n"
    )
    root = Path(__file__).resolve().parent.parent
    output = subprocess.run(
        [sys.executable, "-c", code, url, str(rows)],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    ).stdout.split()
    written, seconds, size, peak = (
        int(output[0]),
        float(output[1]),
        float(output[2]),
        float(output[3]),
    )
    print(
        f"XLSX export of {written:,} rows: {seconds:.1f} s, {size:.1f} MB file, peak memory of"
        f" the exporting process {peak:.0f} MB (load {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    return (f"XLSX export, {written:,} rows (s / peak MB)", seconds, peak)


def print_table(results: dict[int, list[tuple[str, float, float]]]) -> None:
    """One Markdown table: p50 / p95 per page and size (the XLSX row: seconds / peak MB)."""
    sizes = sorted(results)
    labels: list[str] = []
    for rows in results.values():
        labels += [label for label, _a, _b in rows if label not in labels]
    print("\n| page (PostgreSQL, p50 / p95 ms) | " + " | ".join(f"{n:,}" for n in sizes) + " |")
    print("|---" * (len(sizes) + 1) + "|")
    for label in labels:
        cells = []
        for size in sizes:
            found = [(a, b) for name, a, b in results[size] if name == label]
            cells.append(f"{found[0][0]:.1f} / {found[0][1]:.1f}" if found else "—")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(
        "| load average (1 min) at the end | "
        + " | ".join(f"{LOADS.get(n, 0):.1f}" for n in sizes)
        + " |"
    )


def seed_schema(base: str, size: int, keep: bool) -> str:
    """A schema holding `size` demo requests (migrated, seeded, analysed); with `keep`, named
    bench_<size> and reused by the next run (seeding only what is missing)."""
    schema = f"bench_{size}" if keep else f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    admin.dispose()
    url = f"{base}?options=-csearch_path%3D{schema}"
    upgrade(url)
    engine = create_engine(url)
    with Session(engine) as session:
        have = session.scalar(select(func.count()).select_from(AidRequest)) or 0
    started = time.monotonic()
    step = 100_000
    while have < size:  # committed in steps: a long seed keeps what it did
        count = min(step, size - have)
        with Session(engine) as session, session.begin():
            seed_demo(
                session=session,
                requests=count,
                days=120,
                seed=size + have,
                progress=lambda done, _total, have=have: print(
                    f"  seeded {have + done:,} / {size:,} ({time.monotonic() - started:.0f} s, "
                    f"load {os.getloadavg()[0]:.1f})",
                    flush=True,
                ),
            )
        have += count
    # As autovacuum would after a bulk load: statistics, and the visibility map that lets the
    # backlog count read only its (partial) index.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    print(f"{size:,} requests ready in schema {schema} ({time.monotonic() - started:.0f} s)")
    return schema


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--exports", action="store_true", help="also time the exports")
    parser.add_argument("--xlsx-rows", type=int, default=100_000, help="0: no XLSX figure")
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) bench_<size>")
    parser.add_argument("--seed-only", action="store_true", help="seed the schemas, no pages")
    args = parser.parse_args()
    base = os.environ.get("HOTLINE_BENCH_POSTGRES_URL")
    if not base:
        sys.exit("Set HOTLINE_BENCH_POSTGRES_URL (PostgreSQL): the targets are PostgreSQL's.")
    results: dict[int, list[tuple[str, float, float]]] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        schema = seed_schema(base, size, args.keep)
        url = f"{base}?options=-csearch_path%3D{schema}"
        try:
            if args.seed_only:
                continue
            print(f"\n## {size:,} requests (load average {os.getloadavg()[0]:.1f})")
            print(f"{'page':<44} {'p50 ms':>8} {'p95 ms':>8}")
            results[size] = measure(url, args.repeat, args.exports)
            if args.xlsx_rows and size >= args.xlsx_rows:
                results[size].append(measure_xlsx(url, args.xlsx_rows))
            LOADS[size] = os.getloadavg()[0]
        finally:
            if not args.keep:
                admin = create_engine(base)
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()
    if results:
        print_table(results)


if __name__ == "__main__":
    main()
