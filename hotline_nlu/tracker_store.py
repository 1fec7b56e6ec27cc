"""A tracker store whose cost per turn does not grow with the conversation (runs inside Rasa).

Rasa 3.6's own stores read, replay and write a conversation's whole history on every turn
(the Redis one also merges it with the stored copy), and the policies and the action server
get every event of the session: a Telegram or Zalo resident keeps one conversation id for
years, so the 600th turn cost six times the 10th. This store keeps two things per
conversation:

- the **log**: every event, appended (never rewritten), for the HTTP API's full tracker
  (`include_events=ALL`: erasure, retention, exports);
- the **head**: what Rasa works with in a turn — the latest `KEEP_TURNS` resident messages and
  what followed, after a short prefix that restores the state at the cut (slot values, the
  active form). The head is rebuilt once it holds `MAX_TURNS` messages, so it stays small.

The policies look at 4 turns at most (`max_history`), rules at a few, and the actions at the
last two or three messages, so what the head drops serves nobody in a turn. A turn hands
the event broker the events it added, without reading the conversation again.

Both live in this process, or in Redis when `hotline run` has REDIS_URL: then every Rasa server
of a deployment shares them, and a conversation moves between servers mid-form
(`tracker_backends`). Rasa's Redis lock store still runs one turn of a conversation at a time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SerializedTrackerAsText, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from hotline_nlu import EARLIER_MESSAGES
from hotline_nlu.rasa_logs import keep_personal_data_out_of_logs
from hotline_nlu.tracker_backends import ABSENT, Backend, MemoryBackend, RedisBackend

logger = logging.getLogger(__name__)

KEEP_TURNS = 8  # resident messages the head keeps after it is rebuilt
MAX_TURNS = 16  # resident messages that make the head be rebuilt
# How a tracker object was read (`_Read`), set on it when it is retrieved or saved.
_READ = "_hotline_read"


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


# Tries of a write that another writer keeps coming before (each re-reads the head first).
MAX_WRITE_TRIES = 5


@dataclass(frozen=True)
class _Read:
    """What a tracker object was read as: its first `logged` events are stored already, and
    the conversation was at `version`."""

    logged: int
    version: str


class ConcurrentWrites(RuntimeError):
    """Other writers changed the conversation before every try of a write."""


class CompactTrackerStore(TrackerStore, SerializedTrackerAsText):
    """Tracker store with a log appended to and a small head (see the module), in this process
    or, given a Redis `host` (as `hotline run` writes it with REDIS_URL), in Redis."""

    def __init__(
        self,
        domain: Domain,
        event_broker: EventBroker | None = None,
        host: str | None = None,
        **kwargs: Any,
    ) -> None:
        keep_personal_data_out_of_logs()
        self._backend: Backend = _backend(host, kwargs)
        super().__init__(domain, event_broker)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The head of the conversation's current session."""
        stored = await self._backend.head(sender_id)
        if stored is None:
            return None
        head, version = stored
        events = json.loads(head)
        tracker = DialogueStateTracker.from_dict(
            sender_id, events, self.domain.slots, self.max_event_history
        )
        setattr(tracker, _READ, _Read(len(events), version))
        return tracker

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        """Every event of the conversation, all sessions (the HTTP API's full tracker; not for
        turns: its cost grows with the conversation)."""
        stored = await self._backend.log(conversation_id)
        if stored is None:
            return None
        log, version = stored
        tracker = DialogueStateTracker.from_dict(
            conversation_id, [json.loads(e) for e in log], self.domain.slots
        )
        setattr(tracker, _READ, _Read(len(log), version))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Appends the events new since the tracker was read, and sets the new head; a tracker
        Rasa built itself (the HTTP API replacing the events) replaces the whole log."""
        read: _Read | None = getattr(tracker, _READ, None)
        events = [event.as_dict() for event in tracker.events]
        if read is None or read.logged > len(events):
            if self.event_broker is not None:
                await self.stream_events(tracker)
            version = await self._backend.replace(
                tracker.sender_id,
                events=[_dumps(e) for e in events],
                head=_dumps(compact(events, self.domain, tracker.sender_id)),
            )
            setattr(tracker, _READ, _Read(len(events), version))
            return
        if read.logged == len(events):
            return  # nothing new (the head is what was read)
        if self.event_broker is not None:
            # The new events are known: no read of the stored tracker to find them (Rasa's
            # own `stream_events` retrieves the tracker again to diff it, once per turn).
            await self._stream_new_events(
                self.event_broker, list(tracker.events)[read.logged :], tracker.sender_id
            )
        version = await self._append(tracker.sender_id, read, events)
        setattr(tracker, _READ, _Read(len(events), version))

    async def _append(self, sender_id: str, read: _Read, events: list[dict[str, Any]]) -> str:
        """Appends events[read.logged:]; if another writer came first, after its events."""
        new = events[read.logged :]
        entries = [_dumps(e) for e in new]
        head_events, version = events, read.version
        for _ in range(MAX_WRITE_TRIES):
            head = _dumps(compact(head_events, self.domain, sender_id))
            written = await self._backend.append(sender_id, version=version, new=entries, head=head)
            if written:
                return written
            logger.warning("a conversation was written by another server meanwhile; merging")
            stored = await self._backend.head(sender_id)
            head_events = (json.loads(stored[0]) if stored else []) + new
            version = stored[1] if stored else ABSENT
        raise ConcurrentWrites(f"{MAX_WRITE_TRIES} writes refused")

    async def keys(self) -> Iterable[str]:
        return await self._backend.keys()


def _dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False)


def _backend(host: str | None, config: dict[str, Any]) -> Backend:
    """Redis when the endpoints file names a host (`url:`), this process's memory otherwise."""
    if not host:
        return MemoryBackend()
    return RedisBackend(
        host=host,
        port=int(config.get("port") or 6379),
        db=int(config.get("db") or 0),
        password=config.get("password"),
        key_prefix=str(config.get("key_prefix") or "hotline"),
        record_exp=config.get("record_exp"),
    )
