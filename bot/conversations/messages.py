"""The internal message types every channel converts to and from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class InboundMessage:
    """One message from a resident, whatever the channel."""

    conversation_id: str  # telegram:<chat_id>, zalo:<user_id>, web:<id>
    text: str
    platform_message_id: str | None = None  # for dedupe; None when the channel has none
    attachments: list[str] = field(default_factory=list)  # attachment kinds: image, sticker…
    location: Location | None = None
    contact_phone: str | None = None

    @property
    def channel(self) -> str:
        return self.conversation_id.split(":", 1)[0]


@dataclass(frozen=True)
class ReplyButton:
    title: str
    payload: str


@dataclass(frozen=True)
class OutboundReply:
    """One message of the bot to a resident."""

    text: str
    buttons: list[ReplyButton] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "buttons": [{"title": b.title, "payload": b.payload} for b in self.buttons],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutboundReply:
        return cls(
            text=data.get("text") or "",
            buttons=[ReplyButton(b["title"], b["payload"]) for b in data.get("buttons") or []],
        )
