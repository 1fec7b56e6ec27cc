"""Who owns a conversation, its transcript, and what staff do with it.

A conversation is the bot's unless it has an open hand-off: `open` (in the queue) or `taken`
(a named staff member has it). Claiming is one conditional UPDATE (`… WHERE status = 'open'`),
so two staff claiming at once get one owner and the other is told who has it. Every change and
every look at a conversation is audited with ids only, never message text. Services flush;
the edge commits and publishes the live events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import or_, select, union, update
from sqlalchemy.orm import Session

from bot.audit.service import record_audit
from bot.db.base import utcnow
from bot.handoff.models import (
    Author,
    ConversationMessage,
    DeliveryState,
    HandoffOutcome,
    HandoffReason,
    HandoffRequest,
    HandoffStatus,
)
from bot.residents.models import Resident
from bot.residents.service import get_or_create_resident

MAX_REPLY_CHARS = 4000  # Telegram splits above 4,096, Zalo above 2,000: both still deliver
TRANSCRIPT_LIMIT = 500  # lines shown in the console, newest kept
# Zalo: free answers within 48 h of the resident's last message, none after 7 days
# (connectors/zalo/channel.py: -305, -230). Staff are warned this long before it closes.
ZALO_REPLY_WINDOW = timedelta(hours=48)
ZALO_WARN_BEFORE = timedelta(hours=6)

OUTCOME_LABELS = {
    HandoffOutcome.RESOLVED: "Đã giải quyết",
    HandoffOutcome.REQUEST_OPENED: "Đã tạo yêu cầu hỗ trợ",
    HandoffOutcome.REFERRED_115: "Đã hướng dẫn gọi 115",
    HandoffOutcome.NO_ANSWER: "Người dân không trả lời",
}
REASON_LABELS = {
    HandoffReason.EMERGENCY: "Khẩn cấp",
    HandoffReason.ASKED: "Muốn gặp nhân viên",
    HandoffReason.MISUNDERSTOOD: "Bot không hiểu",
}
# What the resident is told when a conversation goes back to the bot.
HAND_BACK_TEXT = (
    "Nhân viên tổng đài đã kết thúc cuộc trò chuyện. Từ giờ trợ lý tự động sẽ tiếp tục hỗ trợ "
    "bạn; nếu cần gặp nhân viên, bạn cứ nhắn “gặp nhân viên”."
)


class ConsoleError(ValueError):
    """A console action that cannot be done now; the message is Vietnamese, for the staff page."""


class Tab(StrEnum):
    WAITING = "waiting"
    MINE = "mine"
    OPEN = "open"
    CLOSED = "closed"


TAB_LABELS = {Tab.WAITING: "Chờ", Tab.MINE: "Của tôi", Tab.OPEN: "Đang mở", Tab.CLOSED: "Đã đóng"}


@dataclass(frozen=True)
class Actor:
    """The signed-in person doing a console action (built from the account at the edge)."""

    id: int
    name: str
    role: str  # admin | staff | team
    wards: frozenset[str] | None = None  # team members: the wards of their teams; else None

    @property
    def audit_name(self) -> str:
        return f"user:{self.id}"


# --- ownership and transcript (the pipeline) ---------------------------------------------


def active_handoff(*, session: Session, conversation_id: str) -> HandoffRequest | None:
    """The open or taken hand-off of a conversation: while there is one, the bot stays quiet."""
    return session.scalar(
        select(HandoffRequest)
        .join(Resident, Resident.id == HandoffRequest.resident_id)
        .where(
            Resident.conversation_id == conversation_id,
            HandoffRequest.status != HandoffStatus.CLOSED,
        )
        .order_by(HandoffRequest.id.desc())
        .limit(1)
    )


def _add_message(
    session: Session,
    *,
    resident_id: int,
    author: Author,
    text: str,
    handoff: HandoffRequest | None,
    actor: Actor | None = None,
    delivery: DeliveryState | None = None,
) -> ConversationMessage:
    now = utcnow()
    message = ConversationMessage(
        resident_id=resident_id,
        handoff_id=handoff.id if handoff else None,
        author=author,
        author_id=actor.id if actor else None,
        author_name=actor.name if actor else None,
        text=text,
        delivery=delivery,
        created_at=now,
    )
    session.add(message)
    if handoff is not None and author in (Author.RESIDENT, Author.STAFF):
        handoff.last_message_at = now
    session.flush()
    return message


def record_resident_message(
    *, session: Session, conversation_id: str, text: str
) -> HandoffRequest | None:
    """Stores a resident's message; returns the open hand-off that keeps it from the bot."""
    resident = get_or_create_resident(session=session, conversation_id=conversation_id)
    handoff = active_handoff(session=session, conversation_id=conversation_id)
    _add_message(
        session, resident_id=resident.id, author=Author.RESIDENT, text=text, handoff=handoff
    )
    return handoff


