"""Simulated residents: each asks for hardship aid from start to saved, through the web chat
or Telegram webhooks, as a person would when the hotline is busy (they send again)."""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.chaos.script import OPENING, Reply, next_step
from tests.chaos.tally import MessageRecord
from tests.fakes.telegram_api import Call, FakeTelegramAPI, reply_markup

MAX_ANSWERS = 30  # a resident asked more questions than this gives up (counted)
BUSY_PAUSE = 2.0  # "nhắn lại sau ít phút", shortened
THINK = 0.3


class ChatFeed(FakeTelegramAPI):
    """The fake Telegram API, with the replies of each chat handed to its waiting resident."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()
        self.by_chat: dict[int, list[Call]] = {}

    def handle(
        self, method: str, url: Any, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        status, payload = super().handle(method, url, headers, body)
        if status == 200 and url.path.endswith("/sendMessage"):
            with self.lock:
                call = self.calls[-1]
            with self.changed:
                self.by_chat.setdefault(int(call.params["chat_id"]), []).append(call)
                self.changed.notify_all()
        return status, payload

    def wait_replies(self, chat_id: int, seen: int, *, timeout: float, quiet: float) -> list[Call]:
        """The chat's replies after the first `seen`: waits for one, then until `quiet` s pass
        without another (a turn's replies are sent one after the other)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.by_chat.get(chat_id, [])) <= seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self.changed.wait(left)
            while True:
                count = len(self.by_chat[chat_id])
                self.changed.wait(quiet)
                if len(self.by_chat[chat_id]) == count:
                    return list(self.by_chat[chat_id][seen:])


@dataclass
class Outcome:
    """What one resident's conversation came to."""

    conversation_id: str
    channel: str
    codes: list[str] = field(default_factory=list)  # codes the resident was told
    gave_up: bool = False


class Resident:
    """Base: the conversation loop; subclasses send one message and return the replies."""

    channel = ""

    def __init__(self, number: int, records: list[MessageRecord], lock: threading.Lock) -> None:
        self.number = number
        self.records = records
        self.lock = lock
        self.phone = f"09{random.Random(number).randrange(10**8):08d}"

    @property
    def conversation_id(self) -> str:
        raise NotImplementedError

    def send(self, text: str, record: MessageRecord) -> list[Reply] | None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def converse(self, stop: threading.Event) -> Outcome:
        outcome = Outcome(self.conversation_id, self.channel)
        text = OPENING
        answered = 0  # answers to the bot's questions; "busy" and silence send again instead
        try:
            while answered < MAX_ANSWERS:
                if stop.is_set():
                    return outcome
                record = MessageRecord(self.channel, self.conversation_id, time.monotonic())
                with self.lock:
                    self.records.append(record)
                replies = self.send(text, record)
                if replies is None:  # nothing came back: the same message again, later
                    stop.wait(BUSY_PAUSE)
                    continue
                step = next_step(replies, phone=self.phone)
                record.busy = step.kind == "busy"
                if step.kind in ("saved", "already"):
                    outcome.codes.append(step.code)
                    return outcome
                if step.kind == "busy":
                    stop.wait(BUSY_PAUSE)
                    continue
                answered += 1
                text = step.text
                stop.wait(THINK)
            outcome.gave_up = True
            return outcome
        finally:
            self.close()


class WebResident(Resident):
    """A browser on the web chat page: the page's own three tries with one message id."""

    channel = "web"

    def __init__(
        self, number: int, records: list[MessageRecord], lock: threading.Lock, *, base_url: str
    ) -> None:
        super().__init__(number, records, lock)
        self.client = httpx.Client(base_url=base_url, timeout=90)
        self.key = f"chaos{number:06d}{random.Random(-number).randrange(10**16):016d}"
        self.client.cookies.set("hotline_chat", self.key)
        self._ids = itertools.count()

    @property
    def conversation_id(self) -> str:
        return f"web:{self.key}"

    def send(self, text: str, record: MessageRecord) -> list[Reply] | None:
        message_id = f"m{self.number}x{next(self._ids)}"
        for attempt in range(3):  # as bot/web/static/chat.js does
            try:
                response = self.client.post(
                    "/api/chat/messages", json={"text": text, "message_id": message_id}
                )
                if response.status_code == 200:
                    record.answered_at = time.monotonic()
                    record.acked = True
                    return [
                        Reply(r["text"], [(b["title"], b["payload"]) for b in r["buttons"]])
                        for r in response.json()["replies"]
                    ]
                record.errors.append(f"HTTP {response.status_code}")
            except httpx.HTTPError as exc:
                record.errors.append(type(exc).__name__)
            time.sleep(0.8 * (attempt + 1))
        return None

    def close(self) -> None:
        self.client.close()


_update_ids = itertools.count(10_000_000)
_update_lock = threading.Lock()


def next_update_id() -> int:
    with _update_lock:
        return next(_update_ids)


class TelegramResident(Resident):
    """A Telegram user: Telegram posts each message to the webhook until it gets a 200, then
    the resident waits for the bot's replies (the fake Bot API hands them over)."""

    channel = "telegram"

    def __init__(
        self,
        number: int,
        records: list[MessageRecord],
        lock: threading.Lock,
        *,
        webhook_url: str,
        secret: str,
        feed: ChatFeed,
        answer_timeout: float,
    ) -> None:
        super().__init__(number, records, lock)
        self.chat_id = 700_000_000 + number
        self.client = httpx.Client(timeout=30)
        self.url = webhook_url
        self.secret = secret
        self.feed = feed
        self.answer_timeout = answer_timeout
        self.seen = 0
        self.last_buttons: list[tuple[str, str]] = []

    @property
    def conversation_id(self) -> str:
        return f"telegram:{self.chat_id}"

    def _update(self, text: str) -> dict[str, Any]:
        update_id = next_update_id()
        sender = {"id": self.chat_id, "is_bot": False, "first_name": "Dân"}
        chat = {"id": self.chat_id, "type": "private"}
        if any(payload == text for _, payload in self.last_buttons):
            return {
                "update_id": update_id,
                "callback_query": {
                    "id": f"cb{update_id}",
                    "from": sender,
                    "chat_instance": str(self.chat_id),
                    "data": text,
                    "message": {
                        "message_id": 1,
                        "date": int(time.time()),
                        "chat": chat,
                        "text": "…",
                    },
                },
            }
        return {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "from": sender,
                "chat": chat,
                "date": int(time.time()),
                "text": text,
            },
        }

    def send(self, text: str, record: MessageRecord) -> list[Reply] | None:
        body = json.dumps(self._update(text)).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": self.secret,
        }
        delay = 0.5
        deadline = time.monotonic() + self.answer_timeout
        while True:  # Telegram retries a delivery that got no 200, with growing pauses
            try:
                response = self.client.post(self.url, content=body, headers=headers)
                if response.status_code == 200:
                    break
                record.errors.append(f"HTTP {response.status_code}")
            except httpx.HTTPError as exc:
                record.errors.append(type(exc).__name__)
            if time.monotonic() > deadline:
                return None  # never acknowledged (counted apart from "acknowledged, unanswered")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        record.acked = True
        calls = self.feed.wait_replies(
            self.chat_id, self.seen, timeout=self.answer_timeout, quiet=0.8
        )
        if not calls:
            return None
        self.seen += len(calls)
        record.answered_at = time.monotonic()
        replies = []
        for call in calls:
            markup = reply_markup(call) or {}
            buttons = [
                (b.get("text", ""), b.get("callback_data", ""))
                for row in markup.get("inline_keyboard", [])
                for b in row
            ]
            replies.append(Reply(str(call.params.get("text", "")), buttons))
        self.last_buttons = [b for r in replies for b in r.buttons]
        return replies

    def close(self) -> None:
        self.client.close()
