"""Saving health declarations and hardship requests, routing them, and their status workflow.

A confirmed aid request is written with its routing, its first history lines, an audit line
and the team's notification in one transaction: either all of it is saved or none of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.audit.service import record_audit
from bot.db.base import Base, utcnow
from bot.places.wards import get_ward
from bot.privacy.service import register_describer
from bot.requests.codes import format_ref, new_ref_code
from bot.requests.models import (
    OPEN_STATUSES,
    AidRequest,
    HealthDeclaration,
    RequestStatus,
    RequestStatusChange,
)
from bot.requests.notifications import enqueue_team_notification
from bot.requests.priority import assess_priority
from bot.requests.validation import NEED_TYPES, VULNERABLE_LABELS
from bot.residents.models import Resident
from bot.residents.service import get_or_create_resident
from bot.teams.service import route_ward

logger = logging.getLogger(__name__)

MAX_CODE_ATTEMPTS = 5
# Who may move a request where: anything open can be closed, nothing closed reopens by itself.
TRANSITIONS: dict[RequestStatus, set[RequestStatus]] = {
    RequestStatus.NEW: {
        RequestStatus.ASSIGNED,
        RequestStatus.IN_PROGRESS,
        RequestStatus.RESOLVED,
        RequestStatus.REJECTED,
        RequestStatus.DUPLICATE,
    },
    RequestStatus.ASSIGNED: {
        RequestStatus.IN_PROGRESS,
        RequestStatus.RESOLVED,
        RequestStatus.REJECTED,
        RequestStatus.DUPLICATE,
    },
    RequestStatus.IN_PROGRESS: {
        RequestStatus.RESOLVED,
        RequestStatus.REJECTED,
        RequestStatus.DUPLICATE,
        RequestStatus.ASSIGNED,
    },
    RequestStatus.RESOLVED: {RequestStatus.IN_PROGRESS},
    RequestStatus.REJECTED: {RequestStatus.ASSIGNED},
    RequestStatus.DUPLICATE: set(),
}
STATUS_LABELS = {
    RequestStatus.NEW: "mới tiếp nhận",
    RequestStatus.ASSIGNED: "đã chuyển tổ hỗ trợ",
    RequestStatus.IN_PROGRESS: "đang xử lý",
    RequestStatus.RESOLVED: "đã hoàn thành",
    RequestStatus.REJECTED: "không thể hỗ trợ",
    RequestStatus.DUPLICATE: "trùng với yêu cầu khác",
}


class InvalidRequest(ValueError):
    """The data of a request breaks a rule (unknown ward, need, size out of range …)."""


class StatusChangeNotAllowed(ValueError):
    """The workflow does not allow this status change."""


@dataclass(frozen=True)
class AidRequestIn:
    needs: list[str]
    description: str
    household_size: int
    vulnerable: list[str]
    ward_code: str
    address_detail: str
    phone: str
    days_without_food: int | None = None


@dataclass(frozen=True)
class HealthDeclarationIn:
    full_name: str
    birth_year: int
    phone: str
    ward_code: str
    symptoms: list[str]
    case_contact: bool
    recent_travel: str | None
    vaccine_doses: int


@dataclass(frozen=True)
class SavedAid:
    request: AidRequest
    created: bool  # False: an open request for the same need was updated instead


@dataclass(frozen=True)
class RequestView:
    """What a resident may see of one of their own requests."""

    kind: str  # "aid_request" | "health_declaration"
    ref: str  # "7KQ2-M9XA"
    status: str  # Vietnamese label
    created_at: datetime
    team_name: str | None = None


_M = TypeVar("_M", bound=Base)


def _add_with_code(session: Session, make: Callable[[str], _M]) -> _M:
    """Adds a row with a fresh reference code, drawing again on the (rare) collision that the
    unique constraint reports; the savepoint keeps the rest of the transaction intact."""
    for _ in range(MAX_CODE_ATTEMPTS):
        row = make(new_ref_code())
        try:
            with session.begin_nested():
                session.add(row)
            return row
        except IntegrityError:
            logger.warning("reference code collision, drawing another")
    raise RuntimeError("could not draw a unique reference code")


def _lock_resident(session: Session, conversation_id: str) -> Resident:
    """Returns the resident, holding a write lock on it until the transaction ends, so two
    submissions of the same resident are checked for duplicates one after the other."""
    resident = get_or_create_resident(session=session, conversation_id=conversation_id)
    # SQLite: every transaction begins IMMEDIATE (bot/db/session.py), so it holds the
    # database's write lock already. Elsewhere: a row lock on the resident.
    if session.get_bind().dialect.name != "sqlite":
        session.execute(select(Resident.id).where(Resident.id == resident.id).with_for_update())
    return resident


def _check_aid(data: AidRequestIn) -> None:
    if not data.needs or any(n not in NEED_TYPES for n in data.needs):
        raise InvalidRequest("needs")
    if not 1 <= data.household_size <= 50:
        raise InvalidRequest("household_size")
    if any(v not in VULNERABLE_LABELS for v in data.vulnerable):
        raise InvalidRequest("vulnerable")
    if get_ward(data.ward_code) is None:
        raise InvalidRequest("ward_code")


def submit_aid_request(
    *, session: Session, conversation_id: str, data: AidRequestIn, consent_id: int | None = None
) -> SavedAid:
    """Opens a hardship request and routes it to the ward's team; a second request for the same
    need while one is open updates that one instead. Flushes; the caller commits."""
    _check_aid(data)
    ward = get_ward(data.ward_code)
    assert ward is not None
    resident = _lock_resident(session, conversation_id)
    priority = assess_priority(
        needs=data.needs,
        vulnerable=data.vulnerable,
        household_size=data.household_size,
        days_without_food=data.days_without_food,
        description=data.description,
    )
    open_same_need = session.scalars(
        select(AidRequest)
        .where(AidRequest.resident_id == resident.id, AidRequest.status.in_(OPEN_STATUSES))
        .order_by(AidRequest.id)
    ).all()
    existing = next((r for r in open_same_need if set(r.needs) & set(data.needs)), None)
    if existing is not None:
        return SavedAid(
            request=_update_open_request(session, existing, data, priority), created=False
        )

    routing = route_ward(session=session, ward_code=data.ward_code)

    def make(code: str) -> AidRequest:
        return AidRequest(
            ref_code=code,
            resident_id=resident.id,
            consent_id=consent_id,
            needs=list(data.needs),
            description=data.description,
            household_size=data.household_size,
            vulnerable=list(data.vulnerable),
            days_without_food=data.days_without_food,
            ward_code=data.ward_code,
            province_code=ward.province_code,
            address_detail=data.address_detail,
            phone=data.phone,
            priority=priority.level,
            priority_reasons=priority.reasons,
            primary_need=data.needs[0],
            status=RequestStatus.ASSIGNED,
            team_id=routing.team.id,
            routing_note=routing.note,
        )

    request = _add_with_code(session, make)
    session.add_all(
        [
            RequestStatusChange(
                request_id=request.id,
                from_status=None,
                to_status=RequestStatus.NEW,
                actor="resident",
                reason="Người dân gửi qua trợ lý",
            ),
            RequestStatusChange(
                request_id=request.id,
                from_status=RequestStatus.NEW,
                to_status=RequestStatus.ASSIGNED,
                actor="system",
                reason=f"{routing.note}: {routing.team.name}",
            ),
        ]
    )
    record_audit(
        session=session,
        actor="resident",
        action="aid_request.created",
        entity="aid_request",
        entity_id=request.id,
        detail={
            "ref": request.ref_code,
            "ward": data.ward_code,
            "team": routing.team.slug,
            "priority": priority.level,
        },
    )
    enqueue_team_notification(session=session, request=request, team=routing.team, event="created")
    session.flush()
    return SavedAid(request=request, created=True)


def _update_open_request(
    session: Session, request: AidRequest, data: AidRequestIn, priority: object
) -> AidRequest:
    from bot.requests.priority import Priority

    assert isinstance(priority, Priority)
    request.needs = [n for n in NEED_TYPES if n in set(request.needs) | set(data.needs)]
    request.primary_need = request.needs[0]
    if data.description and data.description not in request.description:
        request.description = f"{request.description}\n— {data.description}"[:2000]
    request.household_size = data.household_size
    request.vulnerable = sorted(set(request.vulnerable) | set(data.vulnerable))
    request.days_without_food = data.days_without_food or request.days_without_food
    request.address_detail = data.address_detail
    request.phone = data.phone
    if priority.level < request.priority:
        request.priority = priority.level
        request.priority_reasons = priority.reasons
    request.updated_at = utcnow()
    updates = len([h for h in request.history if h.extra.get("update")]) + 1
    request.history.append(
        RequestStatusChange(
            from_status=request.status,
            to_status=request.status,
            actor="resident",
            reason="Người dân gửi lại cùng nhu cầu: cập nhật yêu cầu đang mở",
            extra={"update": updates},
        )
    )
    record_audit(
        session=session,
        actor="resident",
        action="aid_request.updated",
        entity="aid_request",
        entity_id=request.id,
        detail={"ref": request.ref_code, "update": updates},
    )
    if request.team is not None:
        enqueue_team_notification(
            session=session, request=request, team=request.team, event=f"updated-{updates}"
        )
    session.flush()
    return request


def submit_health_declaration(
    *,
    session: Session,
    conversation_id: str,
    data: HealthDeclarationIn,
    consent_id: int | None = None,
) -> HealthDeclaration:
    """Saves a health declaration with a reference code. Flushes; the caller commits."""
    ward = get_ward(data.ward_code)
    if ward is None:
        raise InvalidRequest("ward_code")
    resident = get_or_create_resident(session=session, conversation_id=conversation_id)

    def make(code: str) -> HealthDeclaration:
        return HealthDeclaration(
            ref_code=code,
            resident_id=resident.id,
            consent_id=consent_id,
            full_name=data.full_name,
            birth_year=data.birth_year,
            phone=data.phone,
            ward_code=data.ward_code,
            province_code=ward.province_code,
            symptoms=list(data.symptoms),
            case_contact=data.case_contact,
            recent_travel=data.recent_travel,
            vaccine_doses=data.vaccine_doses,
        )

    declaration = _add_with_code(session, make)
    record_audit(
        session=session,
        actor="resident",
        action="health_declaration.created",
        entity="health_declaration",
        entity_id=declaration.id,
        detail={"ref": declaration.ref_code, "ward": data.ward_code},
    )
    session.flush()
    return declaration


CLOSED_STATUSES = (RequestStatus.RESOLVED, RequestStatus.REJECTED, RequestStatus.DUPLICATE)
AUTOMATIC_ACTORS = ("system", "resident")


def set_status(
    *, session: Session, ref_code: str, status: RequestStatus, actor: str, reason: str = ""
) -> AidRequest:
    """Moves an aid request along its workflow, recording who, when and why (and when a
    person first acted on it and when it was closed, for the dashboard)."""
    request = session.scalar(select(AidRequest).where(AidRequest.ref_code == ref_code))
    if request is None:
        raise LookupError(ref_code)
    current = RequestStatus(request.status)
    if status not in TRANSITIONS[current]:
        raise StatusChangeNotAllowed(f"{current} → {status}")
    request.history.append(
        RequestStatusChange(from_status=current, to_status=status, actor=actor, reason=reason)
    )
    now = utcnow()
    request.status = status
    request.updated_at = now
    if request.first_action_at is None and actor not in AUTOMATIC_ACTORS:
        request.first_action_at = now
    request.closed_at = now if status in CLOSED_STATUSES else None
    record_audit(
        session=session,
        actor=actor,
        action="aid_request.status",
        entity="aid_request",
        entity_id=request.id,
        detail={"from": current, "to": status},
    )
    session.flush()
    return request


def _view_aid(request: AidRequest) -> RequestView:
    return RequestView(
        kind="aid_request",
        ref=format_ref(request.ref_code),
        status=STATUS_LABELS[RequestStatus(request.status)],
        created_at=request.created_at,
        team_name=request.team.name if request.team else None,
    )


def _view_declaration(declaration: HealthDeclaration) -> RequestView:
    return RequestView(
        kind="health_declaration",
        ref=format_ref(declaration.ref_code),
        status="đã ghi nhận",
        created_at=declaration.created_at,
    )


def find_own_request(
    *, session: Session, conversation_id: str, ref_code: str
) -> RequestView | None:
    """Returns one of this resident's requests by code; another resident's code gives None."""
    resident_ids = select(Resident.id).where(Resident.conversation_id == conversation_id)
    aid = session.scalar(
        select(AidRequest).where(
            AidRequest.ref_code == ref_code, AidRequest.resident_id.in_(resident_ids)
        )
    )
    if aid is not None:
        return _view_aid(aid)
    declaration = session.scalar(
        select(HealthDeclaration).where(
            HealthDeclaration.ref_code == ref_code, HealthDeclaration.resident_id.in_(resident_ids)
        )
    )
    return _view_declaration(declaration) if declaration is not None else None


def list_own_requests(
    *, session: Session, conversation_id: str, limit: int = 5
) -> list[RequestView]:
    """Returns this resident's latest requests and declarations, newest first."""
    resident_ids = select(Resident.id).where(Resident.conversation_id == conversation_id)
    aids = session.scalars(
        select(AidRequest)
        .where(AidRequest.resident_id.in_(resident_ids))
        .order_by(AidRequest.id.desc())
        .limit(limit)
    ).all()
    declarations = session.scalars(
        select(HealthDeclaration)
        .where(HealthDeclaration.resident_id.in_(resident_ids))
        .order_by(HealthDeclaration.id.desc())
        .limit(limit)
    ).all()
    views = [_view_aid(a) for a in aids] + [_view_declaration(d) for d in declarations]
    return sorted(views, key=lambda v: v.created_at, reverse=True)[:limit]


