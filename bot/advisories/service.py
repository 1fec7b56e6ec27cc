"""Advisories: writing, reach, two-person approval, fan-out in batches, cancel, report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    String,
    and_,
    case,
    func,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.orm import Session

from bot.advisories.models import Advisory, AdvisoryDelivery, AdvisoryStatus
from bot.audit.service import record_audit
from bot.content.service import content_file
from bot.conversations.messages import OutboundReply, ReplyButton
from bot.db.base import utcnow
from bot.db.upsert import insert_or_skip
from bot.outbound.models import (
    ADVISORY_KIND,
    OPEN_STATUSES,
    OutboundMessage,
    OutboundStatus,
    SkipReason,
)
from bot.outbound.service import enqueue_select, next_outbound_id
from bot.places.wards import get_ward, province_name
from bot.residents.models import Resident
from bot.subscriptions.models import Subscription
from bot.users.models import Role, User

# The shortest limit of the channels an advisory goes to (Zalo OA text: 2,000 characters).
MAX_TEXT_CHARS = 2000
MAX_TITLE_CHARS = 120
TARGET_KINDS = ("all", "provinces", "wards")
# Zalo lets an OA message a resident only within 7 days of the resident's last message.
ZALO_WINDOW = timedelta(days=7)
BATCH_SIZE = 2_000  # the first batch; runtime.run_fan_out sizes the next ones by their time
CANCELLED_REASON = "cancelled"
EDITABLE = (AdvisoryStatus.DRAFT,)
CANCELLABLE = (
    AdvisoryStatus.DRAFT,
    AdvisoryStatus.PENDING_APPROVAL,
    AdvisoryStatus.APPROVED,
    AdvisoryStatus.SCHEDULED,
    AdvisoryStatus.SENDING,
)


class AdvisoryError(ValueError):
    """A refused advisory step; the message is shown to the admin (Vietnamese)."""


def _actor(user: User) -> str:
    return f"user:{user.id}"


def _audit(session: Session, user: User | str, action: str, advisory: Advisory, **detail) -> None:  # type: ignore[no-untyped-def]
    record_audit(
        session=session,
        actor=user if isinstance(user, str) else _actor(user),
        action=f"advisory.{action}",
        entity="advisory",
        entity_id=advisory.id,
        detail={"status": advisory.status, **detail},
    )


def _require_admin(user: User) -> None:
    if user.role != Role.ADMIN or user.disabled:
        raise AdvisoryError("Chỉ quản trị viên được làm việc này.")


def check_content(*, title: str, text: str, target_kind: str, target_codes: list[str]) -> None:
    """Raises AdvisoryError when the advisory cannot be sent as written."""
    if not title.strip() or len(title) > MAX_TITLE_CHARS:
        raise AdvisoryError(f"Tiêu đề cần có, tối đa {MAX_TITLE_CHARS} ký tự.")
    if not text.strip():
        raise AdvisoryError("Nội dung tin không được để trống.")
    if len(text) > MAX_TEXT_CHARS:
        raise AdvisoryError(
            f"Nội dung dài {len(text)} ký tự, tối đa {MAX_TEXT_CHARS} (giới hạn Zalo)."
        )
    if "\x00" in text or "\x00" in title:
        raise AdvisoryError("Nội dung có ký tự không hợp lệ.")
    if target_kind not in TARGET_KINDS:
        raise AdvisoryError("Đối tượng nhận phải là: tất cả, tỉnh/thành hoặc phường/xã.")
    if target_kind != "all" and not target_codes:
        raise AdvisoryError("Hãy chọn ít nhất một tỉnh/thành hoặc phường/xã.")
    for code in target_codes:
        known = province_name(code) if target_kind == "provinces" else get_ward(code)
        if known is None:
            raise AdvisoryError(f"Không có mã địa bàn {code[:12]!r}.")


# FAQ topics a button of an advisory may open: the intents the dialogue answers with the
# topic's text from faq.yml (data/rules/core.yml), whatever the conversation's state.
BUTTON_TOPICS = (
    "ask_testing",
    "ask_vaccination",
    "ask_travel_rules",
    "ask_f0_home_care",
    "report_symptoms",
    "ask_hotline",
    "ask_rumor",
)
MAX_BUTTONS = 3
_TOPIC_TITLES = {  # when faq.yml has no button to the topic to take its title from
    "ask_testing": "Xét nghiệm ở đâu",
    "ask_vaccination": "Lịch tiêm chủng",
    "ask_travel_rules": "Quy định đi lại",
    "ask_f0_home_care": "Chăm sóc tại nhà",
    "report_symptoms": "Tôi đang có triệu chứng",
    "ask_hotline": "Số điện thoại cần biết",
    "ask_rumor": "Kiểm tra tin đồn",
}


def button_topics() -> dict[str, str]:
    """The FAQ topics an advisory's buttons may open, with their button titles (the titles
    faq.yml gives buttons to them)."""
    topics = content_file("faq.yml").get("topics") or {}
    titles = {
        str(b.get("payload", ""))[1:]: str(b.get("title", ""))
        for entry in topics.values()
        if isinstance(entry, dict)
        for b in entry.get("buttons") or []
    }
    return {
        topic: titles.get(topic) or _TOPIC_TITLES[topic]
        for topic in BUTTON_TOPICS
        if topic in topics
    }


def check_buttons(topics: list[str]) -> list[dict[str, str]]:
    """The buttons of an advisory from the chosen topics; AdvisoryError when not allowed."""
    allowed = button_topics()
    chosen = list(dict.fromkeys(t.strip() for t in topics if t.strip()))
    if len(chosen) > MAX_BUTTONS:
        raise AdvisoryError(f"Tối đa {MAX_BUTTONS} nút.")
    for topic in chosen:
        if topic not in allowed:
            raise AdvisoryError(f"Không có chủ đề {topic[:40]!r} để gắn nút.")
    return [{"title": allowed[t], "payload": f"/{t}"} for t in chosen]


def create_advisory(
    *,
    session: Session,
    author: User,
    title: str,
    text: str,
    target_kind: str,
    target_codes: list[str],
    topics: list[str] | None = None,
) -> Advisory:
    """Writes a draft advisory (an admin's), with up to three buttons to FAQ topics."""
    _require_admin(author)
    codes = sorted({c.strip() for c in target_codes if c.strip()}) if target_kind != "all" else []
    check_content(title=title, text=text, target_kind=target_kind, target_codes=codes)
    buttons = check_buttons(topics or [])
    advisory = Advisory(
        title=title.strip(),
        text=text.strip(),
        buttons=buttons,
        target_kind=target_kind,
        target_codes=codes,
        author_id=author.id,
        status=AdvisoryStatus.DRAFT,
    )
    session.add(advisory)
    session.flush()
    _audit(session, author, "created", advisory, target=target_kind, areas=len(codes))
    return advisory


def _target_filter(target_kind: str, target_codes: list[str]) -> ColumnElement[bool]:
    if target_kind == "provinces":
        return Subscription.province_code.in_(target_codes)
    if target_kind == "wards":
        return Subscription.ward_code.in_(target_codes)
    return Subscription.active.is_(True)


def _audience_filter(target_kind: str, target_codes: list[str]) -> list[ColumnElement[bool]]:
    """Active, reachable subscribers of the target (with Resident joined)."""
    return [
        Subscription.active.is_(True),
        Resident.reachable.is_(True),
        _target_filter(target_kind, target_codes),
    ]


def _audience(target_kind: str, target_codes: list[str]):  # type: ignore[no-untyped-def]
    return (
        select(Subscription.id, Subscription.channel, Subscription.conversation_id)
        .join(Resident, Resident.id == Subscription.resident_id)
        .where(*_audience_filter(target_kind, target_codes))
    )


def reach(*, session: Session, target_kind: str, target_codes: list[str]) -> dict[str, int]:
    """How many subscribers a target reaches, per channel (one per resident)."""
    audience = _audience(target_kind, target_codes).subquery()
    rows = session.execute(
        select(audience.c.channel, func.count(func.distinct(audience.c.conversation_id))).group_by(
            audience.c.channel
        )
    )
    return {channel: count for channel, count in rows}


def submit(
    *,
    session: Session,
    advisory: Advisory,
    user: User,
    threshold: int,
    send_at: datetime | None = None,
) -> Advisory:
    """Counts the reach; over `threshold` it waits for a second admin, else it is approved
    (scheduled when `send_at` is given)."""
    _require_admin(user)
    if advisory.status != AdvisoryStatus.DRAFT:
        raise AdvisoryError("Chỉ gửi duyệt được tin nháp.")
    if send_at is not None and send_at <= utcnow():
        raise AdvisoryError("Giờ gửi phải ở tương lai.")
    advisory.reach_total = sum(
        reach(
            session=session, target_kind=advisory.target_kind, target_codes=advisory.target_codes
        ).values()
    )
    advisory.send_at = send_at
    if advisory.reach_total > threshold:
        advisory.status = AdvisoryStatus.PENDING_APPROVAL
    else:
        advisory.status = AdvisoryStatus.SCHEDULED if send_at else AdvisoryStatus.APPROVED
    session.flush()
    _audit(session, user, "submitted", advisory, reach=advisory.reach_total, threshold=threshold)
    return advisory


def approve(*, session: Session, advisory: Advisory, approver: User) -> Advisory:
    """A second admin approves; the author never approves their own advisory."""
    _require_admin(approver)
    if advisory.status != AdvisoryStatus.PENDING_APPROVAL:
        raise AdvisoryError("Tin này không chờ duyệt.")
    if advisory.author_id == approver.id:
        _audit(session, approver, "approval_refused", advisory, reason="own_advisory")
        raise AdvisoryError("Người soạn không tự duyệt được: cần một quản trị viên khác.")
    advisory.approved_by_id = approver.id
    advisory.status = AdvisoryStatus.SCHEDULED if advisory.send_at else AdvisoryStatus.APPROVED
    session.flush()
    _audit(session, approver, "approved", advisory)
    return advisory


def start_sending(*, session: Session, advisory: Advisory, user: User | str) -> Advisory:
    """Moves an approved (or due scheduled) advisory to sending; the fan-out then runs."""
    if isinstance(user, User):
        _require_admin(user)
    due = advisory.status == AdvisoryStatus.SCHEDULED and (
        advisory.send_at is None or _aware(advisory.send_at) <= utcnow()
    )
    if advisory.status != AdvisoryStatus.APPROVED and not due:
        raise AdvisoryError("Tin chưa được duyệt (hoặc đã gửi, đã hủy).")
    advisory.status = AdvisoryStatus.SENDING
    advisory.started_at = utcnow()
    session.flush()
    _audit(session, user, "sending", advisory)
    return advisory


def due_scheduled(*, session: Session, now: datetime) -> list[int]:
    """Ids of scheduled advisories whose time has come, locked for this transaction."""
    return list(
        session.scalars(
            select(Advisory.id)
            .where(Advisory.status == AdvisoryStatus.SCHEDULED, Advisory.send_at <= now)
            # Every worker's scheduler looks: the first takes them, the others skip them.
            .with_for_update(skip_locked=True)
        )
    )


def cancel(*, session: Session, advisory: Advisory, user: User) -> Advisory:
    """Cancels an advisory; what is queued and not yet sent is skipped as `cancelled`."""
    _require_admin(user)
    if advisory.status not in CANCELLABLE:
        raise AdvisoryError("Tin đã gửi xong hoặc đã hủy.")
    advisory.status = AdvisoryStatus.CANCELLED
    advisory.finished_at = utcnow()
    session.flush()
    withdrawn = _withdraw(session, advisory.id)
    _audit(session, user, "cancelled", advisory, withdrawn=withdrawn)
    return advisory


def _withdraw(session: Session, advisory_id: int) -> int:
    """Skips the advisory's copies not yet sent; returns how many."""
    result = session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.id.in_(
                select(AdvisoryDelivery.outbound_id).where(
                    AdvisoryDelivery.advisory_id == advisory_id
                )
            ),
            OutboundMessage.status.in_(OPEN_STATUSES),
        )
        .values(status=OutboundStatus.SKIPPED, skip_reason=CANCELLED_REASON)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def current_status(*, session: Session, advisory_id: int) -> str | None:
    """The advisory's status as stored now (the fan-out checks it between batches)."""
    return session.scalar(select(Advisory.status).where(Advisory.id == advisory_id))


