"""The web chat as a channel: a staff message reaches the resident's open page over the live bus.

It goes the same way as a Telegram or Zalo reply (the one outbound path: queued row →
outbound worker → `send`), so the console records its delivery state the same way. The
transcript already holds the message; a page that reconnects gets what it missed from there.
"""

from __future__ import annotations

from typing import Any

from bot.channels.base import SendRate
from bot.console.sender import STAFF_REPLY, console_message_id
from bot.conversations.messages import OutboundReply
from bot.live import LiveBus


def chat_topic(conversation_id: str) -> str:
    return f"chat:{conversation_id}"


class WebChatChannel:
    """Publishes staff messages to the resident's web chat page."""

    name = "web"
    rate = SendRate()  # our own pages: no platform limit

    def __init__(self, *, live: LiveBus) -> None:
        self._live = live

    async def send(self, *, address: str, reply: OutboundReply, context: dict[str, Any]) -> None:
        """Publishes one message to the resident's page(s), marked as a person's when it is."""
        await self._live.publish(
            chat_topic(f"web:{address}"),
            {
                "type": "message",
                "id": console_message_id(context.get("dedupe_key")),
                "text": reply.text,
                "from_person": context.get("kind") == STAFF_REPLY,
                "buttons": [{"title": b.title, "payload": b.payload} for b in reply.buttons],
            },
        )

    async def acknowledge(self, *, address: str, context: dict[str, Any]) -> None:
        return None

    async def aclose(self) -> None:
        return None
