"""Staff hours, canned replies, and the pipeline's ownership gate (live events, notices)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.console.content import (
    canned_replies,
    next_staff_opening,
    outside_hours_text,
    staff_available,
)
from bot.console.gate import BotTurn, ConsoleGate
from bot.content.service import ContentError
from bot.conversations.messages import OutboundReply
from bot.handoff.models import Author, ConversationMessage, HandoffReason
from bot.handoff.service import request_handoff
from bot.live import LiveBus
from bot.residents.models import Resident
from bot.settings import get_settings
from tests.requests.factories import conversation_id

# 2026-11-27 is a Friday; Vietnam is UTC+7.
FRIDAY_NOON_VN = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
FRIDAY_23H_VN = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
SATURDAY_3H_VN = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)


def hours_file(tmp_path: Path, body: str) -> Path:
    (tmp_path / "staff_hours.yml").write_text(body, encoding="utf-8")
    (tmp_path / "facts.yml").write_text(
        'hotlines:\n  emergency:\n    number: "115"\n', encoding="utf-8"
    )
    return tmp_path


def test_shipped_hours_and_canned_replies_load() -> None:
    assert staff_available(FRIDAY_NOON_VN)
    assert not staff_available(FRIDAY_23H_VN)
    replies = canned_replies()
    assert replies
    assert all(r.title and r.text for r in replies)
    assert not any("{" in r.text for r in replies)  # facts filled in


def test_outside_hours_says_when_and_what_to_do(tmp_path: Path) -> None:
    content = hours_file(tmp_path, 'timezone: Asia/Ho_Chi_Minh\ndays:\n  sat: "07:30-11:00"\n')
    assert not staff_available(FRIDAY_23H_VN, content_dir=content)
    opening = next_staff_opening(FRIDAY_23H_VN, content_dir=content)
    assert opening is not None
    assert (opening.weekday(), opening.hour, opening.minute) == (5, 7, 30)
    text = outside_hours_text(SATURDAY_3H_VN, content_dir=content)
    assert "từ 07:30 hôm nay" in text
    assert "115" in text
    assert "sáng mai" in outside_hours_text(FRIDAY_23H_VN, content_dir=content)


@pytest.mark.parametrize(
    "body",
    ['days:\n  mon: "7h-21h"\n', 'days:\n  mon: "25:00-26:00"\n', "timezone: Mars/Olympus\n"],
)
def test_a_broken_hours_file_is_reported(tmp_path: Path, body: str) -> None:
    with pytest.raises(ContentError):
        staff_available(FRIDAY_NOON_VN, content_dir=hours_file(tmp_path, body))


async def test_gate_holds_queued_conversations_and_announces_new_ones(session, redis) -> None:
    live = LiveBus()
    gate = ConsoleGate(live=live, redis=redis)
    console = await live.subscribe("console")
    cid = conversation_id()
    assert await gate.before_rasa(conversation_id=cid, text="chào") is None  # the bot's
    request_handoff(session=session, conversation_id=cid, reason=HandoffReason.EMERGENCY)
    replies = [OutboundReply("Hãy gọi ngay 115")]
    assert await gate.after_rasa(conversation_id=cid, replies=replies) is not None
    event = await console.get(timeout=1)
    assert event is not None
    assert event["type"] == "queued"
    assert event["emergency"] is True
    held = await gate.before_rasa(conversation_id=cid, text="<b>cứu</b>")
    assert held is not None
    event = await console.get(timeout=1)
    assert event is not None
    assert event["type"] == "message"
    assert "cứu" not in str(event)  # ids and labels only, never message text


async def test_outside_hours_a_queued_resident_is_told_once(
    session, redis, tmp_path, monkeypatch
) -> None:
    content = hours_file(tmp_path, "days: {}\n")
    monkeypatch.setattr(get_settings(), "content_dir", content)
    gate = ConsoleGate(live=LiveBus(), redis=redis)
    cid = conversation_id()
    request_handoff(session=session, conversation_id=cid, reason=HandoffReason.ASKED)
    first = await gate.before_rasa(conversation_id=cid, text="alo")
    assert first
    assert "ngoài giờ trực" in first[0].text
    assert "115" in first[0].text
    assert await gate.before_rasa(conversation_id=cid, text="alo alo") == []


async def test_a_known_residents_bot_turn_is_stored_in_one_write_after_the_turn(
    session, redis
) -> None:
    gate = ConsoleGate(live=LiveBus(), redis=redis)
    cid = conversation_id()

    def stored() -> list[tuple[str, str]]:
        rows = session.scalars(
            select(ConversationMessage)
            .join(Resident, Resident.id == ConversationMessage.resident_id)
            .where(Resident.conversation_id == cid)
            .order_by(ConversationMessage.id)
        )
        return [(m.author, m.text) for m in rows]

    # A new resident's first message is stored before the turn: actions may look them up.
    first = await gate.before_bot(conversation_id=cid, text="chào")
    assert first == BotTurn(pending_text=None)
    assert stored() == [(Author.RESIDENT, "chào")]
    await gate.after_rasa(conversation_id=cid, replies=[OutboundReply("Xin chào")], turn=first)
    # Later ones only read who owns the conversation; the turn is written once, afterwards.
    second = await gate.before_bot(conversation_id=cid, text="xét nghiệm ở đâu")
    assert second == BotTurn(pending_text="xét nghiệm ở đâu")
    assert len(stored()) == 2
    await gate.after_rasa(
        conversation_id=cid, replies=[OutboundReply("Ở trạm y tế phường")], turn=second
    )
    assert stored() == [
        (Author.RESIDENT, "chào"),
        (Author.BOT, "Xin chào"),
        (Author.RESIDENT, "xét nghiệm ở đâu"),
        (Author.BOT, "Ở trạm y tế phường"),
    ]
    # Once people own the conversation, the message is stored at once and kept from the bot.
    request_handoff(session=session, conversation_id=cid, reason=HandoffReason.ASKED)
    held = await gate.before_bot(conversation_id=cid, text="alo")
    assert not isinstance(held, BotTurn)
    assert (Author.RESIDENT, "alo") in stored()[4:]  # (then, outside staff hours, a notice)
