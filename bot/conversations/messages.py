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
    # Passed to Rasa as message metadata (e.g. the ward suggested from a shared location).
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def channel(self) -> str:
        return self.conversation_id.split(":", 1)[0]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for the delivery queue."""
        return {
            "conversation_id": self.conversation_id,
            "text": self.text,
            "platform_message_id": self.platform_message_id,
            "attachments": list(self.attachments),
            "location": (
                [self.location.latitude, self.location.longitude] if self.location else None
            ),
            "contact_phone": self.contact_phone,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InboundMessage:
        location = data.get("location")
        return cls(
            conversation_id=data["conversation_id"],
            text=data.get("text") or "",
            platform_message_id=data.get("platform_message_id"),
            attachments=list(data.get("attachments") or []),
            location=Location(float(location[0]), float(location[1])) if location else None,
            contact_phone=data.get("contact_phone"),
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass(frozen=True)
class ReplyButton:
    title: str
    payload: str


@dataclass(frozen=True)
class OutboundReply:
    """One message of the bot to a resident."""

    text: str
    buttons: list[ReplyButton] = field(default_factory=list)
    # A request of the dialogue to the web app, not shown to the resident (e.g. "erase" after
    # the resident confirmed "xóa thông tin của tôi"); the pipeline carries it out.
    command: str | None = None

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
