"""Emergencies, asking for a person, and what happens when the bot does not understand."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.common import utter_answer
from bot.content.service import fact, faq_answer
from bot.db.session import session_scope
from bot.handoff.emergency import emergency_number, escalate_emergency, first_reply
from bot.handoff.models import HandoffReason
from bot.handoff.service import request_handoff
from bot.safety import CONFIRM_PAYLOAD, detect_emergency
from bot.settings import get_settings
from hotline_nlu.normalize import fold

logger = logging.getLogger(__name__)

# "inform" outside a form answers no question; "nonsense" is mashing, lone emoji or markup.
MISUNDERSTOOD_INTENTS = {"nlu_fallback", "inform", "nonsense"}
OFFER_PERSON_AFTER = 2  # misunderstandings in a row


def _record_handoff(conversation_id: str, reason: HandoffReason) -> bool:
    try:
        with session_scope() as session:
            request_handoff(session=session, conversation_id=conversation_id, reason=reason)
        return True
    except (SQLAlchemyError, ValueError):
        logger.exception("could not record a hand-off (%s)", reason)
        return False


def misunderstandings_in_a_row(tracker: Tracker) -> int:
    """Counts the resident's latest messages that the NLU did not understand, newest first."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if (event.get("parse_data") or {}).get("intent", {}).get(
            "name"
        ) not in MISUNDERSTOOD_INTENTS:
            break
        count += 1
    return count


class ActionEmergency(Action):
    """The classifier's `emergency`: 115 and the staff queue only when the safety rules agree
    (or the resident confirms); otherwise a short check, so "SpO2 bao nhiêu là bình thường"
    gets an answer instead of a false alarm."""

    def name(self) -> str:
        return "action_emergency"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        category = detect_emergency(text).category
        if category is None:
            _ask_if_in_danger(dispatcher, text)
            return []
        dispatcher.utter_message(text=first_reply(category).text)
        await escalate_emergency(
            settings=get_settings(), conversation_id=tracker.sender_id, category=category
        )
        utter_answer(dispatcher, faq_answer("emergency"))
        return []


_OXIMETRY = ("spo2", "sp02", "oxy", "oxi", "bao hoa")


def _ask_if_in_danger(dispatcher: CollectingDispatcher, text: str) -> None:
    dispatcher.utter_message(
        text="Bạn hoặc người thân có đang gặp nguy hiểm không? "
        f"Nếu có, gọi ngay {emergency_number()}.",
        buttons=[{"title": "Có, đang nguy hiểm", "payload": CONFIRM_PAYLOAD}],
    )
    if any(word in fold(text) for word in _OXIMETRY):
        utter_answer(dispatcher, faq_answer("spo2_info"))


class ActionRequestHuman(Action):
    """Records that the resident wants a person and says what happens next."""

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        reason = (
            HandoffReason.MISUNDERSTOOD
            if misunderstandings_in_a_row(tracker) == 0 and _bot_offered_person(tracker)
            else HandoffReason.ASKED
        )
        if not _record_handoff(tracker.sender_id, reason):
            dispatcher.utter_message(
                text="Xin lỗi, hệ thống đang gặp sự cố nên chưa chuyển được cho nhân viên. "
                f"Bạn có thể gọi {fact('hotlines.local.number')} hoặc nhắn lại sau ít phút."
            )
            return []
        dispatcher.utter_message(
            text="Tôi đã chuyển cuộc trò chuyện tới nhân viên tổng đài. Nhân viên sẽ trả lời "
            f"bạn ngay tại đây trong giờ làm việc ({fact('support.office_hours')}). "
            f"Nếu nguy hiểm đến tính mạng, hãy gọi ngay {fact('hotlines.emergency.number')}."
        )
        return []


def _bot_offered_person(tracker: Tracker) -> bool:
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") not in (
            "action_listen",
            "action_request_human",
        ):
            return event.get("name") == "action_handle_fallback"
    return False


class ActionHandleFallback(Action):
    """Asks the resident to rephrase; after two misunderstandings in a row offers a person."""

    def name(self) -> str:
        return "action_handle_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if misunderstandings_in_a_row(tracker) >= OFFER_PERSON_AFTER:
            dispatcher.utter_message(
                text="Xin lỗi, tôi vẫn chưa hiểu ý bạn. Bạn có muốn nói chuyện với nhân viên "
                "tổng đài không?",
                buttons=[
                    {"title": "Gặp nhân viên", "payload": "/human_handoff"},
                    {"title": "Thử lại", "payload": "/greet"},
                ],
            )
        else:
            dispatcher.utter_message(
                text="Xin lỗi, tôi chưa hiểu ý bạn. Bạn có thể nói rõ hơn, hoặc chọn một mục "
                "dưới đây:",
                buttons=[
                    {"title": "Khai báo y tế", "payload": "/health_declaration"},
                    {"title": "Xin hỗ trợ khó khăn", "payload": "/request_aid"},
                    {"title": "Số điện thoại cần biết", "payload": "/ask_hotline"},
                ],
            )
        # The misunderstood message should not steer the dialogue that follows.
        return [UserUtteranceReverted()]
