"""A tracker store whose cost per turn does not grow with the conversation (runs inside Rasa).

Rasa 3.6's own stores read, replay and write a conversation's whole history on every turn
(the Redis one also merges it with the stored copy), and the policies and the action server
get every event of the session: a Telegram or Zalo resident keeps one conversation id for
years, so the 600th turn cost six times the 10th. This store keeps two things per
conversation:

- the **log**: every event, appended (never rewritten), for the HTTP API's full tracker
  (`include_events=ALL`: erasure, retention, exports) and the event broker;
- the **head**: what Rasa works with in a turn — the latest `KEEP_TURNS` resident messages and
  what followed, after a short prefix that restores the state at the cut (slot values, the
  active form). The head is rebuilt once it holds `MAX_TURNS` messages, so it stays small.

The policies look at 4 turns at most (`max_history`), rules at a few, and the actions at the
last two or three messages, so what the head drops serves nobody in a turn.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SerializedTrackerAsText, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from hotline_nlu import EARLIER_MESSAGES

logger = logging.getLogger(__name__)

KEEP_TURNS = 8  # resident messages the head keeps after it is rebuilt
MAX_TURNS = 16  # resident messages that make the head be rebuilt
# How many events of a tracker object are already in the log (set when it is retrieved or saved).
_LOGGED = "_hotline_logged_events"


def _cut_index(events: list[dict[str, Any]]) -> int | None:
    """Index of the user event the head should start from, or None while it is short enough."""
    users = [i for i, event in enumerate(events) if event.get("event") == "user"]
    if len(users) < MAX_TURNS:
        return None
    return users[-KEEP_TURNS]


def compact(events: list[dict[str, Any]], domain: Domain, sender_id: str) -> list[dict[str, Any]]:
    """The head of a conversation: the current session, at most MAX_TURNS messages long.

    Older events become a prefix that recreates the state at the cut: a session start, the
    slots that differ from their initial values, the active form, and a listen.
    """
    start = 0
    for i, event in enumerate(events):
        if event.get("event") in ("session_started", "restart"):
            start = i
    session = events[start:]
    cut = _cut_index(session)
    if cut is None:
        return session
    before = DialogueStateTracker.from_dict(sender_id, session[:cut], domain.slots)
    timestamp = session[cut].get("timestamp")
    earlier = sum(1 for event in session[:cut] if event.get("event") == "user")
    earlier += int((session[0].get("metadata") or {}).get(EARLIER_MESSAGES, 0))
    # Starts the way Rasa's own last-session view does: at the `session_started` event.
    prefix: list[dict[str, Any]] = [
        {
            "event": "session_started",
            "timestamp": timestamp,
            "metadata": {EARLIER_MESSAGES: earlier},
        }
    ]
    initial = {slot.name: slot.initial_value for slot in domain.slots}
    for name, value in before.current_slot_values().items():
        if value != initial.get(name):
            prefix.append({"event": "slot", "name": name, "value": value, "timestamp": timestamp})
    if before.active_loop_name:
        prefix.append(
            {"event": "active_loop", "name": before.active_loop_name, "timestamp": timestamp}
        )
        if before.is_active_loop_interrupted:
            prefix.append(
                {"event": "loop_interrupted", "is_interrupted": True, "timestamp": timestamp}
            )
    prefix.append({"event": "action", "name": "action_listen", "timestamp": timestamp})
    return prefix + session[cut:]


class _MemoryBackend:
    def __init__(self) -> None:
        self.logs: dict[str, list[str]] = {}
        self.heads: dict[str, str] = {}

    def head(self, sender_id: str) -> str | None:
        return self.heads.get(sender_id)

    def log(self, sender_id: str) -> list[str] | None:
        return self.logs.get(sender_id)

    def append(self, sender_id: str, new: list[str], head: str) -> None:
        self.logs.setdefault(sender_id, []).extend(new)
        self.heads[sender_id] = head

    def replace(self, sender_id: str, log: list[str], head: str) -> None:
        self.logs[sender_id] = list(log)
        self.heads[sender_id] = head

    def keys(self) -> Iterable[str]:
        return list(self.heads)


class CompactTrackerStore(TrackerStore, SerializedTrackerAsText):
    """In-memory tracker store with a log appended to and a small head (see the module)."""

    def __init__(
        self,
        domain: Domain,
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        self._backend = _MemoryBackend()
        super().__init__(domain, event_broker, **kwargs)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The head of the conversation's current session."""
        stored = self._backend.head(sender_id)
        if stored is None:
            return None
        events = json.loads(stored)
        tracker = DialogueStateTracker.from_dict(
            sender_id, events, self.domain.slots, self.max_event_history
        )
        setattr(tracker, _LOGGED, len(events))
        return tracker

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        """Every event of the conversation, all sessions (not for turns: it is not compacted)."""
        log = self._backend.log(conversation_id)
        if log is None:
            return None
        return DialogueStateTracker.from_dict(
            conversation_id, [json.loads(e) for e in log], self.domain.slots
        )

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Appends the events new since the tracker was retrieved; rebuilds the head."""
        events = [event.as_dict() for event in tracker.events]
        logged = getattr(tracker, _LOGGED, None)
        head = json.dumps(compact(events, self.domain, tracker.sender_id), ensure_ascii=False)
        if logged is None or logged > len(events):
            # A tracker Rasa built itself (the HTTP API replacing the events): the whole story.
            if self.event_broker is not None:
                await self.stream_events(tracker)
            self._backend.replace(
                tracker.sender_id, [json.dumps(e, ensure_ascii=False) for e in events], head
            )
        else:
            new = events[logged:]
            if self.event_broker is not None:
                await self._stream_new_events(
                    self.event_broker, list(tracker.events)[logged:], tracker.sender_id
                )
            self._backend.append(
                tracker.sender_id, [json.dumps(e, ensure_ascii=False) for e in new], head
            )
        setattr(tracker, _LOGGED, len(events))

    async def keys(self) -> Iterable[str]:
        return self._backend.keys()
