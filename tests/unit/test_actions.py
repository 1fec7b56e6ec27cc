"""Actions run without a server: a tracker from a dict, a CollectingDispatcher, exact events."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.faq import ActionAnswerFaq, ActionCheckRumor
from actions.handoff import ActionEmergency, ActionHandleFallback, ActionRequestHuman
from actions.privacy import ActionAskDeleteMyData, ActionDeleteMyData, ActionViewMyData
from bot.conversations.rasa_client import COMMAND_KEY
from bot.handoff.models import HandoffRequest
from bot.privacy.runtime import ERASE_COMMAND
from bot.residents.models import Resident

SENDER = "web:test-resident-0001"


def _command_message(command: str) -> dict[str, Any]:
    dispatcher = CollectingDispatcher()
    dispatcher.utter_message(json_message={COMMAND_KEY: command})
    return dispatcher.messages[0]


def user(intent: str, text: str = "…") -> dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": []},
    }


def action(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name}


def tracker(*events: dict[str, Any], sender: str = SENDER) -> Tracker:
    latest = next((e for e in reversed(events) if e["event"] == "user"), user("greet"))
    return Tracker.from_dict(
        {
            "sender_id": sender,
            "slots": {},
            "latest_message": {**latest["parse_data"], "text": latest["text"]},
            "events": list(events),
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


async def run(action_class: type, t: Tracker) -> tuple[list[dict[str, Any]], list[Any]]:
    dispatcher = CollectingDispatcher()
    events = await action_class().run(dispatcher, t, {})
    return dispatcher.messages, events


def handoff_reasons(session: Session, sender: str = SENDER) -> list[str]:
    return list(
        session.scalars(
            select(HandoffRequest.reason).join(Resident).where(Resident.conversation_id == sender)
        )
    )


async def test_faq_answer_is_the_topic_of_the_intent_with_facts_filled_in() -> None:
    messages, events = await run(ActionAnswerFaq, tracker(user("ask_hotline")))
    assert events == []
    assert "115" in messages[0]["text"]
    assert "{" not in messages[0]["text"]


async def test_known_rumour_gets_its_rebuttal_and_unknown_news_the_general_advice(
    session: Session,
) -> None:
    known, _ = await run(
        ActionCheckRumor, tracker(user("ask_rumor", "uong nuoc chanh nong diet covid a"))
    )
    unknown, _ = await run(ActionCheckRumor, tracker(user("ask_rumor", "tin này có thật không")))
    assert known[0]["text"].startswith("Tin này không đúng")
    assert not unknown[0]["text"].startswith("Tin này không đúng")


async def test_emergency_says_115_first_and_records_an_emergency_handoff(
    session: Session,
) -> None:
    messages, events = await run(ActionEmergency, tracker(user("emergency", "mẹ tôi khó thở quá")))
    assert events == []
    assert messages[0]["text"].startswith("Hãy gọi ngay 115")
    assert handoff_reasons(session) == ["emergency"]


async def test_first_misunderstanding_asks_to_rephrase() -> None:
    messages, events = await run(ActionHandleFallback, tracker(user("nlu_fallback")))
    assert events == [UserUtteranceReverted()]
    assert "chưa hiểu" in messages[0]["text"]
    assert "/human_handoff" not in [b["payload"] for b in messages[0]["buttons"]]


async def test_second_misunderstanding_in_a_row_offers_a_person() -> None:
    t = tracker(
        user("nlu_fallback"),
        action("action_handle_fallback"),
        {"event": "rewind"},
        user("nonsense"),
    )
    messages, events = await run(ActionHandleFallback, t)
    assert events == [UserUtteranceReverted()]
    assert "/human_handoff" in [b["payload"] for b in messages[0]["buttons"]]


async def test_misunderstandings_separated_by_an_understood_message_do_not_add_up() -> None:
    t = tracker(user("nlu_fallback"), user("greet"), action("utter_greet"), user("nlu_fallback"))
    messages, _ = await run(ActionHandleFallback, t)
    assert "/human_handoff" not in [b["payload"] for b in messages[0]["buttons"]]


async def test_asking_for_a_person_records_the_wish_once(session: Session) -> None:
    await run(ActionRequestHuman, tracker(user("human_handoff")))
    messages, events = await run(ActionRequestHuman, tracker(user("human_handoff")))
    assert events == []
    assert "nhân viên" in messages[0]["text"]
    assert handoff_reasons(session) == ["asked"]


async def test_accepting_the_offer_after_misunderstandings_is_recorded_as_such(
    session: Session,
) -> None:
    t = tracker(user("nlu_fallback"), action("action_handle_fallback"), user("human_handoff"))
    await run(ActionRequestHuman, t)
    assert handoff_reasons(session) == ["misunderstood"]


async def test_an_emergency_outranks_an_earlier_wish(session: Session) -> None:
    await run(ActionRequestHuman, tracker(user("human_handoff")))
    await run(ActionEmergency, tracker(user("emergency", "ông tôi bất tỉnh rồi")))
    assert handoff_reasons(session) == ["emergency"]


async def test_view_then_delete_my_data(session: Session) -> None:
    await run(ActionRequestHuman, tracker(user("human_handoff")))
    seen, _ = await run(ActionViewMyData, tracker(user("human_handoff"), user("view_my_data")))
    assert "đề nghị gặp nhân viên" in seen[0]["text"]
    assert "2 tin nhắn của bạn" in seen[0]["text"]  # the conversation Rasa keeps

    asked, asked_events = await run(ActionAskDeleteMyData, tracker(user("delete_my_data")))
    assert asked_events == [SlotSet("confirming", "delete_data")]
    assert [b["payload"] for b in asked[0]["buttons"]] == ["/affirm", "/deny"]

    # The erasure itself runs in the web app once the turn is over (tests/privacy, e2e).
    done, done_events = await run(ActionDeleteMyData, tracker(user("affirm")))
    assert done_events == [SlotSet("confirming", None)]
    assert done == [_command_message(ERASE_COMMAND)]
