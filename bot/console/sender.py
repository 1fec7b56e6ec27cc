"""Sending what staff write to the resident through the one outbound path, and recording how
it went.

A staff message (or the hand-back notice) is queued with `bot.outbound.enqueue` in the same
transaction as its transcript line, keyed `console:<transcript id>`; the outbound worker sends
it on the resident's own channel (the web chat is a channel too) under the shared rate limits
and retry policy. Its delivery state comes back as a DeliveryStateChanged event, which
`delivery_recorder` turns into the transcript line's state and a live console event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.orm import Session

from bot.console.gate import CONSOLE_TOPIC
from bot.conversations.messages import OutboundReply
from bot.db.session import session_scope
from bot.handoff.models import ConversationMessage, DeliveryState
from bot.live import LiveBus
from bot.outbound.events import DeliveryStateChanged
from bot.outbound.models import OutboundMessage, OutboundStatus, SkipReason
from bot.outbound.service import enqueue

logger = logging.getLogger(__name__)

STAFF_REPLY = "staff_reply"
HANDBACK_NOTICE = "handback_notice"
DEDUPE_PREFIX = "console:"

_SKIPPED = {
    SkipReason.OUTSIDE_WINDOW: DeliveryState.OUTSIDE_WINDOW,
    SkipReason.UNREACHABLE: DeliveryState.UNREACHABLE,
}


def console_message_id(dedupe_key: str | None) -> int | None:
    """The transcript line an outbound message carries, from its dedupe key."""
    if dedupe_key and dedupe_key.startswith(DEDUPE_PREFIX):
        tail = dedupe_key.removeprefix(DEDUPE_PREFIX)
        return int(tail) if tail.isdigit() else None
    return None


def queue_to_resident(
    *, session: Session, conversation_id: str, message_id: int, text: str, staff: bool = True
) -> OutboundMessage:
    """Queues a staff message (or the hand-back notice) to the resident's own channel, in the
    caller's transaction."""
    channel, _, address = conversation_id.partition(":")
    return enqueue(
        session=session,
        channel=channel,
        address=address,
        reply=OutboundReply(text),
        kind=STAFF_REPLY if staff else HANDBACK_NOTICE,
        conversation_id=conversation_id,
        dedupe_key=f"{DEDUPE_PREFIX}{message_id}",
    )


def delivery_state(status: str, skip_reason: str | None) -> DeliveryState:
    """What the console shows for an outbound message's status."""
    if status == OutboundStatus.SENT:
        return DeliveryState.SENT
    if status == OutboundStatus.SKIPPED and skip_reason in _SKIPPED:
        return _SKIPPED[SkipReason(skip_reason)]
    if status in (OutboundStatus.SKIPPED, OutboundStatus.DEAD):
        return DeliveryState.FAILED
    return DeliveryState.PENDING  # queued, or failed once and retrying


def _record(outbound_id: int, state: DeliveryState) -> tuple[int, int | None] | None:
    with session_scope() as session:
        outbound = session.get(OutboundMessage, outbound_id)
        message_id = console_message_id(outbound.dedupe_key if outbound else None)
        if message_id is None:
            return None
        message = session.get(ConversationMessage, message_id)
        if message is None:  # erased meanwhile
            return None
        message.delivery = state
        return message_id, message.handoff_id


def delivery_recorder(live: LiveBus) -> Callable[[DeliveryStateChanged], Awaitable[None]]:
    """A DeliveryEvents listener: stores a staff message's state and tells the console."""

    async def on_change(event: DeliveryStateChanged) -> None:
        if event.kind not in (STAFF_REPLY, HANDBACK_NOTICE):
            return
        state = delivery_state(event.status, event.skip_reason)
        try:
            found = await asyncio.to_thread(_record, event.message_id, state)
        except Exception:
            logger.exception("could not record a staff message's delivery state")
            return
        if found is None:
            return
        message_id, handoff_id = found
        await live.publish(
            CONSOLE_TOPIC,
            {
                "type": "delivery",
                "handoff_id": handoff_id,
                "message_id": message_id,
                "state": state,
            },
        )

    return on_change
