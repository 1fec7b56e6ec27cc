"""The compact tracker store (hotline_nlu/tracker_store.py), run in the rasa environment: a long
conversation keeps every event in its log while a turn sees a small head with the same state."""

from __future__ import annotations

import json
import subprocess

import pytest

from bot.settings import PROJECT_ROOT
from bot.training import RASA_BIN, rasa_env

RASA_PY = RASA_BIN.parent / "python"
_SCRIPT = """
import asyncio, json, sys
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, SlotSet, UserUttered, BotUttered, SessionStarted,
)
from rasa.shared.core.trackers import DialogueStateTracker
from hotline_nlu.tracker_store import CompactTrackerStore, MAX_TURNS
from hotline_nlu import EARLIER_MESSAGES

domain = Domain.load("domain")
store = CompactTrackerStore(domain)
out = {}

async def turn(sender, text, *extra):
    tracker = await store.get_or_create_tracker(sender)
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
    for event in extra:
        tracker.update(event)
    tracker.update(BotUttered(f"re: {text}"))
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)
    return tracker

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
    # The HTTP API replacing the events (erasure): the whole story is what it says.
    await store.save(DialogueStateTracker.from_dict(sender, []))
    erased = await store.retrieve_full_tracker(sender)
    out["erased"] = len(erased.events)
    out["max_turns"] = MAX_TURNS
    out["keys"] = list(await store.keys())

asyncio.run(main())
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def result() -> dict[str, object]:
    if not RASA_PY.exists():
        pytest.skip("no rasa environment (./dev setup)")
    done = subprocess.run(
        [str(RASA_PY), "-c", _SCRIPT],
        capture_output=True,
        text=True,
        env=rasa_env(),
        cwd=PROJECT_ROOT,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


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


def test_replacing_the_events_replaces_the_log(result: dict[str, object]) -> None:
    assert result["erased"] == 0
    assert result["keys"] == ["web:long"]
