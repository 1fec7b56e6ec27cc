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
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
from sqlalchemy.exc import SQLAlchemyError

from bot.console.content import outside_hours_text, staff_available
from bot.console.service import (
    record_bot_replies,
    record_bot_turn,
    record_resident_message,
    resident_owner,
)
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


def _bot_turn(conversation_id: str, text: str | None, texts: list[str]) -> dict[str, object] | None:
    with session_scope() as session:
        handoff = record_bot_turn(
            session=session, conversation_id=conversation_id, resident_text=text, texts=texts
        )
        return console_event("queued", handoff) if handoff else None


def _deferred_or_stored(conversation_id: str, text: str) -> tuple[bool, dict[str, object] | None]:
    """(True, None) when the bot owns a known resident's conversation: the message is stored
    after the turn, with the replies. Else it is stored now: (False, live event or None)."""
    with session_scope() as session:
        known, handoff = resident_owner(session=session, conversation_id=conversation_id)
        if known and handoff is None:
            return True, None
    return False, _resident_message(conversation_id, text)


@dataclass(frozen=True)
class BotTurn:
    """A message the bot answers; `pending_text` is stored with the replies (after_rasa)."""

    pending_text: str | None


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
        return await self._held(conversation_id, event)

    async def _held(self, conversation_id: str, event: dict[str, object]) -> list[OutboundReply]:
        """A message people own: the console is told; outside staff hours, the resident too."""
        await self.live.publish(CONSOLE_TOPIC, event)
        notice = await self._outside_hours(conversation_id)
        if notice is None:
            return []
        await asyncio.to_thread(_bot_replies, conversation_id, [notice.text])
        return [notice]

    async def before_bot(self, *, conversation_id: str, text: str) -> list[OutboundReply] | BotTurn:
        """Like before_rasa, with one database write per turn instead of two: a known
        resident's message to the bot is only read about here and stored after the turn."""
        try:
            deferred, event = await asyncio.to_thread(_deferred_or_stored, conversation_id, text)
        except SQLAlchemyError:
            logger.exception("could not store a resident message; the bot answers")
            return BotTurn(pending_text=None)
        if deferred:
            return BotTurn(pending_text=text)
        if event is None:
            return BotTurn(pending_text=None)
        return await self._held(conversation_id, event)

    async def after_rasa(
        self,
        *,
        conversation_id: str,
        replies: list[OutboundReply],
        turn: BotTurn | None = None,
    ) -> list[OutboundReply]:
        """Stores the bot's replies (and the turn's pending message, in the same transaction);
        a turn that queued the conversation is announced."""
        texts = [r.text for r in replies if r.text]
        pending = turn.pending_text if turn else None
        try:
            event = await asyncio.to_thread(_bot_turn, conversation_id, pending, texts)
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
