"""A Rasa event broker that counts what residents ask about, per day, and keeps nothing else.

Rasa hands every new tracker event to the broker when it saves a conversation (once per turn).
For each resident message (`user` event) this keeps only

    (day in Vietnam, intent name, channel) -> messages, not understood

in memory, and a background thread adds the counts to the `intent_daily_counts` table every
few seconds (one upsert per key). No message text, no conversation id, no entity is stored:
the table holds no personal data. Killed without a clean stop, at most the counts of the last
flush interval (5 s by default) are lost; a clean stop (Rasa's shutdown) writes them first.

"Not understood": the NLU's intent is `nlu_fallback` (the FallbackClassifier's answer below its
threshold) or `nonsense`, or the bot answered the message with `action_handle_fallback` (which
also covers `inform` outside a form and the dialogue policy's own fallback).

Runs inside the Rasa environment (Python 3.10, SQLAlchemy 1.4, psycopg2), so it uses only the
standard library and SQLAlchemy Core; the web app reads the table with its own model
(`bot/stats/`). Configure it in the endpoints file (`hotline run` writes it):

    event_broker:
      type: hotline_nlu.stats_broker.IntentStatsBroker
      flush_seconds: 5

The database URL comes from DATABASE_URL, as for the web app (SQLite or PostgreSQL).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import OrderedDict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy
import sqlalchemy.exc
from rasa.core.brokers.broker import EventBroker

logger = logging.getLogger(__name__)

VIETNAM = timezone(timedelta(hours=7))  # Asia/Ho_Chi_Minh: UTC+7, no daylight saving
NOT_UNDERSTOOD_INTENTS = frozenset({"nlu_fallback", "nonsense"})
FALLBACK_ACTION = "action_handle_fallback"
CHANNELS = frozenset({"telegram", "zalo", "web"})
# A user event older than this is history being written again (the HTTP API replacing a
# tracker's events when the retention purge trims it), not a new message: not counted again.
STALE_SECONDS = 15 * 60
# Conversations whose last message may still be answered by the fallback action; only the
# key of that message is held (never stored), and only until the turn ends.
MAX_OPEN_TURNS = 10_000
DEFAULT_FLUSH_SECONDS = 5.0
_INTENT_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")

Key = tuple[date, str, str]  # (day, intent, channel)

UPSERT = sqlalchemy.text(
    "INSERT INTO intent_daily_counts (day, intent, channel, messages, not_understood) "
    "VALUES (:day, :intent, :channel, :messages, :not_understood) "
    "ON CONFLICT (day, intent, channel) DO UPDATE SET "
    "messages = intent_daily_counts.messages + excluded.messages, "
    "not_understood = intent_daily_counts.not_understood + excluded.not_understood"
)


def database_url(environ: dict[str, str] | None = None) -> str:
    """The web app's database (DATABASE_URL, its default SQLite file otherwise)."""
    env = os.environ if environ is None else environ
    default = "sqlite:///" + str(Path(__file__).resolve().parent.parent / "var" / "hotline.db")
    return env.get("DATABASE_URL") or default