def record_bot_replies(
    *, session: Session, conversation_id: str, texts: list[str]
) -> HandoffRequest | None:
    """Stores the bot's replies of a turn; returns the hand-off the turn opened, if any.

    A resident erased during the turn ("xóa thông tin của tôi") stays erased: nothing is stored.
    """
    return record_bot_turn(
        session=session, conversation_id=conversation_id, resident_text=None, texts=texts
    )


def resident_owner(*, session: Session, conversation_id: str) -> tuple[bool, HandoffRequest | None]:
    """Whether the conversation's resident is known, and the hand-off that keeps it from the
    bot (one read: what the pipeline asks before a turn of a known resident)."""
    row = session.execute(
        select(Resident.id, HandoffRequest)
        .outerjoin(
            HandoffRequest,
            (HandoffRequest.resident_id == Resident.id)
            & (HandoffRequest.status != HandoffStatus.CLOSED),
        )
        .where(Resident.conversation_id == conversation_id)
        .order_by(HandoffRequest.id.desc())
        .limit(1)
    ).first()
    return (False, None) if row is None else (True, row[1])


def record_bot_turn(
    *, session: Session, conversation_id: str, resident_text: str | None, texts: list[str]
) -> HandoffRequest | None:
    """Stores a turn the bot answered in one go: the resident's message (unless it was stored
    before the turn) and the replies; returns the hand-off the turn opened, if any.

    A resident erased during the turn ("xóa thông tin của tôi") stays erased: nothing is stored.
    """
    resident = session.scalar(select(Resident).where(Resident.conversation_id == conversation_id))
    if resident is None:
        return None
    if resident_text is not None:
        # The message reached the bot, so it belongs to no hand-off, even one the turn opened.
        resident.last_seen_at = utcnow()
        _add_message(
            session,
            resident_id=resident.id,
            author=Author.RESIDENT,
            text=resident_text,
            handoff=None,
        )
    handoff = active_handoff(session=session, conversation_id=conversation_id)
    for text in texts:
        _add_message(session, resident_id=resident.id, author=Author.BOT, text=text, handoff=None)
    return handoff


def sent_to_resident_since(
    *, session: Session, conversation_id: str, after_id: int, limit: int = 50
) -> list[ConversationMessage]:
    """What people sent a resident after a message id (staff replies, hand-back notices), for a
    web chat page that reconnects."""
    return list(
        session.scalars(
            select(ConversationMessage)
            .join(Resident, Resident.id == ConversationMessage.resident_id)
            .where(
                Resident.conversation_id == conversation_id,
                ConversationMessage.id > after_id,
                ConversationMessage.handoff_id.is_not(None),
                ConversationMessage.author.in_([Author.STAFF, Author.BOT]),
            )
            .order_by(ConversationMessage.id)
            .limit(limit)
        )
    )


def transcript(*, session: Session, handoff: HandoffRequest) -> list[ConversationMessage]:
    """The whole thread of the hand-off's resident, bot turns before the hand-off included."""
    rows = session.scalars(
        select(ConversationMessage)
        .where(ConversationMessage.resident_id == handoff.resident_id)
        .order_by(ConversationMessage.id.desc())
        .limit(TRANSCRIPT_LIMIT)
    ).all()
    return list(reversed(rows))


# --- the queue ---------------------------------------------------------------------------


def _ward_residents(wards: frozenset[str]):  # type: ignore[no-untyped-def]
    from bot.requests.models import AidRequest, HealthDeclaration

    return union(
        select(AidRequest.resident_id).where(AidRequest.ward_code.in_(wards)),
        select(HealthDeclaration.resident_id).where(HealthDeclaration.ward_code.in_(wards)),
    )


def _in_wards(session: Session, resident_id: int, wards: frozenset[str]) -> bool:
    from bot.requests.models import AidRequest, HealthDeclaration

    for model in (AidRequest, HealthDeclaration):
        found = session.scalar(
            select(model.id)
            .where(model.resident_id == resident_id, model.ward_code.in_(wards))
            .limit(1)
        )
        if found is not None:
            return True
    return False


