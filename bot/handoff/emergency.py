"""Answering an emergency the safety layer found: 115 first, then the staff queue.

The pipeline calls `answer_emergency` instead of Rasa when `bot.safety` fires, so a
life-threatening message never depends on the classifier. If the hand-off cannot be recorded
(database down or stuck), the failure is logged at ERROR and the staff's Telegram group is
alerted in the background; the resident's reply never waits for either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.exc import SQLAlchemyError

from bot.audit.service import record_audit
from bot.content.service import ContentError, fact, faq_answer
from bot.conversations.messages import OutboundReply
from bot.db.session import session_scope
from bot.handoff.models import HandoffReason
from bot.handoff.service import request_handoff
from bot.safety import Category
from bot.settings import Settings

logger = logging.getLogger(__name__)

RECORD_TIMEOUT_SECONDS = 5.0  # a stuck database must not hold back the 115 reply for long
ALERT_ATTEMPTS = 3

CATEGORY_LABELS = {
    Category.UNCONSCIOUS: "bất tỉnh/ngất",
    Category.BREATHING: "khó thở",
    Category.CYANOSIS: "tím tái",
    Category.SEIZURE: "co giật",
    Category.BLEEDING: "chảy máu nhiều",
    Category.STROKE: "dấu hiệu đột quỵ",
    Category.CHEST_PAIN: "đau ngực",
    Category.SUICIDE: "ý định tự tử/tự hại",
    Category.LOW_SPO2: "SpO2 dưới 94%",
    Category.CONFIRMED: "cư dân xác nhận đang nguy hiểm",
}

# Alerts still being sent; kept so the event loop does not drop them half-way.
_alerts: set[asyncio.Task[bool]] = set()


def emergency_number() -> str:
    """The emergency number from the content files, 115 when they cannot be read."""
    try:
        return fact("hotlines.emergency.number")
    except ContentError:
        return "115"


def _optional_fact(path: str) -> str | None:
    try:
        return fact(path)
    except ContentError:
        return None


def first_reply(category: Category) -> OutboundReply:
    """The reply that comes before anything else: the emergency number and what to do now."""
    number = emergency_number()
    if category is Category.SUICIDE:
        text = (
            f"Hãy gọi ngay {number} nếu bạn hoặc người thân đang gặp nguy hiểm. "
            "Bạn không một mình: hãy ở cạnh một người bạn tin tưởng và để xa thuốc, dao, dây."
        )
        line = _optional_fact("hotlines.mental_health.number")
        if line:
            text += f" Đường dây hỗ trợ tâm lý: {line}."
        return OutboundReply(text)
    text = f"Hãy gọi ngay {number} (cấp cứu y tế)."
    # No first-aid line for this category in the content: the number alone.
    with contextlib.suppress(ContentError):
        text += " " + faq_answer(f"emergency_{category.value}").text
    return OutboundReply(text)


def record_emergency_handoff(*, conversation_id: str, category: Category) -> None:
    """Puts the conversation in the staff queue as an emergency and audits what the rules found,
    in one transaction of its own."""
    with session_scope() as session:
        handoff = request_handoff(
            session=session, conversation_id=conversation_id, reason=HandoffReason.EMERGENCY
        )
        record_audit(
            session=session,
            actor="safety",
            action="emergency_detected",
            entity="handoff_request",
            entity_id=handoff.id,
            detail={"category": category.value},
        )


def alert_text(*, conversation_id: str, category: Category) -> str:
    """The staff group's alert: which conversation and what kind of emergency, no message text."""
    return (
        f"KHẨN CẤP: cư dân báo tình huống nguy hiểm ({CATEGORY_LABELS[category]}) nhưng hệ "
        "thống KHÔNG ghi được vào hàng chờ nhân viên (lỗi cơ sở dữ liệu). Cư dân đã được "
        f"hướng dẫn gọi {emergency_number()}. Hãy liên hệ ngay cuộc trò chuyện: {conversation_id}"
    )


async def alert_staff(*, settings: Settings, text: str) -> bool:
    """Sends one alert to the staff's Telegram group, with a few quick retries.

    Straight through the Telegram channel, not the outbound queue: that queue is a database
    table, and the alert is for when the database has failed.
    """
    from bot.channels.base import DeliveryError, RetryLater
    from bot.channels.registry import build_channels
    from bot.infra.redis import get_redis

    channel = build_channels(settings, get_redis()).get("telegram")
    if channel is None or not settings.staff_telegram_chat_id:
        logger.error("emergency alert not sent: STAFF_TELEGRAM_CHAT_ID or the bot token is unset")
        return False
    try:
        for attempt in range(ALERT_ATTEMPTS):
            try:
                await channel.send(
                    address=settings.staff_telegram_chat_id, reply=OutboundReply(text), context={}
                )
                logger.info("emergency alert sent to the staff group")
                return True
            except RetryLater as exc:
                await asyncio.sleep(min(max(exc.after, 2.0**attempt), 30.0))
            except DeliveryError as exc:
                logger.error("emergency alert to the staff group refused: %s", exc.reason)
                return False
    finally:
        await channel.aclose()
    logger.error("emergency alert to the staff group failed after %s tries", ALERT_ATTEMPTS)
    return False


async def escalate_emergency(
    *, settings: Settings, conversation_id: str, category: Category
) -> bool:
    """Records the emergency hand-off; on failure logs ERROR and alerts staff in the background."""
    try:
        await asyncio.wait_for(
            asyncio.to_thread(
                record_emergency_handoff, conversation_id=conversation_id, category=category
            ),
            timeout=RECORD_TIMEOUT_SECONDS,
        )
        return True
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        channel = conversation_id.split(":", 1)[0]
        logger.error(
            "EMERGENCY hand-off not recorded (channel %s, %s): %s",
            channel,
            category.value,
            type(exc).__name__,
        )
    task = asyncio.create_task(
        alert_staff(
            settings=settings,
            text=alert_text(conversation_id=conversation_id, category=category),
        )
    )
    _alerts.add(task)
    task.add_done_callback(_alerts.discard)
    return False


async def wait_for_alerts(timeout: float = 60.0) -> None:  # noqa: ASYNC109 — the caller's bound on a wait, not a per-call timeout
    """Waits for the staff alerts still being sent (at shutdown, and in tests)."""
    if _alerts:
        await asyncio.wait(set(_alerts), timeout=timeout)


async def answer_emergency(
    *, settings: Settings, conversation_id: str, category: Category
) -> list[OutboundReply]:
    """The replies to a message the safety layer found life-threatening: 115 first, always."""
    replies = [first_reply(category)]
    number = emergency_number()
    if await escalate_emergency(
        settings=settings, conversation_id=conversation_id, category=category
    ):
        replies.append(
            OutboundReply("Tôi đã báo nhân viên tổng đài để liên hệ hỗ trợ bạn sớm nhất.")
        )
    else:
        replies.append(
            OutboundReply(
                "Hệ thống đang gặp sự cố nên tin nhắn này có thể đến nhân viên chậm. "
                f"Đừng chờ trả lời: hãy gọi ngay {number}."
            )
        )
    # The conversation is now in the staff queue (bot/console): the next messages go to a
    # person, who sees the whole transcript, a form's answers included.
    return replies
