"""Measures erasure and the retention purge: figures only, nothing is asserted.

- one conversation's rows erased through the registry (a DELETE per table, counted for the
  audit) against the baseline of deleting the resident row alone and letting the database
  cascade, among `--residents` residents that each have a row in every registry table;
- the purge of half of them (aged 13 months): dry run, then the real one;
- one conversation's Redis keys erased (SCAN over the keyspace) with 0 to `--keys` other keys.

    .venvs/app/bin/python scripts/bench_privacy.py [--residents 300] [--keys 100000]
        [--redis-url redis://127.0.0.1:6379/6]   # a scratch db: it is flushed
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.db.base import utcnow  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.session import make_engine  # noqa: E402
from bot.privacy.service import (  # noqa: E402
    erase_keys,
    erase_records,
    purge_records,
    retention_cutoff,
)
from bot.residents.models import Resident  # noqa: E402
from tests.privacy.factories import age_everything, fill_everything, fill_redis  # noqa: E402


def _ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:8.1f} ms (p95 {sorted(seconds)[int(len(seconds) * 0.95) - 1] * 1000:.1f})"


def bench_database(residents: int) -> None:
    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    upgrade(url)
    factory = sessionmaker(bind=make_engine(url), expire_on_commit=False)
    started = time.perf_counter()
    ids = [f"web:bench{i:06d}" for i in range(residents)]
    with factory.begin() as session:
        for cid in ids:
            fill_everything(session, cid, team_slug="bench-team")
    print(f"filled {residents} residents in {time.perf_counter() - started:.1f} s (SQLite)")

    registry, baseline = [], []
    for i in range(20):
        with factory.begin() as session:
            t = time.perf_counter()
            erase_records(session=session, conversation_id=ids[i])
            registry.append(time.perf_counter() - t)
        with factory.begin() as session:
            t = time.perf_counter()
            session.execute(delete(Resident).where(Resident.conversation_id == ids[20 + i]))
            session.flush()
            baseline.append(time.perf_counter() - t)
    print(f"erase one conversation, registry (per table): {_ms(registry)}")
    print(f"erase one conversation, baseline (cascade):   {_ms(baseline)}")

    with factory.begin() as session:
        for cid in ids[40 : 40 + (residents - 40) // 2]:
            age_everything(session, cid, utcnow() - timedelta(days=400))
    cutoff = retention_cutoff(months=12)
    with factory.begin() as session:
        t = time.perf_counter()
        dry = purge_records(session=session, cutoff=cutoff, dry_run=True)
        dry_s = time.perf_counter() - t
    with factory.begin() as session:
        t = time.perf_counter()
        real = purge_records(session=session, cutoff=cutoff)
        real_s = time.perf_counter() - t
    print(
        f"purge {len(real.conversation_ids)} residents ({sum(real.rows.values())} rows): "
        f"dry run {dry_s * 1000:.0f} ms, purge {real_s * 1000:.0f} ms "
        f"(same counts: {dry.rows == real.rows})"
    )


async def bench_redis(keys: int, redis_url: str | None) -> None:
    if redis_url:
        import redis.asyncio as aioredis

        redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
        kind = redis_url
    else:
        import fakeredis

        redis = fakeredis.FakeAsyncRedis(decode_responses=True)
        kind = "fakeredis"
    await redis.flushdb()
    filled = 0
    for target in sorted({0, keys // 10, keys}):
        while filled < target:
            batch = min(10_000, target - filled)
            async with redis.pipeline(transaction=False) as pipe:
                for i in range(filled, filled + batch):
                    pipe.set(f"turn:web:other{i}:m", "x", ex=3600)
                await pipe.execute()
            filled += batch
        times = []
        for run in range(5):
            await fill_redis(redis, f"web:target{run}")
            t = time.perf_counter()
            await erase_keys(redis=redis, conversation_id=f"web:target{run}", jobs_stream="s")
            times.append(time.perf_counter() - t)
        print(f"erase one conversation's Redis keys among {target:>7} keys ({kind}): {_ms(times)}")
    await redis.flushdb()
    await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=300)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    bench_database(max(args.residents, 60))
    asyncio.run(bench_redis(args.keys, args.redis_url))


if __name__ == "__main__":
    main()