def fan_out_batch(
    *, session: Session, advisory_id: int, after_id: int, batch_size: int = BATCH_SIZE
) -> int | None:
    """Queues the next batch of subscribers (by subscription id after `after_id`) with three
    set-based statements — the copies (INSERT … SELECT, one per resident by the unique
    advisory × conversation row), their outbound rows (INSERT … SELECT, one per dedupe key)
    and the link between them; returns the last subscription id done, or None when the
    advisory is finished or no longer sending."""
    # Locked for the batch: a cancel committed meanwhile waits for it and then withdraws its
    # copies too; unlocked, the last batch could set SENT over the cancel and leave its
    # copies queued.
    advisory = session.get(Advisory, advisory_id, populate_existing=True, with_for_update=True)
    if advisory is None or advisory.status != AdvisoryStatus.SENDING:
        if advisory is not None and advisory.status == AdvisoryStatus.CANCELLED:
            _withdraw(session, advisory_id)  # a batch queued while the cancel was under way
        return None
    audience = _audience_filter(advisory.target_kind, advisory.target_codes)
    # The batch is a range of subscription ids (of all subscribers: a walk along the primary
    # key, cheap however the target filters them): its upper end is the batch_size-th id.
    upper = session.scalar(
        select(Subscription.id)
        .where(Subscription.id > after_id)
        .order_by(Subscription.id)
        .offset(batch_size - 1)
        .limit(1)
    )
    in_batch = [Subscription.id > after_id]
    if upper is not None:
        in_batch.append(Subscription.id <= upper)
    if session.get_bind().dialect.name == "postgresql":
        _fan_out_in_one_statement(session, advisory, [*audience, *in_batch])
    else:
        copies = _insert_copies(session, advisory_id, [*audience, *in_batch])
        if copies:
            _queue_copies(session, advisory, min(copies), max(copies))
    if upper is None:  # that was the rest of the audience
        advisory.status = AdvisoryStatus.SENT
        advisory.finished_at = utcnow()
        session.flush()
        _audit(
            session,
            "system",
            "fan_out_done",
            advisory,
            **report(session=session, advisory_id=advisory_id).counts(),
        )
        return None
    return int(upper)


