"""action_check_rumor without a server (tracker dict, CollectingDispatcher), and the opt-in
buttons answered before Rasa."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.faq import ActionCheckRumor
from bot.rumours.chat import DECLINED, FOLLOWUP_QUESTION, OPTED_IN, UNKNOWN, followup_turn
from bot.rumours.models import RumourQuestion
from bot.rumours.service import answer_group
from bot.users.models import Role
from tests.users.factories import make_user


def _tracker(text: str, sender: str) -> Tracker:
    return Tracker.from_dict(
        {
            "sender_id": sender,
            "slots": {},
            "latest_message": {"text": text, "intent": {"name": "ask_rumor", "confidence": 0.9}},
            "events": [{"event": "user", "text": text}],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


async def _run(text: str, sender: str = "telegram:42") -> tuple[list[Any], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await ActionCheckRumor().run(dispatcher, _tracker(text, sender), {})
    return events, dispatcher.messages


async def test_an_unknown_rumour_is_kept_and_the_resident_may_ask_to_be_told(
    session: Session,
) -> None:
    events, messages = await _run("Tôi là Lan, nghe nói uống nước dừa chữa covid đúng không")
    assert events == []
    assert messages[0]["text"].startswith("Để kiểm tra một tin")
    assert messages[1]["text"] == FOLLOWUP_QUESTION
    yes, no = messages[1]["buttons"]
    question = session.scalars(select(RumourQuestion)).one()
    assert question.text == "Tôi là [tên], nghe nói uống nước dừa chữa covid đúng không"
    assert question.conversation_id is None
    assert yes["payload"] == f"/rumour_notify {question.token}"
    # the buttons, answered in the pipeline
    assert [
        r.text for r in await followup_turn(conversation_id="telegram:42", text=no["payload"])
    ] == [DECLINED]  # type: ignore[union-attr]
    assert question.conversation_id is None
    replies = await followup_turn(conversation_id="telegram:42", text=yes["payload"])
    assert [r.text for r in replies or []] == [OPTED_IN]
    session.expire_all()
    assert session.get(RumourQuestion, question.id).conversation_id == "telegram:42"  # type: ignore[union-attr]
    forged = await followup_turn(conversation_id="telegram:43", text="/rumour_notify zzz")
    assert [r.text for r in forged or []] == [UNKNOWN]
    assert await followup_turn(conversation_id="telegram:42", text="xin chào") is None


async def test_the_web_chat_is_not_offered_a_later_answer(session: Session) -> None:
    _, messages = await _run("nghe nói uống nước dừa chữa covid", sender="web:abc")
    assert len(messages) == 1
    assert session.scalars(select(RumourQuestion.channel)).all() == ["web"]


async def test_a_generic_or_button_question_is_not_kept(session: Session) -> None:
    _, messages = await _run("/ask_rumor")
    assert len(messages) == 1
    assert session.scalars(select(RumourQuestion)).all() == []


async def test_an_answered_rumour_is_answered_next_time(session: Session) -> None:
    await _run("nghe nói uống nước dừa chữa covid")
    group_id = session.scalars(select(RumourQuestion.group_id)).one()
    admin = make_user(session, role=Role.ADMIN)
    answer_group(
        session=session,
        group_id=group_id,
        user=admin,
        verdict="false",
        answer="Nước dừa không chữa được COVID-19; hãy làm theo hướng dẫn của Bộ Y tế.",
    )
    events, messages = await _run("uong nuoc dua chua duoc covid ko", sender="zalo:9")
    assert events == []
    assert [m["text"] for m in messages] == [
        "Tin này không đúng. Nước dừa không chữa được COVID-19; hãy làm theo hướng dẫn của Bộ Y tế."
    ]
