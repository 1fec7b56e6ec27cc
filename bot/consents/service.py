"""The consent paragraphs residents see, their versions, and recording the answers."""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from bot.audit.service import record_audit
from bot.consents.models import Consent
from bot.residents.service import get_or_create_resident

PURPOSES = ("health_declaration", "aid_request", "advisories")
# What the texts promise; PRIVACY_RETENTION_MONTHS (the purge) defaults to it.
RETENTION_MONTHS = 12

# Shown before any personal or health data is asked (Law 91/2025/QH15: explicit consent).
CONSENT_TEXTS = {
    "health_declaration": (
        "Để khai báo y tế, tổng đài cần họ tên, năm sinh, số điện thoại, nơi ở và tình trạng sức "
        "khỏe của bạn. Thông tin chỉ dùng để theo dõi và hỗ trợ y tế, chỉ cơ quan y tế và tổ hỗ "
        "trợ nơi bạn ở được xem, lưu tối đa 12 tháng; bạn có thể xem hoặc yêu cầu xóa bất cứ lúc "
        "nào. Bạn có đồng ý không?"
    ),
    "aid_request": (
        "Để gửi đề nghị hỗ trợ, tổng đài cần biết nhu cầu, hoàn cảnh gia đình, địa chỉ và số điện "
        "thoại của bạn. Thông tin chỉ dùng để hỗ trợ bạn, chỉ tổ hỗ trợ nơi bạn ở và tổng đài được "
        "xem, lưu tối đa 12 tháng; bạn có thể xem hoặc yêu cầu xóa bất cứ lúc nào. Bạn có đồng ý "
        "không?"
    ),
    "advisories": (
        "Để gửi tin cảnh báo, hướng dẫn của địa phương, tổng đài lưu phường/xã, tỉnh/thành bạn "
        'chọn và tài khoản nhắn tin này, chỉ để gửi tin cho bạn, lưu tối đa 12 tháng. Bạn nhắn "hủy đăng ký" để '
        "dừng bất cứ lúc nào. Bạn có đồng ý không?"
    ),
}


def consent_version(purpose: str) -> str:
    """Returns the version id of a consent text: changes whenever the wording changes."""
    digest = hashlib.sha256(CONSENT_TEXTS[purpose].encode("utf-8")).hexdigest()
    return f"v1-{digest[:12]}"


def record_consent(
    *, session: Session, conversation_id: str, purpose: str, granted: bool
) -> Consent | None:
    """Records a resident's agreement, with the version of the text they saw.

    A refusal keeps nothing about the resident (no consent row, no resident row): nothing was
    collected, so there is nothing to prove. Only an anonymous count goes to the audit trail.
    """
    if purpose not in CONSENT_TEXTS:
        raise ValueError(f"unknown consent purpose: {purpose}")
    if not granted:
        record_audit(
            session=session,
            actor="resident",
            action="consent.refused",
            entity="consent",
            entity_id=None,
            detail={"purpose": purpose, "text_version": consent_version(purpose)},
        )
        session.flush()
        return None
    resident = get_or_create_resident(session=session, conversation_id=conversation_id)
    consent = Consent(
        resident_id=resident.id,
        purpose=purpose,
        granted=granted,
        text_version=consent_version(purpose),
    )
    session.add(consent)
    session.flush()
    return consent


def refusal_reply() -> str:
    """What a resident who refused is told: exactly what is and is not kept."""
    return (
        "Dạ, tôi tôn trọng lựa chọn của bạn: tôi không hỏi thêm và không lưu câu trả lời nào "
        "cho việc này. Như mọi cuộc trò chuyện, tin nhắn của bạn được giữ tối đa "
        f'{RETENTION_MONTHS} tháng; nhắn "xem thông tin của tôi" để xem hoặc "xóa thông tin '
        'của tôi" để xóa ngay. Khi cần hỗ trợ, bạn cứ nhắn lại cho tôi.'
    )
