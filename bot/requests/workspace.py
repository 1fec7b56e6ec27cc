"""The team workspace's rules: who sees which requests (one scope for lists, details, exports,
counts and charts), the filters, the order of work, overdue limits, and what a team changes
(status with a notice to the resident, assignee, notes), each change and view audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, literal_column, or_, select
from sqlalchemy.orm import Session, selectinload

from bot.audit.service import record_audit
from bot.content.service import content_file
from bot.conversations.messages import OutboundReply
from bot.db.base import utcnow
from bot.outbound.service import enqueue
from bot.places.wards import get_ward
from bot.requests.codes import format_ref
from bot.requests.models import OPEN_STATUSES, AidRequest, RequestStatus, RequestStatusChange
from bot.requests.service import PRIORITY_ORDER, STATUS_LABELS, set_status
from bot.requests.validation import NEED_TYPES
from bot.residents.models import Resident
from bot.users.models import Role, User
from bot.users.service import audit_actor, ward_scope

STATUS_NOTICE = "status_notice"
MAX_NOTE_CHARS = 300
AGE_CHOICES = {"24h": 24, "3d": 72, "7d": 168, "30d": 720}
# Residents of these channels can be written to first; the web chat cannot (nothing to push to).
PUSH_CHANNELS = ("telegram", "zalo")
# The changes a team makes from the workspace (a closed request reopens from the console).
TEAM_TRANSITIONS = (
    RequestStatus.IN_PROGRESS,
    RequestStatus.RESOLVED,
    RequestStatus.REJECTED,
    RequestStatus.ASSIGNED,
)


class InvalidFilter(ValueError):
    """A filter value that does not exist (unknown status, need, ward, age)."""


class OutOfScope(PermissionError):
    """The user asked for a ward they may not see."""


class ChangeRefused(ValueError):
    """A workspace change that breaks a rule; the message says why, in Vietnamese."""


@dataclass(frozen=True)
class RequestFilters:
    """What a list (and its export, counts and charts) is narrowed to."""

    status: str | None = None  # a RequestStatus, or "open"
    need: str | None = None
    ward: str | None = None
    province: str | None = None
    age: str | None = None  # a key of AGE_CHOICES: older than that
    overdue: bool = False
    created_from: date | None = None
    created_to: date | None = None  # inclusive

    def as_query(self) -> dict[str, str]:
        """The filters as URL query parameters (for links and exports)."""
        values: dict[str, Any] = {
            "status": self.status,
            "need": self.need,
            "ward": self.ward,
            "province": self.province,
            "age": self.age,
            "overdue": "1" if self.overdue else None,
            "from": self.created_from.isoformat() if self.created_from else None,
            "to": self.created_to.isoformat() if self.created_to else None,
        }
        return {k: str(v) for k, v in values.items() if v}


def parse_filters(params: dict[str, str]) -> RequestFilters:
    """Reads filters from query parameters; raises InvalidFilter on a value that does not exist."""

    def pick(name: str) -> str | None:
        value = (params.get(name) or "").strip()
        return value or None

    status, need, ward = pick("status"), pick("need"), pick("ward")
    province, age = pick("province"), pick("age")
    if status and status != "open" and status not in set(RequestStatus):
        raise InvalidFilter("status")
    if need and need not in NEED_TYPES:
        raise InvalidFilter("need")
    if ward and get_ward(ward) is None:
        raise InvalidFilter("ward")
    if province and not (province.isdigit() and len(province) <= 3):
        raise InvalidFilter("province")
    if age and age not in AGE_CHOICES:
        raise InvalidFilter("age")
    try:
        created_from = date.fromisoformat(pick("from") or "") if pick("from") else None
        created_to = date.fromisoformat(pick("to") or "") if pick("to") else None
    except ValueError:
        raise InvalidFilter("date") from None
    return RequestFilters(
        status=status,
        need=need,
        ward=ward,
        province=province,
        age=age,
        overdue=pick("overdue") in ("1", "true", "on"),
        created_from=created_from,
        created_to=created_to,
    )


def scope_condition(user: User | None) -> ColumnElement[bool] | None:
    """The one rule of what a user may see, as a WHERE clause (None: everything). No user:
    the hotline itself (the daily report to the admins)."""
    wards = ward_scope(user) if user is not None else None
    if wards is None:
        return None
    if not wards:
        return false()
    return AidRequest.ward_code.in_(sorted(wards))


def scoped(query: Select[Any], user: User | None) -> Select[Any]:
    """Narrows any query over aid requests to what the user may see (lists, details, exports,
    counts and charts all go through here, so they cannot disagree)."""
    condition = scope_condition(user)
    return query if condition is None else query.where(condition)


def work_order() -> tuple[Any, ...]:
    """The order teams work in: the priority score (with its reasons), the larger household,
    then the oldest — the same order as everywhere else (bot/requests/service.py)."""
    return PRIORITY_ORDER


def overdue_hours() -> dict[str, int]:
    """Hours a request may stay open, by need (data/content/sla.yml)."""
    hours = content_file("sla.yml").get("overdue_hours") or {}
    return {need: int(hours.get(need, hours.get("other", 72))) for need in NEED_TYPES}


def open_requests() -> ColumnElement[bool]:
    """The request is open, with the statuses written as literals: PostgreSQL then proves the
    partial index of open requests applies (bound parameters would hide the values from a
    generic plan)."""
    return AidRequest.status.in_([literal_column(f"'{s}'") for s in OPEN_STATUSES])


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """Open and older than its need's limit."""
    by_hours: dict[int, list[str]] = {}
    for need, hours in overdue_hours().items():
        by_hours.setdefault(hours, []).append(need)
    return and_(
        open_requests(),
        or_(
            *(
                and_(
                    AidRequest.primary_need.in_(needs),
                    AidRequest.created_at < now - timedelta(hours=hours),
                )
                for hours, needs in by_hours.items()
            )
        ),
    )