def list_queue(
    *, session: Session, tab: Tab, actor: Actor, limit: int = 200
) -> list[HandoffRequest]:
    """The conversations of one tab: emergencies first, then the longest wait (closed: newest)."""
    query = select(HandoffRequest)
    if tab is Tab.WAITING:
        query = query.where(HandoffRequest.status == HandoffStatus.OPEN)
    elif tab is Tab.MINE:
        query = query.where(
            HandoffRequest.status == HandoffStatus.TAKEN, HandoffRequest.owner_id == actor.id
        )
    elif tab is Tab.OPEN:
        query = query.where(HandoffRequest.status != HandoffStatus.CLOSED)
    else:
        query = query.where(HandoffRequest.status == HandoffStatus.CLOSED)
    if actor.wards is not None:
        query = query.where(HandoffRequest.resident_id.in_(_ward_residents(actor.wards)))
    if tab is Tab.CLOSED:
        return list(session.scalars(query.order_by(HandoffRequest.closed_at.desc()).limit(limit)))
    rows = session.scalars(
        query.order_by(HandoffRequest.created_at, HandoffRequest.id).limit(limit)
    )
    return sorted(rows, key=lambda h: h.reason != HandoffReason.EMERGENCY)


def queue_counts(*, session: Session, actor: Actor) -> dict[Tab, int]:
    """How many conversations each tab holds (closed: the last 200)."""
    return {tab: len(list_queue(session=session, tab=tab, actor=actor)) for tab in Tab}


def get_handoff(*, session: Session, handoff_id: int, actor: Actor) -> HandoffRequest:
    """One conversation the actor may see; ConsoleError when missing, PermissionError outside
    a team member's wards."""
    handoff = session.get(HandoffRequest, handoff_id)
    if handoff is None:
        raise ConsoleError("Không tìm thấy cuộc trò chuyện này.")
    if actor.wards is not None and not _in_wards(session, handoff.resident_id, actor.wards):
        raise PermissionError(handoff_id)
    return handoff


def view_conversation(
    *, session: Session, handoff_id: int, actor: Actor
) -> tuple[HandoffRequest, list[ConversationMessage]]:
    """A conversation and its thread, for the console; the view is audited."""
    handoff = get_handoff(session=session, handoff_id=handoff_id, actor=actor)
    record_audit(
        session=session,
        actor=actor.audit_name,
        action="console.view",
        entity="handoff",
        entity_id=handoff.id,
        detail={"resident": handoff.resident_id},
    )
    session.flush()
    return handoff, transcript(session=session, handoff=handoff)


# --- claim, release, transfer ------------------------------------------------------------


def _audit(
    session: Session, actor: Actor, action: str, handoff: HandoffRequest, **detail: object
) -> None:
    record_audit(
        session=session,
        actor=actor.audit_name,
        action=f"console.{action}",
        entity="handoff",
        entity_id=handoff.id,
        detail=dict(detail),
    )


def _system(session: Session, handoff: HandoffRequest, text: str) -> None:
    _add_message(
        session, resident_id=handoff.resident_id, author=Author.SYSTEM, text=text, handoff=handoff
    )


def _refresh(session: Session, handoff_id: int) -> HandoffRequest:
    handoff = session.get(HandoffRequest, handoff_id, populate_existing=True)
    if handoff is None:
        raise RuntimeError("handoff is missing")
    return handoff


def _not_yours(handoff: HandoffRequest, actor: Actor) -> ConsoleError:
    if handoff.status == HandoffStatus.CLOSED:
        return ConsoleError("Cuộc trò chuyện này đã kết thúc và đã trả lại cho trợ lý tự động.")
    if handoff.status == HandoffStatus.OPEN:
        return ConsoleError("Cuộc trò chuyện này đang chờ: bạn cần nhận nó trước.")
    if handoff.owner_id == actor.id:
        return ConsoleError("Bạn đang giữ cuộc trò chuyện này.")
    return ConsoleError(
        f"{handoff.owner_name or 'Một nhân viên khác'} đang giữ cuộc trò chuyện này."
    )


def _check_staff(actor: Actor) -> None:
    if actor.role not in ("admin", "staff"):
        raise PermissionError("staff only")