def _outside_window(now: datetime) -> ColumnElement[bool]:
    """Zalo residents silent for longer than Zalo lets an OA message them."""
    return and_(Subscription.channel == "zalo", Resident.last_seen_at < now - ZALO_WINDOW)


def _address(conversation_id: Any, channel: Any) -> ColumnElement[str]:
    """The address on the channel: the conversation id after "<channel>:"."""
    return func.substr(conversation_id, func.length(channel) + 2)


def _fan_out_in_one_statement(
    session: Session, advisory: Advisory, where: list[ColumnElement[bool]]
) -> None:
    """PostgreSQL: the copies and their outbound rows in one statement. Each copy takes its
    outbound id from the sequence as it is inserted (ON CONFLICT DO NOTHING: one per
    resident), and the outbound rows are written from what that insert returned."""
    now = utcnow()
    outside = _outside_window(now)
    picked = (
        select(
            literal(advisory.id, Integer),
            Subscription.conversation_id,
            Subscription.channel,
            case((outside, literal(SkipReason.OUTSIDE_WINDOW.value, String)), else_=null()),
            literal(now, DateTime(timezone=True)),
            case((outside, null()), else_=next_outbound_id(session)),
        )
        .join(Resident, Resident.id == Subscription.resident_id)
        .where(*where)
    )
    copies = (
        insert_or_skip(session, AdvisoryDelivery, ["advisory_id", "conversation_id"])
        .from_select(
            [
                "advisory_id",
                "conversation_id",
                "channel",
                "skip_reason",
                "created_at",
                "outbound_id",
            ],
            picked,
        )
        .returning(
            AdvisoryDelivery.outbound_id, AdvisoryDelivery.channel, AdvisoryDelivery.conversation_id
        )
        .cte("copies")
    )
    recipients = select(
        copies.c.outbound_id.label("id"),
        copies.c.channel.label("channel"),
        _address(copies.c.conversation_id, copies.c.channel).label("address"),
        copies.c.conversation_id.label("conversation_id"),
    ).where(copies.c.outbound_id.is_not(None))
    enqueue_select(
        session=session,
        kind=ADVISORY_KIND,
        reply=advisory_reply(advisory),
        recipients=recipients,
        ctes=(copies,),
    )