def with_rasa_driver(url: str) -> str:
    """The URL with the PostgreSQL driver the Rasa environment has (psycopg2, where the web
    app uses psycopg 3)."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg3://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def channel_of(sender_id: Any) -> str:
    """The channel from a conversation id (`telegram:<id>`, `zalo:<id>`, `web:<id>`)."""
    prefix = str(sender_id or "").split(":", 1)[0]
    return prefix if prefix in CHANNELS else "other"


class IntentCounts:
    """The counting, apart from Rasa and the database: events in, counts per key out."""

    def __init__(self, clock: Any = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[Key, list[int]] = {}  # key -> [messages, not understood]
        # conversation -> key of its message still being answered (transient, never stored)
        self._open: OrderedDict[str, Key] = OrderedDict()

    def add(self, event: dict[str, Any]) -> None:
        """Takes one event as Rasa publishes it (a dict with `sender_id`)."""
        kind = event.get("event")
        if kind == "user":
            self._user(event)
        elif kind == "action":
            name = event.get("name")
            sender = str(event.get("sender_id") or "")
            if name == FALLBACK_ACTION:
                with self._lock:
                    key = self._open.pop(sender, None)
                    if key is not None:
                        self._counts.setdefault(key, [0, 0])[1] += 1
            elif name == "action_listen":
                with self._lock:
                    self._open.pop(sender, None)

    def _user(self, event: dict[str, Any]) -> None:
        try:
            timestamp = float(event.get("timestamp") or self._clock())
        except (TypeError, ValueError):
            timestamp = self._clock()
        if self._clock() - timestamp > STALE_SECONDS:
            return
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        intent = intent if isinstance(intent, str) and _INTENT_NAME.match(intent) else "unknown"
        day = datetime.fromtimestamp(timestamp, VIETNAM).date()
        key: Key = (day, intent, channel_of(event.get("sender_id")))
        not_understood = intent in NOT_UNDERSTOOD_INTENTS
        sender = str(event.get("sender_id") or "")
        with self._lock:
            counts = self._counts.setdefault(key, [0, 0])
            counts[0] += 1
            counts[1] += int(not_understood)
            self._open.pop(sender, None)
            if not not_understood:
                self._open[sender] = key
                while len(self._open) > MAX_OPEN_TURNS:
                    self._open.popitem(last=False)

    def take(self) -> dict[Key, list[int]]:
        """The counts so far, emptied."""
        with self._lock:
            taken, self._counts = self._counts, {}
        return taken

    def give_back(self, counts: dict[Key, list[int]]) -> None:
        """Counts that could not be written, to be written with the next flush."""
        with self._lock:
            for key, (messages, missed) in counts.items():
                current = self._counts.setdefault(key, [0, 0])
                current[0] += messages
                current[1] += missed


class IntentStatsBroker(EventBroker):
    """Counts resident messages per day, intent and channel into `intent_daily_counts`."""

    def __init__(
        self,
        url: str | None = None,
        flush_seconds: float = DEFAULT_FLUSH_SECONDS,
        clock: Any = time.time,
    ) -> None:
        self.counts = IntentCounts(clock)
        self.flush_seconds = max(0.05, float(flush_seconds))
        self._url = with_rasa_driver(url or database_url())
        connect_args: dict[str, Any] = {}
        if self._url.startswith("sqlite"):
            connect_args["timeout"] = 15  # the web app writes the same file
        self._engine = sqlalchemy.create_engine(
            self._url, pool_pre_ping=True, future=True, connect_args=connect_args
        )
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._last_warning = 0.0
        self._thread = threading.Thread(target=self._run, name="intent-stats-flush", daemon=True)
        self._thread.start()

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: Any, event_loop: Any = None
    ) -> IntentStatsBroker:
        """Rasa's factory: `flush_seconds` may be set in the endpoints file."""
        kwargs = dict(getattr(broker_config, "kwargs", None) or {})
        return cls(flush_seconds=float(kwargs.get("flush_seconds", DEFAULT_FLUSH_SECONDS)))

    def publish(self, event: dict[str, Any]) -> None:
        """Called by Rasa for each new event of a saved tracker: counts, never blocks."""
        try:
            self.counts.add(event)
        except Exception:  # noqa: BLE001  a count must never break a resident's turn
            logger.warning("intent stats: an event could not be counted", exc_info=False)

    def is_ready(self) -> bool:
        return self._thread.is_alive()

    async def close(self) -> None:
        """Rasa's shutdown: stops the thread and writes what is left."""
        self._stop.set()
        self._thread.join(timeout=self.flush_seconds + 5)
        self.flush()
        self._engine.dispose()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def flush(self) -> int:
        """Adds the counts so far to the table; returns the number of keys written (0 when
        the database could not be reached: they are kept for the next try)."""
        with self._write_lock:
            counts = self.counts.take()
            if not counts:
                return 0
            rows = [
                {
                    "day": day.isoformat(),
                    "intent": intent,
                    "channel": channel,
                    "messages": messages,
                    "not_understood": missed,
                }
                for (day, intent, channel), (messages, missed) in sorted(counts.items())
            ]
            try:
                with self._engine.begin() as connection:
                    connection.execute(UPSERT, rows)
            except sqlalchemy.exc.SQLAlchemyError as exc:
                self.counts.give_back(counts)
                now = time.monotonic()
                if now - self._last_warning > 60:  # once a minute while it lasts
                    self._last_warning = now
                    logger.warning(
                        "intent stats: could not write counts (%s); kept for the next try",
                        type(exc).__name__,
                    )
                return 0
            return len(rows)