def list_aid_requests(
    *,
    session: Session,
    ward_code: str | None = None,
    status: str | None = None,
    team_slug: str | None = None,
    limit: int = 200,
) -> list[AidRequest]:
    """Lists aid requests, most urgent first, then oldest first."""
    from bot.teams.models import Team

    query = select(AidRequest)
    if ward_code:
        query = query.where(AidRequest.ward_code == ward_code)
    if status:
        query = query.where(AidRequest.status == status)
    if team_slug:
        query = query.join(Team, Team.id == AidRequest.team_id).where(Team.slug == team_slug)
    return list(
        session.scalars(
            query.order_by(AidRequest.priority, AidRequest.created_at, AidRequest.id).limit(limit)
        )
    )


@register_describer
def _describe_requests(session: Session, resident: Resident) -> list[str]:
    lines = []
    aids = session.scalars(select(AidRequest).where(AidRequest.resident_id == resident.id)).all()
    if aids:
        lines.append(
            f"{len(aids)} đề nghị hỗ trợ (nhu cầu, hoàn cảnh, địa chỉ, số điện thoại): "
            + ", ".join(format_ref(a.ref_code) for a in aids)
            + "."
        )
    declarations = session.scalars(
        select(HealthDeclaration).where(HealthDeclaration.resident_id == resident.id)
    ).all()
    if declarations:
        lines.append(
            f"{len(declarations)} tờ khai y tế (họ tên, năm sinh, số điện thoại, nơi ở, "
            "tình trạng sức khỏe): " + ", ".join(format_ref(d.ref_code) for d in declarations) + "."
        )
    return lines
