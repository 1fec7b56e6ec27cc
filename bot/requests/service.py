"""Saving health declarations and hardship requests, routing them, and their status workflow.

A confirmed aid request is written with its routing, its first history lines, an audit line
and the team's notification in one transaction: either all of it is saved or none of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.audit.service import record_audit
from bot.consents.models import Consent
from bot.db.base import Base, utcnow
from bot.db.upsert import insert_skipping_returning, upsert_for
from bot.places.wards import get_ward
from bot.requests.codes import format_ref, new_ref_code
from bot.requests.models import (
    OPEN_STATUSES,
    AidRequest,
    HealthDeclaration,
    RequestStatus,
    RequestStatusChange,
)
from bot.requests.notifications import enqueue_team_notification
from bot.requests.priority import Priority, assess_priority
from bot.requests.rollups import count_request, track
from bot.requests.validation import (
    MAX_HOUSEHOLD,
    NEED_TYPES,
    VULNERABLE_LABELS,
    normalize_phone,
    parse_days_without_food,
)
from bot.residents.models import Resident
from bot.residents.service import check_conversation_id, get_or_create_resident
from bot.teams.service import route_ward

logger = logging.getLogger(__name__)

MAX_CODE_ATTEMPTS = 5
# The one order of every list of aid requests (CLI, team views): highest score first, then the
# larger household, then the oldest.
PRIORITY_ORDER = (
    AidRequest.priority_score.desc(),
    AidRequest.household_size.desc(),
    AidRequest.created_at,
    AidRequest.id,
)
# A resident's open requests, oldest first (built once: it runs in every save).
OPEN_OF_RESIDENT = (
    select(AidRequest)
    .where(AidRequest.resident_id == bindparam("resident_id"), AidRequest.status.in_(OPEN_STATUSES))
    .order_by(AidRequest.id)
)
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
    """The data of a request breaks a rule (unknown ward, need, size out of range …); `field`
    names the answer to ask again."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


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
class AidRequestUpdate:
    """What a resident says has changed in an open request; None (or empty) is unchanged.
    Needs and vulnerable members are added to those already given; a description is added
    under the earlier one."""

    needs: list[str] | None = None
    description: str | None = None
    household_size: int | None = None
    vulnerable: list[str] | None = None
    days_without_food: int | None = None
    address_detail: str | None = None
    phone: str | None = None

    def changed_fields(self) -> list[str]:
        """The names of the fields this update changes."""
        return [name for name, value in vars(self).items() if value not in (None, [], "")]


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


def _insert_with_code(
    session: Session,
    model: type[_M],
    values: dict[str, Any],
    draw: Callable[[], str] = new_ref_code,
) -> _M:
    """Inserts a row with a fresh reference code and returns it, in one statement: a code
    already taken makes the INSERT skip (ON CONFLICT on the code only), and another is drawn.
    Any other broken constraint fails at once instead of passing for a collision."""
    statement = insert_skipping_returning(session.get_bind().dialect.name, model, "ref_code")
    for _ in range(MAX_CODE_ATTEMPTS):
        row: _M | None = session.scalars(statement, [{**values, "ref_code": draw()}]).first()
        if row is not None:
            return row
        logger.warning("reference code collision, drawing another")
    raise RuntimeError("could not draw a unique reference code")


@cache
def _resident_seen(dialect: str) -> Any:
    """The upsert of `_lock_resident`, built once (it runs in every save)."""
    statement = upsert_for(dialect, Resident.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["conversation_id"], set_={"last_seen_at": statement.excluded.last_seen_at}
    )
    return statement.returning(Resident.id)


def _lock_resident(session: Session, conversation_id: str) -> int:
    """Returns the resident's id, holding a write lock on their row until the transaction
    ends, so two submissions of the same resident are checked for duplicates one after the
    other. One upsert: it creates the resident on first contact, else marks them seen, which
    locks the row (PostgreSQL waits there for another transaction holding it; on SQLite every
    transaction begins IMMEDIATE and holds the database's write lock already)."""
    values = {
        "conversation_id": conversation_id,
        "channel": check_conversation_id(conversation_id),
        "last_seen_at": utcnow(),
    }
    # Core, not the ORM: only the id is needed.
    statement = _resident_seen(session.get_bind().dialect.name)
    return int(session.connection().execute(statement, values).scalar_one())


def _check_consent(session: Session, resident_id: int, consent_id: int | None) -> None:
    """The consent a request refers to must be this resident's agreement; it can be gone if
    the resident erased their data while the form was open."""
    if consent_id is None:
        return
    consent = session.get(Consent, consent_id)
    if consent is None or consent.resident_id != resident_id or not consent.granted:
        raise InvalidRequest("consent")