def is_overdue(request: AidRequest, now: datetime, limits: dict[str, int] | None = None) -> bool:
    """Whether an open request has passed its need's time limit (`limits`: overdue_hours(),
    read once by a caller that checks many requests)."""
    return past_limit(
        status=request.status,
        created_at=request.created_at,
        primary_need=request.primary_need,
        now=now,
        limits=limits or overdue_hours(),
    )


def past_limit(
    *, status: str, created_at: datetime, primary_need: str, now: datetime, limits: dict[str, int]
) -> bool:
    """is_overdue on plain values (exports read columns, not whole requests)."""
    if status not in OPEN_STATUSES:
        return False
    if created_at.tzinfo is None:  # SQLite
        created_at = created_at.replace(tzinfo=now.tzinfo)
    return created_at < now - timedelta(hours=limits.get(primary_need, 72))


def filter_conditions(filters: RequestFilters, now: datetime) -> list[ColumnElement[bool]]:
    """The WHERE clauses of the filters (scope not included)."""
    conditions: list[ColumnElement[bool]] = []
    if filters.status == "open":
        conditions.append(open_requests())
    elif filters.status:
        conditions.append(AidRequest.status == filters.status)
    if filters.need:
        conditions.append(AidRequest.primary_need == filters.need)
    if filters.ward:
        conditions.append(AidRequest.ward_code == filters.ward)
    if filters.province:
        conditions.append(AidRequest.province_code == filters.province)
    if filters.age:
        conditions.append(AidRequest.created_at < now - timedelta(hours=AGE_CHOICES[filters.age]))
    if filters.overdue:
        conditions.append(overdue_condition(now))
    start, end = day_bounds(filters.created_from, filters.created_to)
    if start is not None:
        conditions.append(AidRequest.created_at >= start)
    if end is not None:
        conditions.append(AidRequest.created_at < end)
    return conditions


