"""Ownership, transcript and the console actions, on the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.audit.models import AuditEvent
from bot.console.service import (
    Actor,
    ConsoleError,
    Tab,
    active_handoff,
    add_note,
    claim,
    figures,
    get_handoff,
    hand_back,
    list_queue,
    record_bot_replies,
    record_resident_message,
    release,
    staff_reply,
    transcript,
    transfer,
)
from bot.handoff.models import (
    Author,
    ConversationMessage,
    HandoffOutcome,
    HandoffReason,
    HandoffStatus,
)
from bot.handoff.service import request_handoff
from bot.privacy.service import erase_personal_data
from bot.requests.service import submit_aid_request
from bot.residents.models import Resident
from tests.requests.factories import BEN_THANH, HOAN_KIEM, aid_in, conversation_id

AN = Actor(id=1, name="Nguyễn An", role="staff")
BINH = Actor(id=2, name="Trần Bình", role="staff")
ADMIN = Actor(id=3, name="Quản trị", role="admin")


def queued(session, reason=HandoffReason.ASKED):  # type: ignore[no-untyped-def]
    cid = conversation_id()
    record_resident_message(session=session, conversation_id=cid, text="xin chào")
    record_bot_replies(session=session, conversation_id=cid, texts=["Chào bạn!"])
    return cid, request_handoff(session=session, conversation_id=cid, reason=reason)


def test_a_conversation_is_the_bots_until_handed_off(session) -> None:
    cid = conversation_id()
    assert record_resident_message(session=session, conversation_id=cid, text="chào") is None
    request_handoff(session=session, conversation_id=cid, reason=HandoffReason.ASKED)
    handoff = record_resident_message(session=session, conversation_id=cid, text="có ai không?")
    assert handoff is not None
    assert handoff.status == HandoffStatus.OPEN
    lines = transcript(session=session, handoff=handoff)
    assert [(m.author, m.text) for m in lines] == [
        (Author.RESIDENT, "chào"),
        (Author.RESIDENT, "có ai không?"),
    ]
    assert lines[1].handoff_id == handoff.id


def test_queue_puts_emergencies_first_then_the_longest_wait(session) -> None:
    _, first = queued(session)
    _, second = queued(session, HandoffReason.MISUNDERSTOOD)
    _, emergency = queued(session, HandoffReason.EMERGENCY)
    ids = [h.id for h in list_queue(session=session, tab=Tab.WAITING, actor=AN)]
    assert ids.index(emergency.id) < ids.index(first.id) < ids.index(second.id)


def test_claim_reply_note_and_hand_back(session) -> None:
    cid, handoff = queued(session, HandoffReason.EMERGENCY)
    claim(session=session, handoff_id=handoff.id, actor=AN)
    assert [h.id for h in list_queue(session=session, tab=Tab.MINE, actor=AN)] == [handoff.id]
    assert handoff.id not in [h.id for h in list_queue(session=session, tab=Tab.WAITING, actor=AN)]
    _, message = staff_reply(session=session, handoff_id=handoff.id, actor=AN, text="  Tôi đây ")
    assert message.text == "Tôi đây"
    assert message.delivery == "pending"
    add_note(session=session, handoff_id=handoff.id, actor=AN, text="gọi lại sau")
    closed, notice = hand_back(
        session=session, handoff_id=handoff.id, actor=AN, outcome=HandoffOutcome.REFERRED_115
    )
    assert closed.status == HandoffStatus.CLOSED
    assert closed.outcome == "referred_115"
    assert "trợ lý tự động" in notice.text
    assert active_handoff(session=session, conversation_id=cid) is None
    numbers = figures(closed)
    assert numbers["first_reply_seconds"] is not None
    assert numbers["first_reply_seconds"] >= 0
    assert numbers["handling_seconds"] is not None
    assert numbers["outcome"] == "referred_115"
    actions = session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.entity_id == handoff.id, AuditEvent.entity == "handoff"
        )
    ).all()
    assert set(actions) >= {"console.claim", "console.reply", "console.note", "console.hand_back"}
    for event in session.scalars(select(AuditEvent).where(AuditEvent.entity == "handoff")):
        assert "Tôi đây" not in str(event.detail)
        assert "gọi lại" not in str(event.detail)


def test_a_resident_writing_after_the_hand_back_is_the_bots_again(session) -> None:
    cid, handoff = queued(session)
    claim(session=session, handoff_id=handoff.id, actor=AN)
    hand_back(session=session, handoff_id=handoff.id, actor=AN, outcome=HandoffOutcome.RESOLVED)
    assert record_resident_message(session=session, conversation_id=cid, text="cảm ơn") is None


def test_second_claim_is_told_who_has_it(session) -> None:
    _, handoff = queued(session)
    claim(session=session, handoff_id=handoff.id, actor=AN)
    with pytest.raises(ConsoleError, match="Nguyễn An đã nhận"):
        claim(session=session, handoff_id=handoff.id, actor=BINH)
    assert claim(session=session, handoff_id=handoff.id, actor=AN).owner_id == AN.id


def test_claiming_a_closed_conversation_says_so(session) -> None:
    _, handoff = queued(session)
    hand_back(session=session, handoff_id=handoff.id, actor=AN, outcome=HandoffOutcome.NO_ANSWER)
    with pytest.raises(ConsoleError, match="đã kết thúc"):
        claim(session=session, handoff_id=handoff.id, actor=BINH)


def test_release_and_transfer(session) -> None:
    _, handoff = queued(session)
    claim(session=session, handoff_id=handoff.id, actor=AN)
    with pytest.raises(ConsoleError, match="Nguyễn An đang giữ"):
        release(session=session, handoff_id=handoff.id, actor=BINH)
    moved = transfer(session=session, handoff_id=handoff.id, actor=AN, to=BINH)
    assert moved.owner_id == BINH.id
    assert moved.owner_name == "Trần Bình"
    with pytest.raises(ConsoleError):
        staff_reply(session=session, handoff_id=handoff.id, actor=AN, text="còn tôi")
    back = release(session=session, handoff_id=handoff.id, actor=BINH)
    assert back.status == HandoffStatus.OPEN
    assert back.owner_id is None
    # An admin may take over any conversation's actions.
    claim(session=session, handoff_id=handoff.id, actor=AN)
    assert release(session=session, handoff_id=handoff.id, actor=ADMIN).status == "open"


@pytest.mark.parametrize(
    ("text", "match"), [("", "trống"), ("   \n", "trống"), ("x" * 10_000, "10.000 ký tự")]
)
def test_bad_replies_get_a_clear_message(session, text, match) -> None:
    _, handoff = queued(session)
    claim(session=session, handoff_id=handoff.id, actor=AN)
    with pytest.raises(ConsoleError, match=match):
        staff_reply(session=session, handoff_id=handoff.id, actor=AN, text=text)


def test_replying_without_claiming_is_refused(session) -> None:
    _, handoff = queued(session)
    with pytest.raises(ConsoleError, match="nhận nó trước"):
        staff_reply(session=session, handoff_id=handoff.id, actor=AN, text="chào")


def test_team_members_see_only_their_wards(session) -> None:
    ward_cid, in_ward = queued(session)
    submit_aid_request(session=session, conversation_id=ward_cid, data=aid_in(ward_code=BEN_THANH))
    _, elsewhere = queued(session)
    team = Actor(id=9, name="Tổ Bến Thành", role="team", wards=frozenset({BEN_THANH}))
    ids = [h.id for h in list_queue(session=session, tab=Tab.OPEN, actor=team)]
    assert in_ward.id in ids
    assert elsewhere.id not in ids
    assert get_handoff(session=session, handoff_id=in_ward.id, actor=team).id == in_ward.id
    with pytest.raises(PermissionError):
        get_handoff(session=session, handoff_id=elsewhere.id, actor=team)
    other_team = Actor(id=10, name="Tổ Hoàn Kiếm", role="team", wards=frozenset({HOAN_KIEM}))
    with pytest.raises(PermissionError):
        get_handoff(session=session, handoff_id=in_ward.id, actor=other_team)
    with pytest.raises(PermissionError):
        claim(session=session, handoff_id=in_ward.id, actor=team)


def test_erasing_a_resident_erases_the_transcript(session) -> None:
    cid, handoff = queued(session)
    claim(session=session, handoff_id=handoff.id, actor=AN)
    staff_reply(session=session, handoff_id=handoff.id, actor=AN, text="chào bạn")
    resident_id = handoff.resident_id
    assert erase_personal_data(session=session, conversation_id=cid, actor="resident").rows
    session.expire_all()
    left = select(ConversationMessage).where(ConversationMessage.resident_id == resident_id)
    assert session.scalars(left).all() == []


def test_a_reconnecting_web_chat_page_gets_what_people_sent_since(session) -> None:
    from bot.console.service import sent_to_resident_since

    cid, handoff = queued(session)
    claim(session=session, handoff_id=handoff.id, actor=AN)
    _, first = staff_reply(session=session, handoff_id=handoff.id, actor=AN, text="một")
    add_note(session=session, handoff_id=handoff.id, actor=AN, text="nội bộ")
    _, second = staff_reply(session=session, handoff_id=handoff.id, actor=AN, text="hai")
    _, notice = hand_back(
        session=session, handoff_id=handoff.id, actor=AN, outcome=HandoffOutcome.RESOLVED
    )
    since = sent_to_resident_since(session=session, conversation_id=cid, after_id=first.id)
    assert [m.id for m in since] == [second.id, notice.id]  # never a note, never the bot's turns
    assert sent_to_resident_since(session=session, conversation_id="web:other", after_id=0) == []


def test_the_bots_reply_to_an_erasure_does_not_bring_the_resident_back(session) -> None:
    cid = conversation_id()
    record_resident_message(session=session, conversation_id=cid, text="xóa thông tin của tôi")
    erase_personal_data(session=session, conversation_id=cid, actor="resident")
    assert record_bot_replies(session=session, conversation_id=cid, texts=["Đã xóa."]) is None
    assert session.scalar(select(Resident).where(Resident.conversation_id == cid)) is None
    assert "Đã xóa." not in session.scalars(select(ConversationMessage.text)).all()