def _check_phone(phone: str) -> str:
    stored = normalize_phone(phone)
    if stored is None:
        raise InvalidRequest("phone")
    return stored


def _check_aid(data: AidRequestIn) -> AidRequestIn:
    """Returns the request as it is stored (phone in E.164, days without food read from the
    description when not given), or raises InvalidRequest naming the first wrong answer."""
    if not data.needs or any(n not in NEED_TYPES for n in data.needs):
        raise InvalidRequest("needs")
    if not 1 <= data.household_size <= MAX_HOUSEHOLD:
        raise InvalidRequest("household_size")
    if any(v not in VULNERABLE_LABELS for v in data.vulnerable):
        raise InvalidRequest("vulnerable")
    if get_ward(data.ward_code) is None:
        raise InvalidRequest("ward_code")
    if not data.address_detail.strip():
        raise InvalidRequest("address_detail")
    days = data.days_without_food
    if days is None:
        days = parse_days_without_food(data.description)
    return replace(data, phone=_check_phone(data.phone), days_without_food=days)


def _priority_of(request: AidRequest | AidRequestIn) -> Priority:
    return assess_priority(
        needs=request.needs,
        vulnerable=request.vulnerable,
        household_size=request.household_size,
        days_without_food=request.days_without_food,
        description=request.description,
    )


def submit_aid_request(
    *, session: Session, conversation_id: str, data: AidRequestIn, consent_id: int | None = None
) -> SavedAid:
    """Opens a hardship request and routes it to the ward's team; a second request for the same
    need while one is open updates that one instead. Flushes; the caller commits."""
    data = _check_aid(data)
    ward = get_ward(data.ward_code)
    if ward is None:
        raise RuntimeError("ward is missing")
    resident_id = _lock_resident(session, conversation_id)
    _check_consent(session, resident_id, consent_id)
    open_same_need = session.scalars(OPEN_OF_RESIDENT, {"resident_id": resident_id}).all()
    existing = next((r for r in open_same_need if set(r.needs) & set(data.needs)), None)
    if existing is not None:
        return SavedAid(request=_update_open_request(session, existing, data), created=False)

    routing = route_ward(session=session, ward_code=data.ward_code)
    priority = _priority_of(data)
    request = _insert_with_code(
        session,
        AidRequest,
        {
            "resident_id": resident_id,
            "consent_id": consent_id,
            "needs": list(data.needs),
            "description": data.description,
            "household_size": data.household_size,
            "vulnerable": list(data.vulnerable),
            "days_without_food": data.days_without_food,
            "ward_code": data.ward_code,
            "province_code": ward.province_code,
            "address_detail": data.address_detail,
            "phone": data.phone,
            "primary_need": data.needs[0],
            "status": RequestStatus.ASSIGNED,
            "team_id": routing.team.id,
            "routing_note": routing.note,
            "priority": priority.level,
            "priority_score": priority.score,
            "priority_reasons": priority.reasons,
        },
    )
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
            "priority": request.priority,
            "score": request.priority_score,
        },
    )
    enqueue_team_notification(session=session, request=request, team=routing.team, event="created")
    # Last, just before the caller commits: the day's roll-up rows are shared by every save of
    # that day, ward and need, and their row locks are held from here to the commit.
    count_request(session=session, request=request)
    session.flush()
    return SavedAid(request=request, created=True)


def _update_open_request(session: Session, request: AidRequest, data: AidRequestIn) -> AidRequest:
    changes = AidRequestUpdate(
        needs=data.needs,
        description=data.description,
        household_size=data.household_size,
        vulnerable=data.vulnerable,
        days_without_food=data.days_without_food,
        address_detail=data.address_detail,
        phone=data.phone,
    )
    return _apply_update(
        session, request, changes, "Người dân gửi lại cùng nhu cầu: cập nhật yêu cầu đang mở"
    )


def _apply_priority(request: AidRequest) -> None:
    priority = _priority_of(request)
    request.priority = priority.level
    request.priority_score = priority.score
    request.priority_reasons = priority.reasons


def _merge_update(request: AidRequest, changes: AidRequestUpdate) -> None:
    """Merges what a resident says has changed into the request and scores it again."""
    if changes.needs:
        request.needs = [n for n in NEED_TYPES if n in set(request.needs) | set(changes.needs)]
        request.primary_need = request.needs[0]
    if changes.description and changes.description not in request.description:
        request.description = f"{request.description}\n— {changes.description}"[:2000]
    if changes.household_size is not None:
        request.household_size = changes.household_size
    if changes.vulnerable:
        request.vulnerable = sorted(set(request.vulnerable) | set(changes.vulnerable))
    if changes.days_without_food is not None:
        request.days_without_food = changes.days_without_food
    if changes.address_detail:
        request.address_detail = changes.address_detail
    if changes.phone:
        request.phone = changes.phone
    _apply_priority(request)