def day_bounds(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """UTC bounds of whole days in Vietnam's time (UTC+7), the last day included.

    In UTC, not UTC+7: SQLite keeps a datetime as text without its offset, so a bound must be
    in the same zone as the stored values (PostgreSQL's timestamptz would take either)."""
    from bot.web.templating import VIETNAM

    start = datetime.combine(first, time(), VIETNAM).astimezone(UTC) if first else None
    end = (
        datetime.combine(last + timedelta(days=1), time(), VIETNAM).astimezone(UTC)
        if last
        else None
    )
    return start, end


def check_scope(*, session: Session, user: User | None, filters: RequestFilters, path: str) -> None:
    """Refuses (and audits) a filter naming a ward or province outside the user's wards."""
    wards = ward_scope(user) if user is not None else None
    if wards is None or user is None:
        return
    outside = (filters.ward and filters.ward not in wards) or (
        filters.province and filters.province not in {_province(w) for w in wards}
    )
    if outside:
        record_denied(session=session, user=user, path=path, ward=filters.ward)
        raise OutOfScope(filters.ward or filters.province or "")


def _province(ward_code: str) -> str | None:
    ward = get_ward(ward_code)
    return ward.province_code if ward else None


def requests_query(
    *, session: Session, user: User, filters: RequestFilters, path: str, now: datetime | None = None
) -> Select[Any]:
    """The scoped, filtered query of aid requests in work order; OutOfScope on a tampered
    filter (audited)."""
    check_scope(session=session, user=user, filters=filters, path=path)
    query = scoped(select(AidRequest), user)
    conditions = filter_conditions(filters, now or utcnow())
    return (
        query.where(*conditions).order_by(*work_order())
        if conditions
        else query.order_by(*work_order())
    )


# A list counts at most this many matches: an exact count of a million rows costs more than
# the page itself, and nobody pages that far (a filter or an export does the job).
COUNT_CAP = 10_000


@dataclass(frozen=True)
class RequestPage:
    items: list[AidRequest]
    total: int  # at most count_cap + 1; see `more`
    page: int
    page_size: int
    count_cap: int = COUNT_CAP

    @property
    def more(self) -> bool:
        """More matches than the cap ("hơn 10.000")."""
        return self.total > self.count_cap

    @property
    def pages(self) -> int:
        return max(1, -(-min(self.total, self.count_cap) // self.page_size))


def list_requests(
    *,
    session: Session,
    user: User,
    filters: RequestFilters,
    page: int = 1,
    page_size: int = 50,
    path: str = "/team",
    count_cap: int = COUNT_CAP,
) -> RequestPage:
    """One page of the requests the user may see, in work order, with their count (counted up
    to count_cap + 1; pages beyond the cap are not offered)."""
    now = utcnow()
    query = requests_query(session=session, user=user, filters=filters, path=path, now=now)
    matches = query.order_by(None).with_only_columns(AidRequest.id).limit(count_cap + 1).subquery()
    total = session.scalar(select(func.count()).select_from(matches))
    page = min(max(1, page), max(1, -(-count_cap // page_size)))
    items = session.scalars(
        query.options(selectinload(AidRequest.team)).limit(page_size).offset((page - 1) * page_size)
    ).all()
    return RequestPage(
        items=list(items),
        total=int(total or 0),
        page=page,
        page_size=page_size,
        count_cap=count_cap,
    )


def record_denied(*, session: Session, user: User, path: str, **detail: Any) -> None:
    """Audits a refused attempt (a ward or request outside the user's wards)."""
    record_audit(
        session=session,
        actor=audit_actor(user),
        action="access.denied",
        entity="aid_request",
        entity_id=None,
        detail={"path": path[:200], **{k: v for k, v in detail.items() if v is not None}},
    )
    session.flush()


def find_request(*, session: Session, user: User, ref_code: str, path: str) -> AidRequest | None:
    """A request by code if the user may see it; None (audited as denied when it exists in
    another ward) otherwise."""
    code = ref_code.replace("-", "").strip().upper()
    if not (4 <= len(code) <= 8 and code.isalnum()):
        return None
    request: AidRequest | None = session.scalar(
        scoped(select(AidRequest), user).where(AidRequest.ref_code == code)
    )
    if request is None:
        exists = session.scalar(select(AidRequest.id).where(AidRequest.ref_code == code))
        if exists is not None:
            record_denied(session=session, user=user, path=path, request_id=exists)
    return request


def _audit(session: Session, user: User, action: str, request: AidRequest, **detail: Any) -> None:
    record_audit(
        session=session,
        actor=audit_actor(user),
        action=action,
        entity="aid_request",
        entity_id=request.id,
        detail={"ref": request.ref_code, **detail},
    )
    session.flush()


def record_contact_view(*, session: Session, user: User, request: AidRequest) -> None:
    """Audits one view of a resident's contact (the detail page)."""
    _audit(session, user, "aid_request.contact_viewed", request)


def allowed_changes(request: AidRequest) -> list[RequestStatus]:
    """The statuses a team may move this request to now."""
    from bot.requests.service import TRANSITIONS

    possible = TRANSITIONS[RequestStatus(request.status)]
    return [s for s in TEAM_TRANSITIONS if s in possible]


def resident_notice(request: AidRequest, status: RequestStatus, reason: str) -> str | None:
    """The plain-Vietnamese message a resident gets about a status change (sla.yml)."""
    notices = content_file("sla.yml").get("status_notices") or {}
    template = notices.get(str(status))
    if not template:
        return None
    team = request.team.name if request.team else "Tổ hỗ trợ"
    return str(template).format(
        ref=format_ref(request.ref_code), team=team, reason=reason.rstrip(". ")
    )


def _notify_resident(
    *, session: Session, request: AidRequest, status: RequestStatus, reason: str, step: int
) -> None:
    text = resident_notice(request, status, reason)
    if text is None:
        return
    resident = session.get(Resident, request.resident_id)
    if resident is None:
        raise RuntimeError("resident is missing")
    address = (
        resident.conversation_id.split(":", 1)[1] if resident.channel in PUSH_CHANNELS else None
    )
    enqueue(
        session=session,
        channel=resident.channel,
        address=address,
        reply=OutboundReply(text),
        kind=STATUS_NOTICE,
        conversation_id=resident.conversation_id,
        dedupe_key=f"aid:{request.id}:status:{step}",
        aid_request_id=request.id,
    )


def change_status(
    *, session: Session, user: User, request: AidRequest, status: str, note: str
) -> AidRequest:
    """Moves a request (from the workspace) with a note, and queues the notice to the resident
    on their channel through the one outbound path. Flushes; the edge commits."""
    note = " ".join(note.split())[:MAX_NOTE_CHARS]
    try:
        target = RequestStatus(status)
    except ValueError:
        raise ChangeRefused("Trạng thái không hợp lệ.") from None
    if target not in allowed_changes(request):
        raise ChangeRefused(
            f"Không thể chuyển từ “{STATUS_LABELS[RequestStatus(request.status)]}” "
            f"sang “{STATUS_LABELS[target]}”."
        )
    if target == RequestStatus.REJECTED and not note:
        raise ChangeRefused("Vui lòng ghi lý do không thể hỗ trợ.")
    set_status(
        session=session,
        ref_code=request.ref_code,
        status=target,
        actor=audit_actor(user),
        reason=note,
    )
    if request.assignee_id is None and user.role == Role.TEAM:
        request.assignee_id = user.id
    _notify_resident(
        session=session, request=request, status=target, reason=note, step=len(request.history)
    )
    session.flush()
    return request


def assignable_users(*, session: Session, request: AidRequest) -> list[User]:
    """Who may be given this request: active members of the teams covering its ward."""
    from bot.teams.models import Team, TeamWard
    from bot.users.models import user_teams

    query = (
        select(User)
        .join(user_teams, user_teams.c.user_id == User.id)
        .join(Team, Team.id == user_teams.c.team_id)
        .join(TeamWard, TeamWard.team_id == Team.id)
        .where(
            TeamWard.ward_code == request.ward_code,
            Team.active.is_(True),
            User.disabled.is_(False),
        )
        .order_by(User.display_name)
        .distinct()
    )
    return list(session.scalars(query))


def assign(*, session: Session, user: User, request: AidRequest, assignee_id: int) -> User:
    """Gives a request to a member of a team covering its ward (audited, in the history)."""
    assignee = next(
        (u for u in assignable_users(session=session, request=request) if u.id == assignee_id),
        None,
    )
    if assignee is None:
        raise ChangeRefused("Người này không thuộc tổ phụ trách địa bàn của yêu cầu.")
    request.assignee_id = assignee.id
    request.updated_at = utcnow()
    request.history.append(
        RequestStatusChange(
            from_status=request.status,
            to_status=request.status,
            actor=audit_actor(user),
            reason=f"Giao cho {assignee.display_name}",
            extra={"assignee": assignee.id},
        )
    )
    _audit(session, user, "aid_request.assigned", request, assignee=assignee.id)
    return assignee


def add_note(*, session: Session, user: User, request: AidRequest, text: str) -> None:
    """Adds a team note to the request's history (audited without its text)."""
    note = " ".join(text.split())[:MAX_NOTE_CHARS]
    if not note:
        raise ChangeRefused("Ghi chú đang để trống.")
    request.history.append(
        RequestStatusChange(
            from_status=request.status,
            to_status=request.status,
            actor=audit_actor(user),
            reason=note,
            extra={"note": True},
        )
    )
    _audit(session, user, "aid_request.note", request)


def actor_names(*, session: Session, actors: set[str]) -> dict[str, str]:
    """Display names of `user:<id>` actors in a history ("Hệ thống", "Người dân" otherwise)."""
    ids = [int(a.split(":", 1)[1]) for a in actors if a.startswith("user:") and a[5:].isdigit()]
    names = {"system": "Hệ thống", "resident": "Người dân"}
    if ids:
        for uid, name in session.execute(
            select(User.id, User.display_name).where(User.id.in_(ids))
        ):
            names[f"user:{uid}"] = name
    return names