def claim(*, session: Session, handoff_id: int, actor: Actor) -> HandoffRequest:
    """Takes a waiting conversation; exactly one of several staff claiming at once gets it."""
    _check_staff(actor)
    handoff = get_handoff(session=session, handoff_id=handoff_id, actor=actor)
    now = utcnow()
    result = session.execute(
        update(HandoffRequest)
        .where(HandoffRequest.id == handoff.id, HandoffRequest.status == HandoffStatus.OPEN)
        .values(
            status=HandoffStatus.TAKEN,
            owner_id=actor.id,
            owner_name=actor.name,
            claimed_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    handoff = _refresh(session, handoff.id)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if handoff.status == HandoffStatus.TAKEN and handoff.owner_id == actor.id:
            return handoff  # a double click
        if handoff.status == HandoffStatus.TAKEN:
            raise ConsoleError(
                f"{handoff.owner_name or 'Một nhân viên khác'} đã nhận cuộc trò chuyện này trước bạn."
            )
        raise _not_yours(handoff, actor)
    _system(session, handoff, f"{actor.name} đã nhận cuộc trò chuyện.")
    _audit(session, actor, "claim", handoff)
    session.flush()
    return handoff


def _owned(session: Session, handoff_id: int, actor: Actor) -> HandoffRequest:
    """A taken conversation the actor may act on: their own, or any for an admin."""
    _check_staff(actor)
    handoff = get_handoff(session=session, handoff_id=handoff_id, actor=actor)
    if handoff.status != HandoffStatus.TAKEN or (
        handoff.owner_id != actor.id and actor.role != "admin"
    ):
        raise _not_yours(handoff, actor)
    return handoff


def _conditional_owner_change(
    session: Session, handoff: HandoffRequest, **values: object
) -> HandoffRequest:
    """Changes a taken conversation only if its owner is still the one we read."""
    result = session.execute(
        update(HandoffRequest)
        .where(
            HandoffRequest.id == handoff.id,
            HandoffRequest.status == HandoffStatus.TAKEN,
            HandoffRequest.owner_id == handoff.owner_id,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    fresh = _refresh(session, handoff.id)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConsoleError("Cuộc trò chuyện vừa được người khác thay đổi. Bạn tải lại trang nhé.")
    return fresh


def release(*, session: Session, handoff_id: int, actor: Actor) -> HandoffRequest:
    """Puts a conversation one holds back in the queue, keeping its place (queued time)."""
    handoff = _owned(session, handoff_id, actor)
    handoff = _conditional_owner_change(
        session, handoff, status=HandoffStatus.OPEN, owner_id=None, owner_name=None, claimed_at=None
    )
    _system(session, handoff, f"{actor.name} đã trả cuộc trò chuyện về hàng chờ.")
    _audit(session, actor, "release", handoff)
    session.flush()
    return handoff


def transfer(*, session: Session, handoff_id: int, actor: Actor, to: Actor) -> HandoffRequest:
    """Hands a conversation one holds to a colleague (staff or admin)."""
    handoff = _owned(session, handoff_id, actor)
    if to.role not in ("admin", "staff"):
        raise ConsoleError("Chỉ chuyển được cho nhân viên tổng đài.")
    if to.id == handoff.owner_id:
        raise ConsoleError("Cuộc trò chuyện đã ở chỗ người này.")
    handoff = _conditional_owner_change(
        session, handoff, owner_id=to.id, owner_name=to.name, claimed_at=utcnow()
    )
    _system(session, handoff, f"{actor.name} đã chuyển cuộc trò chuyện cho {to.name}.")
    _audit(session, actor, "transfer", handoff, to=to.audit_name)
    session.flush()
    return handoff


# --- replies, notes, hand-back -----------------------------------------------------------


def _clean_text(text: str) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise ConsoleError("Tin nhắn trống: bạn hãy nhập nội dung.")
    if len(text) > MAX_REPLY_CHARS:
        raise ConsoleError(
            f"Tin nhắn dài {len(text):,} ký tự; tối đa {MAX_REPLY_CHARS:,} ký tự. "
            "Bạn hãy chia thành nhiều tin ngắn hơn.".replace(",", ".")
        )
    return text


def staff_reply(
    *, session: Session, handoff_id: int, actor: Actor, text: str
) -> tuple[HandoffRequest, ConversationMessage]:
    """Records a staff message to the resident (delivery pending); the edge sends it."""
    text = _clean_text(text)
    handoff = _owned(session, handoff_id, actor)
    message = _add_message(
        session,
        resident_id=handoff.resident_id,
        author=Author.STAFF,
        text=text,
        handoff=handoff,
        actor=actor,
        delivery=DeliveryState.PENDING,
    )
    if handoff.first_reply_at is None:
        handoff.first_reply_at = message.created_at
    _audit(session, actor, "reply", handoff, message=message.id)
    session.flush()
    return handoff, message


def add_note(*, session: Session, handoff_id: int, actor: Actor, text: str) -> ConversationMessage:
    """Adds a private note that only staff see; never sent to the resident."""
    _check_staff(actor)
    text = _clean_text(text)
    handoff = get_handoff(session=session, handoff_id=handoff_id, actor=actor)
    message = _add_message(
        session,
        resident_id=handoff.resident_id,
        author=Author.NOTE,
        text=text,
        handoff=handoff,
        actor=actor,
    )
    _audit(session, actor, "note", handoff, message=message.id)
    session.flush()
    return message


def set_delivery(
    *, session: Session, message_id: int, state: DeliveryState
) -> ConversationMessage | None:
    """Records how sending a staff message ended."""
    message = session.get(ConversationMessage, message_id)
    if message is not None:
        message.delivery = state
        session.flush()
    return message


def hand_back(
    *, session: Session, handoff_id: int, actor: Actor, outcome: HandoffOutcome
) -> tuple[HandoffRequest, ConversationMessage]:
    """Closes a conversation with an outcome and gives it back to the bot; a waiting one may be
    closed by any staff member (e.g. no answer). Returns the notice to send to the resident."""
    _check_staff(actor)
    handoff = get_handoff(session=session, handoff_id=handoff_id, actor=actor)
    if (
        handoff.status == HandoffStatus.TAKEN
        and handoff.owner_id != actor.id
        and actor.role != "admin"
    ):
        raise _not_yours(handoff, actor)
    now = utcnow()
    result = session.execute(
        update(HandoffRequest)
        .where(
            HandoffRequest.id == handoff.id,
            HandoffRequest.status == handoff.status,
            or_(HandoffRequest.owner_id == handoff.owner_id, HandoffRequest.owner_id.is_(None)),
        )
        .values(status=HandoffStatus.CLOSED, closed_at=now, outcome=outcome)
        .execution_options(synchronize_session=False)
    )
    handoff = _refresh(session, handoff.id)
    if result.rowcount != 1 or handoff.status != HandoffStatus.CLOSED:  # type: ignore[attr-defined]
        raise _not_yours(handoff, actor)
    _system(
        session, handoff, f"{actor.name} đã trả lại cho trợ lý tự động: {OUTCOME_LABELS[outcome]}."
    )
    notice = _add_message(
        session,
        resident_id=handoff.resident_id,
        author=Author.BOT,
        text=HAND_BACK_TEXT,
        handoff=handoff,
    )
    _audit(session, actor, "hand_back", handoff, outcome=str(outcome))
    session.flush()
    return handoff, notice


# --- figures and the reply window --------------------------------------------------------


def figures(handoff: HandoffRequest) -> dict[str, float | str | None]:
    """Per conversation, for the dashboard: queued → first staff reply, handling time, outcome."""

    def seconds(start: datetime | None, end: datetime | None) -> float | None:
        return (as_utc(end) - as_utc(start)).total_seconds() if start and end else None

    return {
        "first_reply_seconds": seconds(handoff.created_at, handoff.first_reply_at),
        "handling_seconds": seconds(handoff.claimed_at or handoff.created_at, handoff.closed_at),
        "outcome": handoff.outcome,
    }


def list_figures(*, session: Session, since: datetime) -> list[dict[str, float | str | None]]:
    """Figures of the conversations closed since a time (ids only, no personal data)."""
    rows = session.scalars(
        select(HandoffRequest).where(
            HandoffRequest.status == HandoffStatus.CLOSED, HandoffRequest.closed_at >= since
        )
    )
    return [{"handoff_id": h.id, "reason": h.reason, **figures(h)} for h in rows]


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    from datetime import UTC

    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def waiting_minutes(handoff: HandoffRequest, now: datetime | None = None) -> int:
    """Minutes since the conversation was queued."""
    return max(0, int(((now or utcnow()) - as_utc(handoff.created_at)).total_seconds() // 60))


def reply_window_warning(*, resident: Resident, now: datetime | None = None) -> str | None:
    """A warning for staff when the resident's platform will soon refuse (or refuses) replies."""
    if resident.channel != "zalo":
        return None
    now = now or utcnow()
    closes = as_utc(resident.last_seen_at) + ZALO_REPLY_WINDOW
    if now >= closes:
        return (
            "Đã quá 48 giờ từ tin nhắn cuối của người dân: Zalo có thể không chuyển tin trả lời. "
            "Hãy liên hệ người dân bằng cách khác (điện thoại)."
        )
    if closes - now <= ZALO_WARN_BEFORE:
        hours = max(1, int((closes - now).total_seconds() // 3600))
        return f"Còn khoảng {hours} giờ trước khi Zalo không cho trả lời người dân này nữa."
    return None
