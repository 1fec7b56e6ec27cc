"""Sending what staff write to the resident, and recording how it went.

`send_staff_reply` is the console's one way out. Today it queues a "replies" job on the
delivery queue (the same worker and connectors as the bot's replies; the web chat is a channel
there too). When the one outbound path (`bot.outbound.enqueue`) lands, only this function and
`on_delivered` change.
"""

from __future__ import annotations

import asyncio
import logging

from bot.console.gate import CONSOLE_TOPIC
from bot.conversations.messages import OutboundReply
from bot.db.session import session_scope
from bot.delivery.queue import Job, JobQueue
from bot.handoff.models import DeliveryState
from bot.live import LiveBus

logger = logging.getLogger(__name__)

_STATES = {
    "sent": DeliveryState.SENT,
    "outside_window": DeliveryState.OUTSIDE_WINDOW,
    "unreachable": DeliveryState.UNREACHABLE,
    "rejected": DeliveryState.FAILED,
    "failed": DeliveryState.FAILED,
}


async def send_staff_reply(
    *,
    queue: JobQueue,
    conversation_id: str,
    handoff_id: int,
    message_id: int | None,
    text: str,
    staff: bool = True,
) -> None:
    """Queues a message from staff (or the hand-back notice) to the resident's own channel."""
    await queue.put(
        Job(
            kind="replies",
            channel=conversation_id.split(":", 1)[0],
            conversation_id=conversation_id,
            replies=[OutboundReply(text)],
            context={
                "console_message_id": message_id,
                "handoff_id": handoff_id,
                "staff": staff,
            },
        )
    )


def _record(message_id: int, state: DeliveryState) -> None:
    from bot.console.service import set_delivery

    with session_scope() as session:
        set_delivery(session=session, message_id=message_id, state=state)


def delivery_recorder(live: LiveBus):  # type: ignore[no-untyped-def]
    """The delivery worker's hook: stores a staff message's state and tells the console."""

    async def on_delivered(job: Job, outcome: str) -> None:
        message_id = job.context.get("console_message_id")
        if not isinstance(message_id, int):
            return
        state = _STATES.get(outcome, DeliveryState.FAILED)
        await asyncio.to_thread(_record, message_id, state)
        await live.publish(
            CONSOLE_TOPIC,
            {
                "type": "delivery",
                "handoff_id": job.context.get("handoff_id"),
                "message_id": message_id,
                "state": state,
            },
        )

    return on_delivered
