"""Measures what the intent-counting event broker adds to a Rasa turn: figures only.

Rasa hands new events to an event broker from its tracker store's `save`, once per turn, and
Rasa's own stores first read the stored tracker back to find them (`TrackerStore.stream_events`);
our compact store (hotline_nlu/tracker_store.py) knows them without a read. This times the
`save` that ends a turn (a resident message with its parse data, an action, a bot message,
action_listen) of a conversation already `--turns` long, read back first as Rasa does, on
Rasa's store and on ours, each without a broker and with ours, alternating in the same run; the
broker's background thread flushes every second into a SQLite file migrated by our Alembic
migrations, as in production.

    .venvs/rasa/bin/python scripts/bench_intent_stats.py [--rounds 100] [--turns 5,20,50]
        [--redis-url redis://127.0.0.1:6379/8]   # also both stores on Redis (keys are
                                                # written under a prefix, deleted after)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import (  # noqa: E402
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402

from hotline_nlu.stats_broker import IntentStatsBroker  # noqa: E402
from hotline_nlu.tracker_store import CompactTrackerStore  # noqa: E402

INTENTS = ["ask_testing", "greet", "request_aid", "ask_vaccination", "ask_hotline", "thank"]


def turn(i: int) -> list[Event]:
    """One turn as Rasa stores it: the message with the NLU's full parse, the bot's answer."""
    intent = INTENTS[i % len(INTENTS)]
    text = "cho em hỏi xét nghiệm covid ở đâu ạ, nhà em ở phường Bến Thành"
    ranking = [{"name": n, "confidence": 0.9 / (k + 1)} for k, n in enumerate(INTENTS * 2)]
    parse = {
        "intent": {"name": intent, "confidence": 0.93},
        "entities": [],
        "intent_ranking": ranking[:10],
        "text": text,
    }
    return [
        UserUttered(text, parse["intent"], [], parse, input_channel="rest"),
        ActionExecuted("utter_answer"),
        BotUttered("Bạn có thể xét nghiệm tại trạm y tế phường/xã nơi bạn cư trú. " * 3),
        ActionExecuted("action_listen"),
    ]


def conversation(sender: str, turns: int) -> list[Event]:
    events: list[Event] = [ActionExecuted("action_session_start"), SessionStarted()]
    events.append(ActionExecuted("action_listen"))
    for i in range(turns):
        events.extend(turn(i))
    return events


def migrated_sqlite(directory: Path) -> str:
    """A SQLite file with our schema (the app environment runs the Alembic migrations)."""
    url = f"sqlite:///{directory / 'hotline.db'}"
    app_python = ROOT / ".venvs" / "app" / "bin" / "python"
    subprocess.run(
        [str(app_python), "-c", f"from bot.db.migrate import upgrade; upgrade({url!r})"],
        check=True,
        cwd=ROOT,
    )
    return url


def redis_store(domain: Domain, url: str, prefix: str, broker: Any, *, ours: bool) -> Any:
    """Rasa's Redis tracker store, or ours on Redis (`ours`)."""
    parts = urlsplit(url)
    kind = CompactTrackerStore if ours else RedisTrackerStore
    return kind(
        domain,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 6379,
        db=int((parts.path or "/0").lstrip("/") or 0),
        key_prefix=prefix,
        event_broker=broker,
    )


def stores(domain: Domain, redis_url: str | None, prefix: str, broker: Any) -> dict[str, Any]:
    """Rasa's store and ours, each without and with the broker; in memory or on Redis."""
    if redis_url:
        return {
            f"{name}{', with broker' if with_broker else ''}": redis_store(
                domain,
                redis_url,
                f"{prefix}{name[0]}{int(with_broker)}",
                broker if with_broker else None,
                ours=name == "ours",
            )
            for name in ("Rasa's", "ours")
            for with_broker in (False, True)
        }
    return {
        "Rasa's": InMemoryTrackerStore(domain),
        "Rasa's, with broker": InMemoryTrackerStore(domain, event_broker=broker),
        "ours": CompactTrackerStore(domain),
        "ours, with broker": CompactTrackerStore(domain, event_broker=broker),
    }


async def forget(store: Any, sender: str) -> None:
    """Deletes a conversation, so the rounds do not fill the store."""
    if isinstance(store, InMemoryTrackerStore):
        del store.store[sender]
    elif isinstance(store, RedisTrackerStore):
        store.red.delete(store.key_prefix + sender)
    else:  # ours: the HTTP API's erasure
        await store.save(DialogueStateTracker.from_dict(sender, []))


async def measure(
    stores: dict[str, Any], domain: Domain, turns: int, rounds: int
) -> dict[str, list[float]]:
    """Milliseconds of the `save` ending turn `turns + 1` of a fresh conversation, per store,
    alternating so the machine's load hits both alike."""
    times: dict[str, list[float]] = {name: [] for name in stores}
    for _ in range(rounds):
        for name, store in stores.items():
            sender = f"web:{uuid.uuid4().hex}"
            tracker = DialogueStateTracker.from_events(
                sender, conversation(sender, turns), domain.slots
            )
            await store.save(tracker)  # the conversation so far, as stored before this turn
            tracker = await store.retrieve(sender)  # what Rasa reads at the start of a turn
            for event in turn(turns):
                tracker.update(event)
            started = time.perf_counter()
            await store.save(tracker)
            times[name].append((time.perf_counter() - started) * 1000)
            await forget(store, sender)
    return times


def row(label: str, values: list[float], baseline: list[float] | None) -> str:
    values = sorted(values)
    p50 = statistics.median(values)
    p95 = values[int(0.95 * (len(values) - 1))]
    extra = ""
    if baseline is not None:
        extra = f" | {p50 - statistics.median(baseline):+.3f}"
    return f"| {label} | {p50:.3f} | {p95:.3f} | {statistics.fmean(values):.3f}{extra} |"


async def run(args: argparse.Namespace, url: str) -> None:
    domain = Domain.load(str(ROOT / "domain"))
    broker = IntentStatsBroker(url=url, flush_seconds=1.0)
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    print(f"load average before: {os.getloadavg()}")
    print("| store, turns already in the conversation | p50 ms | p95 ms | mean ms | p50 added |")
    print("|---|---|---|---|---|")
    for turns in (int(t) for t in args.turns.split(",")):
        kinds = [("in memory", None)] + ([("Redis", args.redis_url)] if args.redis_url else [])
        for kind, redis_url in kinds:
            times = await measure(
                stores(domain, redis_url, prefix, broker), domain, turns, args.rounds
            )
            for name in ("Rasa's", "ours"):
                label = f"{name} {kind}, {turns} turns"
                print(row(f"{label}, no broker", times[name], None))
                print(row(f"{label}, with broker", times[f"{name}, with broker"], times[name]))
    await broker.close()
    print(f"load average after: {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--turns", default="5,20,50")
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = migrated_sqlite(Path(scratch))
        asyncio.run(run(args, url))
        written = subprocess.run(
            [
                str(ROOT / ".venvs" / "app" / "bin" / "python"),
                "-c",
                "import sqlalchemy as sa, sys; e = sa.create_engine(sys.argv[1]); "
                "print(e.connect().execute(sa.text('SELECT sum(messages) FROM "
                "intent_daily_counts')).scalar())",
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        print(f"messages counted by the broker: {written}")


if __name__ == "__main__":
    main()