def _insert_copies(
    session: Session, advisory_id: int, where: list[ColumnElement[bool]]
) -> list[int]:
    """One copy row per subscriber of the batch not yet given one (Zalo residents outside
    the window are recorded as skipped); returns the new rows' ids."""
    now = utcnow()
    outside = and_(Subscription.channel == "zalo", Resident.last_seen_at < now - ZALO_WINDOW)
    source = (
        select(
            literal(advisory_id, Integer),
            Subscription.conversation_id,
            Subscription.channel,
            case((outside, literal(SkipReason.OUTSIDE_WINDOW.value, String)), else_=null()),
            literal(now, DateTime(timezone=True)),
        )
        .join(Resident, Resident.id == Subscription.resident_id)
        .where(*where)
    )
    statement = (
        insert_or_skip(session, AdvisoryDelivery, ["advisory_id", "conversation_id"])
        .from_select(
            ["advisory_id", "conversation_id", "channel", "skip_reason", "created_at"], source
        )
        .returning(AdvisoryDelivery.id)
    )
    return list(session.scalars(statement))


def _queue_copies(session: Session, advisory: Advisory, first_id: int, last_id: int) -> None:
    """Queues the outbound rows of the copies with ids in [first_id, last_id] and links them;
    the dedupe key `advisory:<id>:<conversation>` keeps it at one even if run twice."""
    prefix = f"advisory:{advisory.id}:"
    waiting = (
        AdvisoryDelivery.advisory_id == advisory.id,
        AdvisoryDelivery.id.between(first_id, last_id),
        AdvisoryDelivery.skip_reason.is_(None),
        AdvisoryDelivery.outbound_id.is_(None),
    )
    key = literal(prefix, String) + AdvisoryDelivery.conversation_id
    recipients = select(
        AdvisoryDelivery.channel.label("channel"),
        _address(AdvisoryDelivery.conversation_id, AdvisoryDelivery.channel).label("address"),
        AdvisoryDelivery.conversation_id.label("conversation_id"),
        key.label("dedupe_key"),
    ).where(*waiting)
    enqueue_select(
        session=session, kind=ADVISORY_KIND, reply=advisory_reply(advisory), recipients=recipients
    )
    session.execute(
        update(AdvisoryDelivery)
        .where(*waiting)
        .values(
            outbound_id=select(OutboundMessage.id)
            .where(OutboundMessage.dedupe_key == key)
            .scalar_subquery()
        )
        .execution_options(synchronize_session=False)
    )


