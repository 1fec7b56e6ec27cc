"""Advisories: reach, two-person approval in the service, one copy each, cancel, the report,
and delivery through the one outbound path (Telegram 429 honoured)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.advisories.models import AdvisoryDelivery, AdvisoryStatus
from bot.advisories.runtime import run_fan_out
from bot.advisories.service import (
    AdvisoryError,
    approve,
    cancel,
    create_advisory,
    fan_out_batch,
    reach,
    report,
    start_sending,
    submit,
)
from bot.audit.models import AuditEvent
from bot.channels.incidents import set_reachable
from bot.conversations.messages import OutboundReply
from bot.outbound.models import OutboundMessage, OutboundStatus
from bot.outbound.service import enqueue
from bot.users.models import Role
from tests.advisories.factories import HCM, subscribers
from tests.requests.factories import BEN_THANH
from tests.users.factories import make_user

TEXT = "Từ 18h hôm nay, phường Bến Thành tạm dừng chợ đêm. Người dân hạn chế ra ngoài."


@pytest.fixture
def admins(session: Session):  # type: ignore[no-untyped-def]
    return make_user(session, role=Role.ADMIN), make_user(session, role=Role.ADMIN)


def _draft(session: Session, author, kind: str = "wards", codes: list[str] | None = None):  # type: ignore[no-untyped-def]
    return create_advisory(
        session=session,
        author=author,
        title="Chợ đêm",
        text=TEXT,
        target_kind=kind,
        target_codes=[BEN_THANH] if codes is None else codes,
    )


def _copies(session: Session, advisory_id: int) -> list[str]:
    return list(
        session.scalars(
            select(AdvisoryDelivery.conversation_id).where(
                AdvisoryDelivery.advisory_id == advisory_id
            )
        )
    )


def test_reach_counts_active_reachable_subscribers_per_channel(session: Session) -> None:
    subscribers(session, 3)
    zalo = subscribers(session, 2, channel="zalo")
    subscribers(session, 4, start=50, ward=None, province="48")  # Đà Nẵng
    set_reachable(session=session, conversation_id=zalo[0], reachable=False)
    assert reach(session=session, target_kind="wards", target_codes=[BEN_THANH]) == {
        "telegram": 3,
        "zalo": 1,
    }
    assert reach(session=session, target_kind="provinces", target_codes=["48"]) == {"telegram": 4}
    assert sum(reach(session=session, target_kind="all", target_codes=[]).values()) == 8


def test_two_person_approval_is_enforced_by_the_service(session: Session, admins) -> None:  # type: ignore[no-untyped-def]
    author, other = admins
    subscribers(session, 5)
    advisory = _draft(session, author)
    submit(session=session, advisory=advisory, user=author, threshold=3)
    assert advisory.status == AdvisoryStatus.PENDING_APPROVAL
    assert advisory.reach_total == 5
    with pytest.raises(AdvisoryError, match="duyệt"):
        start_sending(session=session, advisory=advisory, user=author)
    with pytest.raises(AdvisoryError, match="không tự duyệt"):
        approve(session=session, advisory=advisory, approver=author)
    staff = make_user(session, role=Role.STAFF)
    with pytest.raises(AdvisoryError, match="quản trị viên"):
        approve(session=session, advisory=advisory, approver=staff)
    assert advisory.status == AdvisoryStatus.PENDING_APPROVAL
    approve(session=session, advisory=advisory, approver=other)
    assert advisory.status == AdvisoryStatus.APPROVED
    assert advisory.approved_by_id == other.id
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity == "advisory").order_by(AuditEvent.id)
    ).all()
    assert actions == [
        "advisory.created",
        "advisory.submitted",
        "advisory.approval_refused",
        "advisory.approved",
    ]


def test_under_the_threshold_one_admin_may_send(session: Session, admins) -> None:  # type: ignore[no-untyped-def]
    subscribers(session, 2)
    advisory = _draft(session, admins[0])
    submit(session=session, advisory=advisory, user=admins[0], threshold=3)
    assert advisory.status == AdvisoryStatus.APPROVED


@pytest.mark.parametrize(
    ("title", "text", "kind", "codes", "message"),
    [
        ("t", "", "all", [], "trống"),
        ("t", "x" * 2001, "all", [], "tối đa 2000"),
        ("t", "a\x00b", "all", [], "không hợp lệ"),
        ("t", TEXT, "wards", [], "ít nhất"),
        ("t", TEXT, "wards", ["99999"], "Không có mã"),
        ("t", TEXT, "everyone", [], "Đối tượng"),
        ("", TEXT, "all", [], "Tiêu đề"),
    ],
)
def test_bad_advisories_are_refused_clearly(  # type: ignore[no-untyped-def]
    session: Session, admins, title, text, kind, codes, message
) -> None:
    with pytest.raises(AdvisoryError, match=message):
        create_advisory(
            session=session,
            author=admins[0],
            title=title,
            text=text,
            target_kind=kind,
            target_codes=codes,
        )


def test_each_resident_gets_one_copy_even_when_run_twice(session: Session, admins) -> None:  # type: ignore[no-untyped-def]
    subscribers(session, 7)
    advisory = _draft(session, admins[0], kind="provinces", codes=[HCM])
    submit(session=session, advisory=advisory, user=admins[0], threshold=100)
    start_sending(session=session, advisory=advisory, user=admins[0])
    after = 0
    while (
        done := fan_out_batch(
            session=session, advisory_id=advisory.id, after_id=after, batch_size=3
        )
    ) is not None:
        after = done
    # a second run of the fan-out (a restarted worker) adds nothing
    advisory.status = AdvisoryStatus.SENDING
    fan_out_batch(session=session, advisory_id=advisory.id, after_id=0, batch_size=100)
    copies = _copies(session, advisory.id)
    assert len(copies) == len(set(copies)) == 7
    outbound = session.scalar(
        select(func.count()).select_from(OutboundMessage).where(OutboundMessage.kind == "advisory")
    )
    assert outbound == 7


def test_zalo_residents_outside_the_window_are_skipped_with_the_reason(
    session: Session,
    admins,  # type: ignore[no-untyped-def]
) -> None:
    subscribers(session, 2, channel="zalo")
    subscribers(session, 3, channel="zalo", start=10, idle_days=8)
    advisory = _draft(session, admins[0])
    submit(session=session, advisory=advisory, user=admins[0], threshold=100)
    start_sending(session=session, advisory=advisory, user=admins[0])
    after = 0
    while (
        done := fan_out_batch(session=session, advisory_id=advisory.id, after_id=after)
    ) is not None:
        after = done
    result = report(session=session, advisory_id=advisory.id)
    assert (result.status, result.pending, result.skipped) == (
        "sent",
        2,
        {"outside_window": 3},
    )


def test_cancel_stops_the_fan_out_and_withdraws_what_is_queued(session: Session, admins) -> None:  # type: ignore[no-untyped-def]
    subscribers(session, 10)
    advisory = _draft(session, admins[0])
    submit(session=session, advisory=advisory, user=admins[0], threshold=100)
    start_sending(session=session, advisory=advisory, user=admins[0])
    first = fan_out_batch(session=session, advisory_id=advisory.id, after_id=0, batch_size=4)
    assert first is not None
    cancel(session=session, advisory=advisory, user=admins[1])
    assert (
        fan_out_batch(session=session, advisory_id=advisory.id, after_id=first, batch_size=4)
        is None
    )
    assert len(_copies(session, advisory.id)) == 4  # no batch after the cancel
    result = report(session=session, advisory_id=advisory.id)
    assert (result.status, result.pending, result.skipped) == ("cancelled", 0, {"cancelled": 4})
    with pytest.raises(AdvisoryError):
        start_sending(session=session, advisory=advisory, user=admins[0])


def test_a_scheduled_advisory_waits_for_its_time(session: Session, admins) -> None:  # type: ignore[no-untyped-def]
    subscribers(session, 1)
    advisory = _draft(session, admins[0])
    later = datetime.now(UTC) + timedelta(hours=1)
    submit(session=session, advisory=advisory, user=admins[0], threshold=100, send_at=later)
    assert advisory.status == AdvisoryStatus.SCHEDULED
    with pytest.raises(AdvisoryError):
        start_sending(session=session, advisory=advisory, user=admins[0])
    with pytest.raises(AdvisoryError, match="tương lai"):
        submit(
            session=session,
            advisory=_draft(session, admins[0]),
            user=admins[0],
            threshold=100,
            send_at=datetime.now(UTC) - timedelta(minutes=1),
        )


async def test_copies_go_through_the_outbound_path_and_429_is_honoured(  # type: ignore[no-untyped-def]
    session: Session, admins, worker, telegram_fake, clock
) -> None:
    subscribers(session, 3)
    reply = enqueue(
        session=session,
        channel="telegram",
        address="555",
        reply=OutboundReply("trả lời"),
        kind="staff_reply",
        conversation_id="telegram:555",
    )
    advisory = _draft(session, admins[0])
    submit(session=session, advisory=advisory, user=admins[0], threshold=100)
    start_sending(session=session, advisory=advisory, user=admins[0])
    run_fan_out(advisory_id=advisory.id)
    # the resident's reply, queued before the fan-out, still goes first
    telegram_fake.fail_next(429, retry_after=120)
    await worker.deliver_due(limit=1)
    session.expire_all()
    assert session.get(OutboundMessage, reply.id).status == OutboundStatus.FAILED_RETRYING  # type: ignore[union-attr]
    clock.advance(seconds=121)
    for _ in range(5):
        await worker.deliver_due()
    sent = telegram_fake.sent()
    assert next(m.params["chat_id"] for m in sent) == "555"
    assert sorted(m.params["chat_id"] for m in sent[1:]) == ["700001", "700002", "700003"]
    assert all(m.params["text"] == TEXT for m in sent[1:])
    result = report(session=session, advisory_id=advisory.id)
    assert (result.sent, result.failed, result.pending) == (3, 0, 0)


def test_buttons_to_faq_topics_are_checked_and_sent_with_each_copy(
    session: Session,
    admins,  # type: ignore[no-untyped-def]
) -> None:
    subscribers(session, 2)
    for topics, message in (
        (["ask_testing", "ask_hotline", "ask_vaccination", "ask_rumor"], "Tối đa 3"),
        (["request_aid"], "Không có chủ đề"),
        (["/ask_testing"], "Không có chủ đề"),
    ):
        with pytest.raises(AdvisoryError, match=message):
            create_advisory(
                session=session,
                author=admins[0],
                title="t",
                text=TEXT,
                target_kind="all",
                target_codes=[],
                topics=topics,
            )
    advisory = create_advisory(
        session=session,
        author=admins[0],
        title="t",
        text=TEXT,
        target_kind="all",
        target_codes=[],
        topics=["ask_testing", "ask_hotline", "ask_testing"],
    )
    assert advisory.buttons == [
        {"title": "Xét nghiệm ở đâu", "payload": "/ask_testing"},
        {"title": "Số điện thoại cần biết", "payload": "/ask_hotline"},
    ]
    submit(session=session, advisory=advisory, user=admins[0], threshold=100)
    start_sending(session=session, advisory=advisory, user=admins[0])
    assert fan_out_batch(session=session, advisory_id=advisory.id, after_id=0) is None
    rows = session.scalars(select(OutboundMessage).where(OutboundMessage.kind == "advisory")).all()
    assert [r.buttons for r in rows] == [advisory.buttons] * 2
    assert sorted(r.address for r in rows) == ["700001", "700002"]
    assert {r.dedupe_key for r in rows} == (
        {None}
        if session.get_bind().dialect.name == "postgresql"
        else {f"advisory:{advisory.id}:telegram:700001", f"advisory:{advisory.id}:telegram:700002"}
    )
