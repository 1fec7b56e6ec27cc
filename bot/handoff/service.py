"""Recording that a conversation needs a person."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.handoff.models import (
    ConversationMessage,
    HandoffReason,
    HandoffRequest,
    HandoffStatus,
)
from bot.privacy.service import register_describer
from bot.residents.models import Resident
from bot.residents.service import get_or_create_resident

# An emergency outranks any other reason on the same open hand-off.
_RANK = {HandoffReason.MISUNDERSTOOD: 0, HandoffReason.ASKED: 1, HandoffReason.EMERGENCY: 2}


def request_handoff(
    *, session: Session, conversation_id: str, reason: HandoffReason
) -> HandoffRequest:
    """Marks a conversation for a person; a conversation has at most one open hand-off."""
    resident = get_or_create_resident(session=session, conversation_id=conversation_id)
    handoff = session.scalar(
        select(HandoffRequest).where(
            HandoffRequest.resident_id == resident.id,
            HandoffRequest.status != HandoffStatus.CLOSED,
        )
    )
    if handoff is None:
        handoff = HandoffRequest(resident_id=resident.id, reason=reason)
        session.add(handoff)
    elif _RANK[reason] > _RANK[HandoffReason(handoff.reason)]:
        handoff.reason = reason
    session.flush()
    return handoff


def open_handoffs(*, session: Session) -> list[HandoffRequest]:
    """Lists the conversations waiting for a person, emergencies first, oldest first."""
    rows = session.scalars(
        select(HandoffRequest)
        .where(HandoffRequest.status == HandoffStatus.OPEN)
        .order_by(HandoffRequest.created_at)
    ).all()
    return sorted(rows, key=lambda h: -_RANK[HandoffReason(h.reason)])


@register_describer
def _describe_handoffs(session: Session, resident: Resident) -> list[str]:
    count = len(
        session.scalars(
            select(HandoffRequest.id).where(HandoffRequest.resident_id == resident.id)
        ).all()
    )
    lines = [f"{count} lần đề nghị gặp nhân viên tổng đài."] if count else []
    messages = len(
        session.scalars(
            select(ConversationMessage.id).where(ConversationMessage.resident_id == resident.id)
        ).all()
    )
    if messages:
        lines.append(f"Nội dung {messages} tin nhắn trao đổi với tổng đài (tự động và nhân viên).")
    return lines
