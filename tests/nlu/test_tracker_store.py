"""The compact tracker store (hotline_nlu/tracker_store.py), run in the rasa environment: a long
conversation keeps every event in its log while a turn sees a small head with the same state,
in memory and on a real Redis (HOTLINE_TEST_REDIS_URL), where several Rasa servers share it."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from urllib.parse import urlsplit

import pytest

from bot.settings import PROJECT_ROOT
from bot.training import RASA_PYTHON, rasa_env

REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL")

# Builds `store` (memory, or Redis from argv: host port db prefix) and `turn`.
_SETUP = """
import asyncio, json, sys
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, SlotSet, UserUttered, BotUttered, SessionStarted,
)
from rasa.shared.core.trackers import DialogueStateTracker
from hotline_nlu.tracker_store import CompactTrackerStore, MAX_TURNS
from hotline_nlu import EARLIER_MESSAGES

domain = Domain.load("domain")
REDIS = sys.argv[1:]

def new_store(**kwargs):
    if not REDIS:
        return CompactTrackerStore(domain, **kwargs)
    host, port, db, prefix = REDIS
    return CompactTrackerStore(
        domain, host=host, port=int(port), db=int(db), key_prefix=prefix, record_exp=3600,
        **kwargs,
    )

store = new_store()
out = {}

async def turn(sender, text, *extra, on=None):
    on = on or store
    tracker = await on.get_or_create_tracker(sender)
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
    for event in extra:
        tracker.update(event)
    tracker.update(BotUttered(f"re: {text}"))
    tracker.update(ActionExecuted("action_listen"))
    await on.save(tracker)
    return tracker
"""

_LONG = (
    _SETUP
    + """
async def main():
    sender = "web:long"
    await turn(sender, "t0", SlotSet("consent", True))
    sizes = []
    for i in range(1, 600):
        extra = []
        if i == 100:
            extra = [ActionExecuted("aid_request_form"), ActiveLoop("aid_request_form"),
                     SlotSet("requested_slot", "need_types")]
        await turn(sender, f"t{i}", *extra)
        sizes.append(len((await store.retrieve(sender)).events))
    head = await store.retrieve(sender)
    full = await store.retrieve_full_tracker(sender)
    out["head_max"] = max(sizes)
    out["head_users"] = sum(1 for e in head.events if isinstance(e, UserUttered))
    out["full_users"] = sum(1 for e in full.events if isinstance(e, UserUttered))
    out["slots_equal"] = head.current_slot_values() == full.current_slot_values()
    out["consent"] = head.get_slot("consent")
    out["loop"] = head.active_loop_name
    out["last_text"] = head.latest_message.text
    out["first_is_session"] = isinstance(head.events[0], SessionStarted)
    out["counted"] = out["head_users"] + head.events[0].metadata.get(EARLIER_MESSAGES, 0)
    out["keys"] = list(await store.keys())
    # The HTTP API appending an event (a hand-back's restart) to the full tracker: appended.
    full.update(ActionExecuted("action_restart"))
    await store.save(full)
    out["after_append"] = len((await store.retrieve_full_tracker(sender)).events) - len(full.events)
    # The HTTP API replacing the events (erasure): the whole story is what it says.
    await store.save(DialogueStateTracker.from_dict(sender, []))
    out["erased"] = await store.retrieve_full_tracker(sender) is None
    out["keys_after_erasure"] = list(await store.keys())
    out["max_turns"] = MAX_TURNS

asyncio.run(main())
print(json.dumps(out))
"""
)

# Redis only: two stores are two Rasa servers on one Redis.
_SHARED = (
    _SETUP
    + """
import redis.asyncio as aioredis
from rasa.core.brokers.broker import EventBroker
from hotline_nlu.tracker_backends import HEAD_KEY, LOG_KEY

class Published(EventBroker):
    def __init__(self):
        self.events = []
    def publish(self, event):
        self.events.append(event)

class CountingReads(CompactTrackerStore):
    reads = 0
    async def retrieve(self, sender_id):
        self.reads += 1
        return await super().retrieve(sender_id)