def advisory_reply(advisory: Advisory) -> OutboundReply:
    """What each subscriber receives: the text and its buttons to FAQ topics."""
    return OutboundReply(
        advisory.text,
        buttons=[ReplyButton(b["title"], b["payload"]) for b in advisory.buttons or []],
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Report:
    """Where an advisory's copies stand, from the outbound rows."""

    status: str
    reach_total: int
    queued: int = 0
    sent: int = 0
    failed: int = 0
    pending: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "queued": self.queued,
            "sent": self.sent,
            "failed": self.failed,
            "pending": self.pending,
        }


def report(*, session: Session, advisory_id: int) -> Report:
    """Sent / failed / pending / skipped by reason for one advisory."""
    advisory = session.get(Advisory, advisory_id)
    if advisory is None:
        raise AdvisoryError("Không có tin này.")
    result = Report(status=advisory.status, reach_total=advisory.reach_total)
    skipped: Counter[str] = Counter()
    rows = session.execute(
        select(
            AdvisoryDelivery.skip_reason,
            OutboundMessage.status,
            OutboundMessage.skip_reason,
            func.count(),
        )
        .select_from(AdvisoryDelivery)
        .outerjoin(OutboundMessage, OutboundMessage.id == AdvisoryDelivery.outbound_id)
        .where(AdvisoryDelivery.advisory_id == advisory_id)
        .group_by(AdvisoryDelivery.skip_reason, OutboundMessage.status, OutboundMessage.skip_reason)
    )
    for own_skip, status, out_skip, count in rows:
        result.queued += count
        if own_skip:
            skipped[own_skip] += count
        elif status == OutboundStatus.SENT:
            result.sent += count
        elif status == OutboundStatus.DEAD:
            result.failed += count
        elif status == OutboundStatus.SKIPPED:
            skipped[out_skip or "unknown"] += count
        elif status in OPEN_STATUSES:
            result.pending += count
        else:  # the outbound row was erased with the resident's data
            skipped["erased"] += count
    result.skipped = dict(skipped)
    return result


def list_advisories(*, session: Session, limit: int = 100) -> list[Advisory]:
    """Newest advisories first."""
    return list(session.scalars(select(Advisory).order_by(Advisory.id.desc()).limit(limit)))


def get_advisory(*, session: Session, advisory_id: int) -> Advisory | None:
    """One advisory, or None."""
    return session.get(Advisory, advisory_id)
