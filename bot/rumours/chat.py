"""The "tell me when there is an answer" buttons after an unmatched rumour question,
answered in the pipeline before Rasa (no training data: the buttons carry the payloads)."""

from __future__ import annotations

import asyncio

from bot.conversations.messages import OutboundReply, ReplyButton
from bot.db.session import session_scope
from bot.rumours.service import opt_in

FOLLOWUP_QUESTION = "Bạn có muốn được báo khi có câu trả lời không?"
NOTIFY_PAYLOAD = "/rumour_notify "
NO_NOTIFY_PAYLOAD = "/rumour_no_notify "
OPTED_IN = (
    "Dạ, khi cán bộ có câu trả lời, tổng đài sẽ nhắn cho bạn ngay tại đây. "
    "Câu hỏi được lưu không kèm tên, số điện thoại hay địa chỉ."
)
DECLINED = "Dạ, tôi không lưu liên hệ của bạn cho câu hỏi này. Cảm ơn bạn đã hỏi."
UNKNOWN = "Câu hỏi này không còn được lưu. Bạn cứ gửi lại tin cần kiểm tra nhé."


def followup_question(token: str) -> OutboundReply:
    """The opt-in question with its two buttons (the token names the question)."""
    return OutboundReply(
        FOLLOWUP_QUESTION,
        buttons=[
            ReplyButton("Có, báo cho tôi", NOTIFY_PAYLOAD + token),
            ReplyButton("Không cần", NO_NOTIFY_PAYLOAD + token),
        ],
    )


def _opt_in(token: str, conversation_id: str) -> bool:
    with session_scope() as session:
        return opt_in(session=session, token=token, conversation_id=conversation_id) is not None


async def followup_turn(*, conversation_id: str, text: str) -> list[OutboundReply] | None:
    """Answers the opt-in buttons; None for any other message."""
    if text.startswith(NO_NOTIFY_PAYLOAD):
        return [OutboundReply(DECLINED)]
    if not text.startswith(NOTIFY_PAYLOAD):
        return None
    token = text[len(NOTIFY_PAYLOAD) :].strip()
    if not token.isalnum() or len(token) > 32:
        return [OutboundReply(UNKNOWN)]
    done = await asyncio.to_thread(_opt_in, token, conversation_id)
    return [OutboundReply(OPTED_IN if done else UNKNOWN)]