async def main():
    host, port, db, prefix = REDIS
    red = aioredis.Redis(host=host, port=int(port), db=int(db), decode_responses=True)
    server_a, server_b = new_store(), new_store()

    # A form started on one server carries on on the other.
    sender = "web:moves"
    await turn(sender, "toi can ho tro", ActionExecuted("aid_request_form"),
               ActiveLoop("aid_request_form"), SlotSet("requested_slot", "need_types"),
               on=server_a)
    await turn(sender, "gao", SlotSet("need_types", ["food"]), on=server_a)
    on_b = await server_b.retrieve(sender)
    out["loop_on_b"] = on_b.active_loop_name
    out["slot_on_b"] = on_b.get_slot("need_types")
    await turn(sender, "3 nguoi", SlotSet("household_size", 3.0), on=server_b)
    on_a = await server_a.retrieve(sender)
    out["slot_back_on_a"] = on_a.get_slot("household_size")
    out["ttl"] = [await red.ttl(k.format(prefix=prefix, sender_id=sender))
                  for k in (LOG_KEY, HEAD_KEY)]

    # Both servers read the same head (no lock): the second write comes after the first's
    # events instead of over them.
    sender = "web:race"
    await turn(sender, "start", on=server_a)
    read_a = await server_a.retrieve(sender)
    read_b = await server_b.retrieve(sender)
    read_a.update(UserUttered("from a", {"name": "greet", "confidence": 1.0}))
    read_b.update(UserUttered("from b", {"name": "greet", "confidence": 1.0}))
    await server_a.save(read_a)
    await server_b.save(read_b)
    head = await server_a.retrieve(sender)
    full = await server_a.retrieve_full_tracker(sender)
    out["race_head"] = [e.text for e in head.events if isinstance(e, UserUttered)]
    out["race_log"] = [e.text for e in full.events if isinstance(e, UserUttered)]

    # A turn hands the broker its new events without reading the conversation again.
    broker = Published()
    counting = CountingReads(domain, event_broker=broker, host=host, port=int(port),
                             db=int(db), key_prefix=prefix, record_exp=3600)
    sender = "web:broker"
    await turn(sender, "one", on=counting)
    reads_before = counting.reads
    await turn(sender, "two", on=counting)
    out["reads_per_turn"] = counting.reads - reads_before
    out["published_texts"] = [e.get("text") for e in broker.events if e["event"] == "user"]

    # The retention purge replacing a long conversation's events (more than one RPUSH takes).
    kept = [{"event": "bot", "text": f"m{i}", "timestamp": 1_800_000_000 + i} for i in range(2500)]
    await server_a.save(DialogueStateTracker.from_dict("web:trimmed", kept))
    trimmed = await server_b.retrieve_full_tracker("web:trimmed")
    out["trimmed"] = [len(trimmed.events), trimmed.events[-1].text]

    # Erasure through the HTTP API (events replaced by none) leaves no key behind.
    await server_b.save(DialogueStateTracker.from_dict("web:moves", []))
    out["left_after_erasure"] = sorted(
        [k async for k in red.scan_iter(match=f"{prefix}:*web:moves")]
    )
    await red.delete(*[k async for k in red.scan_iter(match=f"{prefix}:*")])
    await red.close()

asyncio.run(main())
print(json.dumps(out))
"""
)


def _run(script: str, *args: str) -> dict[str, object]:
    if not RASA_PYTHON.exists():
        pytest.skip("no rasa environment (./dev setup)")
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", script, *args],
        capture_output=True,
        text=True,
        env=rasa_env(),
        cwd=PROJECT_ROOT,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _redis_args() -> list[str]:
    """host, port, db and a key prefix of this test run's own (alphanumeric, as Rasa's)."""
    assert REDIS_URL
    url = urlsplit(REDIS_URL)
    db = (url.path or "/0").lstrip("/") or "0"
    prefix = "test" + uuid.uuid4().hex[:12]
    return [url.hostname or "127.0.0.1", str(url.port or 6379), db, prefix]


BACKENDS = ["memory"] + (["redis"] if REDIS_URL else [])


@pytest.fixture(scope="module", params=BACKENDS)
def result(request: pytest.FixtureRequest) -> dict[str, object]:
    return _run(_LONG, *(_redis_args() if request.param == "redis" else []))


@pytest.fixture(scope="module")
def shared() -> dict[str, object]:
    if not REDIS_URL:
        pytest.skip("needs HOTLINE_TEST_REDIS_URL (a real Redis)")
    return _run(_SHARED, *_redis_args())


def test_a_turn_sees_a_head_that_does_not_grow(result: dict[str, object]) -> None:
    max_turns = int(str(result["max_turns"]))
    assert int(str(result["head_users"])) < max_turns
    # Four events per turn here, plus a short prefix: bounded whatever the length.
    assert int(str(result["head_max"])) <= 4 * max_turns + 10
    assert result["first_is_session"] is True


def test_the_log_keeps_every_message(result: dict[str, object]) -> None:
    assert result["full_users"] == 600
    # The head says how many messages of the session it left out.
    assert result["counted"] == 600


def test_the_head_keeps_the_state_of_the_whole_conversation(result: dict[str, object]) -> None:
    assert result["slots_equal"] is True
    assert result["consent"] is True
    assert result["loop"] == "aid_request_form"
    assert result["last_text"] == "t599"
    assert result["keys"] == ["web:long"]


def test_an_event_added_to_the_full_tracker_is_appended_once(result: dict[str, object]) -> None:
    assert result["after_append"] == 0


def test_replacing_the_events_with_none_erases_the_conversation(
    result: dict[str, object],
) -> None:
    assert result["erased"] is True
    assert result["keys_after_erasure"] == []


def test_a_form_carries_on_on_another_rasa_server(shared: dict[str, object]) -> None:
    assert shared["loop_on_b"] == "aid_request_form"
    assert shared["slot_on_b"] == ["food"]
    assert shared["slot_back_on_a"] == 3.0


def test_both_keys_expire_after_the_retention_expiry(shared: dict[str, object]) -> None:
    ttls = [int(t) for t in shared["ttl"]]  # type: ignore[attr-defined]
    assert all(3500 < ttl <= 3600 for ttl in ttls)


def test_two_servers_writing_one_conversation_lose_no_event(shared: dict[str, object]) -> None:
    assert shared["race_log"] == ["start", "from a", "from b"]
    assert shared["race_head"] == ["start", "from a", "from b"]


def test_a_turn_reads_the_conversation_once_with_an_event_broker(
    shared: dict[str, object],
) -> None:
    assert shared["reads_per_turn"] == 1
    assert shared["published_texts"] == ["one", "two"]


def test_a_replaced_log_keeps_every_event_given(shared: dict[str, object]) -> None:
    assert shared["trimmed"] == [2500, "m2499"]


def test_erasure_through_rasa_deletes_the_redis_keys(shared: dict[str, object]) -> None:
    assert shared["left_after_erasure"] == []
