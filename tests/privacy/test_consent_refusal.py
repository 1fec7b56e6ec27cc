"""A refusal is told exactly what is kept, and "xem thông tin của tôi" agrees with it."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.consents.service import record_consent, refusal_reply
from bot.privacy.service import describe_personal_data
from bot.residents.models import Resident

CID = "telegram:777000111"


def test_a_refusal_keeps_nothing_about_the_resident(session: Session) -> None:
    assert (
        record_consent(session=session, conversation_id=CID, purpose="aid_request", granted=False)
        is None
    )
    assert session.scalar(select(func.count()).select_from(Resident)) == 0
    counted = session.scalar(select(AuditEvent).where(AuditEvent.action == "consent.refused"))
    assert counted is not None and counted.entity_id is None
    assert set(counted.detail) == {"purpose", "text_version"}  # nothing that points to them


def test_the_view_after_a_refusal_shows_only_what_the_refusal_reply_said_is_kept(
    session: Session,
) -> None:
    record_consent(
        session=session, conversation_id=CID, purpose="health_declaration", granted=False
    )
    lines = describe_personal_data(session=session, conversation_id=CID, messages=3)
    text = "\n".join(lines)
    # Only the conversation itself (Rasa's tracker and the 24-hour reply cache) …
    assert "3 tin nhắn của bạn" in text and "24 giờ" in text
    assert "đồng ý" not in text and "Mã " not in text
    # … which is what the reply says is kept, and how long.
    reply = refusal_reply()
    assert (
        "không lưu câu trả lời nào" in reply
        and "tin nhắn của bạn được giữ tối đa 12 tháng" in reply
    )
    assert "không lưu thông tin nào" not in reply
    assert "xem thông tin của tôi" in reply and "xóa thông tin của tôi" in reply
