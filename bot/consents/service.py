"""The consent paragraphs residents see, their versions, and recording the answers."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.consents.models import Consent
from bot.privacy.service import register_describer
from bot.residents.models import Resident
from bot.residents.service import get_or_create_resident

PURPOSES = ("health_declaration", "aid_request")

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
}


def consent_version(purpose: str) -> str:
    """Returns the version id of a consent text: changes whenever the wording changes."""
    digest = hashlib.sha256(CONSENT_TEXTS[purpose].encode("utf-8")).hexdigest()
    return f"v1-{digest[:12]}"


def record_consent(
    *, session: Session, conversation_id: str, purpose: str, granted: bool
) -> Consent:
    """Records a resident's agreement or refusal, with the version of the text they saw."""
    if purpose not in CONSENT_TEXTS:
        raise ValueError(f"unknown consent purpose: {purpose}")
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


@register_describer
def _describe_consents(session: Session, resident: Resident) -> list[str]:
    answers = session.scalars(select(Consent).where(Consent.resident_id == resident.id)).all()
    if not answers:
        return []
    agreed = sum(1 for a in answers if a.granted)
    return [
        f"{len(answers)} câu trả lời về việc đồng ý cung cấp thông tin ({agreed} đồng ý, "
        f"{len(answers) - agreed} không đồng ý), kèm thời điểm và phiên bản nội dung đã xem."
    ]
