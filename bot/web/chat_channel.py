"""The web chat as a channel: a staff message reaches the resident's open page over the live bus.

It goes the same way as a Telegram or Zalo reply (queued job → delivery worker → `send`), so
the console records its delivery state the same way. The transcript already holds the message;
a page opened later shows it from there (`GET /api/chat/history`).
"""

from __future__ import annotations

from typing import Any

from bot.conversations.messages import OutboundReply
from bot.live import LiveBus


def chat_topic(conversation_id: str) -> str:
    return f"chat:{conversation_id}"


class WebChatChannel:
    """Publishes staff messages to the resident's web chat page."""

    name = "web"

    def __init__(self, *, live: LiveBus) -> None:
        self._live = live

    async def send(
        self, *, conversation_id: str, reply: OutboundReply, context: dict[str, Any]
    ) -> None:
        """Publishes one message to the resident's page(s), marked as a person's when it is."""
        await self._live.publish(
            chat_topic(conversation_id),
            {
                "type": "message",
                "id": context.get("console_message_id"),
                "text": reply.text,
                "from_person": bool(context.get("staff")),
                "buttons": [{"title": b.title, "payload": b.payload} for b in reply.buttons],
            },
        )

    async def before_turn(self, *, conversation_id: str, context: dict[str, Any]) -> None:
        return None

    async def aclose(self) -> None:
        return None
