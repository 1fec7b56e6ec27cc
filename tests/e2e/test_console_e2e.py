"""Human takeover against the real stack: Rasa never sees the resident while staff own the
conversation, and a hand-back leaves Rasa with a fresh dialogue (no stale form)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from bot.console.service import Actor, claim, hand_back
from bot.conversations.rasa_client import RasaClient
from bot.handoff.models import HandoffOutcome, HandoffReason
from bot.handoff.service import request_handoff
from tests.e2e.conftest import LiveStack, say

pytestmark = pytest.mark.e2e
AN = Actor(id=1, name="Nguyễn An", role="staff")


def _user_texts(stack: LiveStack, conversation_id: str) -> list[str]:
    tracker = stack.rasa_tracker(conversation_id)
    return [e.get("text") or "" for e in tracker["events"] if e["event"] == "user"]


def _db(stack: LiveStack):  # type: ignore[no-untyped-def]
    return sessionmaker(bind=create_engine(stack.database_url), expire_on_commit=False)


def test_takeover_keeps_rasa_out_and_hand_back_starts_afresh(live_stack: LiveStack) -> None:
    db = _db(live_stack)
    with live_stack.chat() as client:
        cid = f"web:{client.cookies['hotline_chat']}"
        form = say(client, "nhà tôi hết gạo rồi, xin hỗ trợ lương thực")
        assert form, "the aid form asks its first question"
        assert live_stack.rasa_tracker(cid).get("active_loop", {}).get("name")
        with db.begin() as session:  # as the safety layer does on an emergency
            handoff_id = request_handoff(
                session=session, conversation_id=cid, reason=HandoffReason.EMERGENCY
            ).id
        held = say(client, "alo có ai không, bí mật 4711")
        assert held == [] or all("ngoài giờ" in r["text"] for r in held)
        assert not any("4711" in t for t in _user_texts(live_stack, cid))
        with db.begin() as session:
            claim(session=session, handoff_id=handoff_id, actor=AN)
            hand_back(
                session=session, handoff_id=handoff_id, actor=AN, outcome=HandoffOutcome.RESOLVED
            )
        rasa = RasaClient(live_stack.settings)

        async def reset() -> None:
            await rasa.reset_dialogue(conversation_id=cid)
            await rasa.aclose()

        asyncio.run(reset())
        tracker = live_stack.rasa_tracker(cid)
        assert not (tracker.get("active_loop") or {}).get("name")
        again = say(client, "xin chào")
        assert "khai báo y tế" in again[0]["text"]
        tracker = live_stack.rasa_tracker(cid)
        assert not (tracker.get("active_loop") or {}).get("name")
        assert tracker["latest_action_name"] == "action_listen"
    db.kw["bind"].dispose()
