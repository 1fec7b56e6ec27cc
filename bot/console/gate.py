"""The pipeline's question before Rasa: is this conversation the bot's?

The resident's message is stored in the transcript first. While the conversation is in the
queue or with a staff member it goes to the console (a live event), never to Rasa; outside
staff hours the resident is told when someone will answer (at most every half hour). After a
bot turn, the bot's replies are stored, and a turn that put the conversation in the queue (an
emergency, "gặp nhân viên", an accepted offer after misunderstandings) announces it live.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import redis.asyncio as aioredis
from sqlalchemy.exc import SQLAlchemyError

from bot.console.content import outside_hours_text, staff_available
from bot.console.service import record_bot_replies, record_resident_message
from bot.content.service import ContentError
from bot.conversations.messages import OutboundReply
from bot.db.base import utcnow
from bot.db.session import session_scope
from bot.handoff.models import HandoffReason, HandoffRequest
from bot.live import LiveBus

logger = logging.getLogger(__name__)

CONSOLE_TOPIC = "console"
OUTSIDE_HOURS_REPEAT_SECONDS = 30 * 60


def console_event(kind: str, handoff: HandoffRequest) -> dict[str, object]:
    """The live event staff pages get: ids and labels, never message text."""
    return {
        "type": kind,
        "handoff_id": handoff.id,
        "status": handoff.status,
        "emergency": handoff.reason == HandoffReason.EMERGENCY,
    }


def _resident_message(conversation_id: str, text: str) -> dict[str, object] | None:
    with session_scope() as session:
        handoff = record_resident_message(
            session=session, conversation_id=conversation_id, text=text
        )
        return console_event("message", handoff) if handoff else None


def _bot_replies(conversation_id: str, texts: list[str]) -> dict[str, object] | None:
    with session_scope() as session:
        handoff = record_bot_replies(session=session, conversation_id=conversation_id, texts=texts)
        return console_event("queued", handoff) if handoff else None


class ConsoleGate:
    """Stores every turn and keeps conversations that people own away from the bot."""

    def __init__(
        self, *, live: LiveBus, redis: aioredis.Redis[str], content_dir: Path | None = None
    ) -> None:
        self.live = live
        self._redis = redis
        self._content_dir = content_dir  # the process's settings' (staff_hours.yml)

    async def before_rasa(self, *, conversation_id: str, text: str) -> list[OutboundReply] | None:
        """None: the bot answers. Else the replies to send instead (often none)."""
        try:
            event = await asyncio.to_thread(_resident_message, conversation_id, text)
        except SQLAlchemyError:
            # Without the database nobody can see the console either: the bot answers.
            logger.exception("could not store a resident message; the bot answers")
            return None
        if event is None:
            return None
        await self.live.publish(CONSOLE_TOPIC, event)
        notice = await self._outside_hours(conversation_id)
        if notice is None:
            return []
        await asyncio.to_thread(_bot_replies, conversation_id, [notice.text])
        return [notice]

    async def after_rasa(
        self, *, conversation_id: str, replies: list[OutboundReply]
    ) -> list[OutboundReply]:
        """Stores the bot's replies; a turn that queued the conversation is announced."""
        texts = [r.text for r in replies if r.text]
        try:
            event = await asyncio.to_thread(_bot_replies, conversation_id, texts)
        except SQLAlchemyError:
            logger.exception("could not store the bot's replies")
            return replies
        if event is None:
            return replies
        await self.live.publish(CONSOLE_TOPIC, event)
        notice = await self._outside_hours(conversation_id)
        if notice is not None:
            await asyncio.to_thread(_bot_replies, conversation_id, [notice.text])
            return [*replies, notice]
        return replies

    async def _outside_hours(self, conversation_id: str) -> OutboundReply | None:
        now = utcnow()
        try:
            if staff_available(now, content_dir=self._content_dir):
                return None
            text = outside_hours_text(now, content_dir=self._content_dir)
        except ContentError:
            logger.exception("staff_hours.yml is unusable; treating staff as available")
            return None
        key = f"console:outside-hours:{conversation_id}"
        if not await self._redis.set(key, "1", nx=True, ex=OUTSIDE_HOURS_REPEAT_SECONDS):
            return None
        return OutboundReply(text)
