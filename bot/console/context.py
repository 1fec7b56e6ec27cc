"""What staff see beside a thread, and what they may do for the resident from there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.service import record_audit
from bot.consents.models import Consent
from bot.console.service import Actor, ConsoleError, get_handoff, reply_window_warning
from bot.handoff.models import HandoffRequest
from bot.requests.codes import format_ref
from bot.requests.models import AidRequest, HealthDeclaration, RequestStatus
from bot.requests.service import (
    STATUS_LABELS,
    TRANSITIONS,
    AidRequestIn,
    InvalidRequest,
    StatusChangeNotAllowed,
    set_status,
    submit_aid_request,
)
from bot.requests.validation import NEED_LABELS, VULNERABLE_LABELS, normalize_phone

CHANNEL_LABELS = {"web": "Trang web", "telegram": "Telegram", "zalo": "Zalo"}
PURPOSE_LABELS = {"health_declaration": "Khai báo y tế", "aid_request": "Đề nghị hỗ trợ"}


@dataclass(frozen=True)
class RequestLine:
    kind: str  # "aid_request" | "health_declaration"
    ref: str  # as residents see it: 7KQ2-M9XA
    code: str  # as stored, for status changes
    label: str
    status: str
    status_label: str
    ward_code: str
    created_at: datetime
    next_statuses: list[tuple[str, str]]


@dataclass(frozen=True)
class ResidentContext:
    channel: str
    channel_label: str
    reachable: bool
    first_contact: datetime
    requests: list[RequestLine]
    consents: list[tuple[str, bool, datetime]]  # purpose label, granted, when
    window_warning: str | None


def resident_context(*, session: Session, handoff: HandoffRequest, actor: Actor) -> ResidentContext:
    """The resident's requests, declarations, consents and channel; the view is audited."""
    resident = handoff.resident
    lines: list[RequestLine] = []
    for aid in session.scalars(
        select(AidRequest)
        .where(AidRequest.resident_id == resident.id)
        .order_by(AidRequest.id.desc())
    ):
        current = RequestStatus(aid.status)
        lines.append(
            RequestLine(
                kind="aid_request",
                ref=format_ref(aid.ref_code),
                code=aid.ref_code,
                label="Hỗ trợ: " + ", ".join(NEED_LABELS.get(n, n) for n in aid.needs),
                status=aid.status,
                status_label=STATUS_LABELS[current],
                ward_code=aid.ward_code,
                created_at=aid.created_at,
                next_statuses=[
                    (s, STATUS_LABELS[s]) for s in RequestStatus if s in TRANSITIONS[current]
                ],
            )
        )
    for declaration in session.scalars(
        select(HealthDeclaration)
        .where(HealthDeclaration.resident_id == resident.id)
        .order_by(HealthDeclaration.id.desc())
    ):
        lines.append(
            RequestLine(
                kind="health_declaration",
                ref=format_ref(declaration.ref_code),
                code=declaration.ref_code,
                label="Khai báo y tế",
                status="recorded",
                status_label="đã ghi nhận",
                ward_code=declaration.ward_code,
                created_at=declaration.created_at,
                next_statuses=[],
            )
        )
    consents = [
        (PURPOSE_LABELS.get(c.purpose, c.purpose), c.granted, c.created_at)
        for c in session.scalars(
            select(Consent).where(Consent.resident_id == resident.id).order_by(Consent.id.desc())
        )
    ]
    record_audit(
        session=session,
        actor=actor.audit_name,
        action="console.view_context",
        entity="resident",
        entity_id=resident.id,
        detail={"handoff": handoff.id, "requests": len(lines)},
    )
    session.flush()
    return ResidentContext(
        channel=resident.channel,
        channel_label=CHANNEL_LABELS.get(resident.channel, resident.channel),
        reachable=resident.reachable,
        first_contact=resident.created_at,
        requests=sorted(lines, key=lambda line: line.created_at, reverse=True),
        consents=consents,
        window_warning=reply_window_warning(resident=resident),
    )


def open_aid_request(
    *,
    session: Session,
    handoff_id: int,
    actor: Actor,
    needs: list[str],
    description: str,
    household_size: int,
    vulnerable: list[str],
    ward_code: str,
    address_detail: str,
    phone: str,
) -> AidRequest:
    """Opens a hardship request for the resident from the console (the chat form's service)."""
    if actor.role not in ("admin", "staff"):
        raise PermissionError("staff only")
    handoff = get_handoff(session=session, handoff_id=handoff_id, actor=actor)
    clean_phone = normalize_phone(phone or "")
    if clean_phone is None:
        raise ConsoleError("Số điện thoại chưa đúng (ví dụ 0912345678).")
    if not needs or any(n not in NEED_LABELS for n in needs):
        raise ConsoleError("Bạn hãy chọn ít nhất một nhu cầu hỗ trợ.")
    if any(v not in VULNERABLE_LABELS for v in vulnerable):
        raise ConsoleError("Nhóm dễ tổn thương không hợp lệ.")
    description = (description or "").strip()
    address_detail = (address_detail or "").strip()
    if not description or len(description) > 1000:
        raise ConsoleError("Bạn hãy mô tả hoàn cảnh (tối đa 1.000 ký tự).")
    if not address_detail or len(address_detail) > 300:
        raise ConsoleError("Bạn hãy nhập địa chỉ (tối đa 300 ký tự).")
    data = AidRequestIn(
        needs=needs,
        description=description,
        household_size=household_size,
        vulnerable=vulnerable,
        ward_code=(ward_code or "").strip(),
        address_detail=address_detail,
        phone=clean_phone,
    )
    try:
        saved = submit_aid_request(
            session=session, conversation_id=handoff.resident.conversation_id, data=data
        )
    except InvalidRequest as exc:
        field = str(exc)
        raise ConsoleError(
            "Mã phường/xã không có trong danh mục."
            if field == "ward_code"
            else f"Dữ liệu chưa hợp lệ ({field})."
        ) from exc
    record_audit(
        session=session,
        actor=actor.audit_name,
        action="console.aid_request",
        entity="aid_request",
        entity_id=saved.request.id,
        detail={"handoff": handoff.id, "ref": saved.request.ref_code, "created": saved.created},
    )
    session.flush()
    return saved.request


def change_request_status(
    *, session: Session, handoff_id: int, actor: Actor, code: str, status: str
) -> AidRequest:
    """Moves one of this resident's aid requests along its workflow."""
    if actor.role not in ("admin", "staff"):
        raise PermissionError("staff only")
    handoff = get_handoff(session=session, handoff_id=handoff_id, actor=actor)
    request = session.scalar(
        select(AidRequest).where(
            AidRequest.ref_code == code, AidRequest.resident_id == handoff.resident_id
        )
    )
    if request is None:
        raise ConsoleError("Không tìm thấy yêu cầu này của người dân.")
    try:
        target = RequestStatus(status)
        return set_status(
            session=session, ref_code=code, status=target, actor=actor.audit_name, reason="Tổng đài"
        )
    except (ValueError, StatusChangeNotAllowed) as exc:
        raise ConsoleError("Không thể chuyển yêu cầu sang trạng thái này.") from exc