def _apply_update(
    session: Session, request: AidRequest, changes: AidRequestUpdate, reason: str
) -> AidRequest:
    """Merges what changed into an open request, scores it again, records the update and
    tells the team."""
    with track(session=session, request=request):
        _merge_update(request, changes)
    request.updated_at = utcnow()
    updates = len([h for h in request.history if h.extra.get("update")]) + 1
    request.history.append(
        RequestStatusChange(
            from_status=request.status,
            to_status=request.status,
            actor="resident",
            reason=reason,
            extra={"update": updates, "fields": changes.changed_fields()},
        )
    )
    record_audit(
        session=session,
        actor="resident",
        action="aid_request.updated",
        entity="aid_request",
        entity_id=request.id,
        detail={"ref": request.ref_code, "update": updates, "fields": changes.changed_fields()},
    )
    if request.team is not None:
        enqueue_team_notification(
            session=session, request=request, team=request.team, event=f"updated-{updates}"
        )
    session.flush()
    return request


def _check_update(changes: AidRequestUpdate) -> AidRequestUpdate:
    if changes.needs is not None and any(n not in NEED_TYPES for n in changes.needs):
        raise InvalidRequest("needs")
    if changes.household_size is not None and not 1 <= changes.household_size <= MAX_HOUSEHOLD:
        raise InvalidRequest("household_size")
    if changes.vulnerable is not None and any(
        v not in VULNERABLE_LABELS for v in changes.vulnerable
    ):
        raise InvalidRequest("vulnerable")
    if not changes.changed_fields():
        raise InvalidRequest("changes")
    days = changes.days_without_food
    if days is None and changes.description:
        days = parse_days_without_food(changes.description)
    phone = _check_phone(changes.phone) if changes.phone else None
    return replace(changes, phone=phone, days_without_food=days)


def find_open_aid_request(*, session: Session, conversation_id: str) -> AidRequest | None:
    """Returns this resident's latest open aid request, if there is one."""
    resident_ids = select(Resident.id).where(Resident.conversation_id == conversation_id)
    return session.scalar(
        select(AidRequest)
        .where(AidRequest.resident_id.in_(resident_ids), AidRequest.status.in_(OPEN_STATUSES))
        .order_by(AidRequest.id.desc())
        .limit(1)
    )


def update_open_aid_request(
    *, session: Session, conversation_id: str, ref_code: str, changes: AidRequestUpdate
) -> AidRequest:
    """Applies what a resident says has changed to their open request (never another
    resident's, never a closed one). Flushes; the caller commits."""
    changes = _check_update(changes)
    resident_id = _lock_resident(session, conversation_id)
    request = session.scalar(
        select(AidRequest).where(
            AidRequest.ref_code == ref_code,
            AidRequest.resident_id == resident_id,
            AidRequest.status.in_(OPEN_STATUSES),
        )
    )
    if request is None:
        raise LookupError(ref_code)
    return _apply_update(session, request, changes, "Người dân cập nhật yêu cầu đang mở")


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
    data = replace(data, phone=_check_phone(data.phone))
    resident = get_or_create_resident(session=session, conversation_id=conversation_id)
    _check_consent(session, resident.id, consent_id)
    declaration = _insert_with_code(
        session,
        HealthDeclaration,
        {
            "resident_id": resident.id,
            "consent_id": consent_id,
            "full_name": data.full_name,
            "birth_year": data.birth_year,
            "phone": data.phone,
            "ward_code": data.ward_code,
            "province_code": ward.province_code,
            "symptoms": list(data.symptoms),
            "case_contact": data.case_contact,
            "recent_travel": data.recent_travel,
            "vaccine_doses": data.vaccine_doses,
        },
    )
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
    with track(session=session, request=request):
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
    """Lists aid requests by priority score (highest first), then the larger household, then
    the oldest."""
    from bot.teams.models import Team

    query = select(AidRequest)
    if ward_code:
        query = query.where(AidRequest.ward_code == ward_code)
    if status:
        query = query.where(AidRequest.status == status)
    if team_slug:
        query = query.join(Team, Team.id == AidRequest.team_id).where(Team.slug == team_slug)
    return list(session.scalars(query.order_by(*PRIORITY_ORDER).limit(limit)))
