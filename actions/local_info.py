"""Aid programmes and local notices answered for the resident's area (asked once when unknown,
then remembered). Thin: the rules live in bot/content/aid_programmes.py, bot/notices/service.py
and bot/residents/area.py."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.common import latest_intent
from bot.content.aid_programmes import describe_programme, programmes_for
from bot.content.service import fact
from bot.db.session import session_scope
from bot.notices.models import NOTICE_KIND_LABELS
from bot.notices.service import asked_kinds, describe_notice, notices_for_area
from bot.places.wards import MatchStatus, get_ward, resolve_ward, ward_index
from bot.residents.area import Area, remember_area, resident_area

logger = logging.getLogger(__name__)

AID_TOPIC = "aid"
NOTICE_TOPIC = "notice"
TOPICS = {"ask_aid_programme": AID_TOPIC, "ask_local_notice": NOTICE_TOPIC}
PROVINCE_PREFIX = "province:"  # local_area holds a ward code, or this and a province code
NO_AREA = "none"  # given up after two tries
MAX_AREA_TRIES = 2
# Zalo takes 2,000 characters; the programmes described in full stop below this.
MAX_ANSWER_CHARS = 1600
FILE_REQUEST_BUTTONS = [
    {"title": "Gửi đề nghị hỗ trợ", "payload": "/request_aid"},
    {"title": "Không, cảm ơn", "payload": "/deny"},
]


def _sorry(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(
        text="Xin lỗi, hệ thống đang gặp sự cố nên chưa tra cứu được. Bạn thử lại sau ít phút "
        f"hoặc gọi {fact('hotlines.local.number')} nhé."
    )


def answer_aid(dispatcher: CollectingDispatcher, area: Area, question: str) -> None:
    """The programmes valid today for the area, short, then the offer to file a request."""
    found = programmes_for(
        province_code=area.province_code, ward_code=area.ward_code, question=question
    )
    if not found:
        dispatcher.utter_message(
            text=f"Hiện tôi chưa có thông tin về chương trình hỗ trợ nào đang áp dụng cho "
            f"{area.label}. Bạn có thể gọi {fact('hotlines.local.number')} để hỏi thêm, hoặc gửi "
            "đề nghị hỗ trợ để cán bộ phường/xã liên hệ với bạn. Bạn có muốn gửi không?",
            buttons=FILE_REQUEST_BUTTONS,
        )
        return
    parts = [f"Chương trình hỗ trợ đang áp dụng cho {area.label}:"]
    rest: list[str] = []
    for programme in found:
        described = describe_programme(programme)
        if len(parts) == 1 or sum(map(len, parts)) + len(described) <= MAX_ANSWER_CHARS:
            parts.append(described)
        else:
            rest.append(programme.name)
    if rest:
        parts.append("Còn có: " + "; ".join(rest) + ".")
    parts.append("Bạn có muốn gửi đề nghị hỗ trợ để cán bộ phường/xã liên hệ với bạn không?")
    dispatcher.utter_message(text="\n".join(parts), buttons=FILE_REQUEST_BUTTONS)


def answer_notices(dispatcher: CollectingDispatcher, area: Area, question: str) -> None:
    """The notices of the area valid now (of the kinds the question names), or a plain "none"."""
    kinds = asked_kinds(question)
    with session_scope() as session:
        found = [
            describe_notice(n) for n in notices_for_area(session=session, area=area, kinds=kinds)
        ]
    hotline = fact("hotlines.local.number")
    if found:
        shown = found[:1]
        for described in found[1:]:
            if sum(map(len, shown)) + len(described) > MAX_ANSWER_CHARS:
                break
            shown.append(described)
        more = len(found) - len(shown)
        dispatcher.utter_message(
            text=f"Thông báo đang có hiệu lực cho {area.label}:\n"
            + "\n".join(shown)
            + (f"\nCòn {more} thông báo khác." if more else "")
            + f"\nCần hỏi thêm, bạn gọi {hotline} nhé."
        )
        return
    about = ", ".join(NOTICE_KIND_LABELS[k].lower() for k in sorted(kinds)) if kinds else ""
    topic = f" về {about}" if about else ""
    dispatcher.utter_message(
        text=f"Hiện chưa có thông báo nào{topic} đang có hiệu lực cho {area.label}. Bạn có thể "
        f"gọi {hotline} để hỏi thêm."
    )


def _answer(dispatcher: CollectingDispatcher, topic: str, area: Area, question: str) -> None:
    if topic == AID_TOPIC:
        answer_aid(dispatcher, area, question)
    else:
        answer_notices(dispatcher, area, question)


class ActionAnswerLocal(Action):
    """Answers an aid-programme or local-notice question for the resident's known area, or
    sets `area_needed` so the area form asks it first."""

    def name(self) -> str:
        return "action_answer_local"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        topic = TOPICS.get(latest_intent(tracker), NOTICE_TOPIC)
        question = str(tracker.latest_message.get("text") or "")
        remember = [SlotSet("local_topic", topic), SlotSet("local_question", question[:500])]
        try:
            with session_scope() as session:
                area = resident_area(session=session, conversation_id=tracker.sender_id)
            if area is None:
                return [*remember, SlotSet("local_area", None), SlotSet("area_needed", True)]
            _answer(dispatcher, topic, area, question)
        except SQLAlchemyError as exc:
            logger.error("could not answer a local question: %s", type(exc).__name__)
            _sorry(dispatcher)
        return [*remember, SlotSet("area_needed", False)]


def area_of(value: str) -> Area | None:
    """The Area a `local_area` slot value stands for."""
    if value.startswith(PROVINCE_PREFIX):
        return Area(province_code=value.removeprefix(PROVINCE_PREFIX))
    ward = get_ward(value)
    return Area(province_code=ward.province_code, ward_code=ward.code) if ward else None


class ActionAnswerLocalAfterArea(Action):
    """Answers the question the resident asked before telling their area."""

    def name(self) -> str:
        return "action_answer_local_after_area"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        area = area_of(str(tracker.get_slot("local_area") or ""))
        done: list[EventType] = [SlotSet("local_area", None), SlotSet("local_area_tries", None)]
        if area is None:
            dispatcher.utter_message(
                text="Tôi chưa xác định được nơi bạn ở nên chưa trả lời được. Bạn gọi "
                f"{fact('hotlines.local.number')} để được hướng dẫn, hoặc nhắn lại tên "
                "phường/xã và tỉnh/thành khi cần nhé."
            )
            return done
        topic = str(tracker.get_slot("local_topic") or NOTICE_TOPIC)
        try:
            _answer(dispatcher, topic, area, str(tracker.get_slot("local_question") or ""))
        except SQLAlchemyError as exc:
            logger.error("could not answer a local question: %s", type(exc).__name__)
            _sorry(dispatcher)
        return done


class ValidateAreaForm(FormValidationAction):
    """Turns "phường Bến Thành, TP HCM" (or a province alone) into the area, and remembers it."""

    def name(self) -> str:
        return "validate_area_form"

    def _remember(self, tracker: Tracker, area: Area) -> None:
        try:
            with session_scope() as session:
                remember_area(session=session, conversation_id=tracker.sender_id, area=area)
        except SQLAlchemyError as exc:  # the answer does not depend on it
            logger.error("could not remember the area: %s", type(exc).__name__)

    def validate_local_area(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        ward = get_ward(text)
        match = resolve_ward(text) if ward is None else None
        if match is not None and match.found:
            ward = match.ward
        if ward is not None:
            self._remember(tracker, Area(ward.province_code, ward.code))
            return {"local_area": ward.code}
        if match is not None and match.status is MatchStatus.AMBIGUOUS:
            dispatcher.utter_message(
                text="Có vài nơi trùng tên. Bạn chọn giúp tôi:",
                buttons=[
                    {"title": c.label, "payload": f"{c.name}, {c.province_name}"}
                    for c in match.candidates[:8]
                ],
            )
            return {"local_area": None}
        province = ward_index().find_province(text)
        if province is not None:
            self._remember(tracker, Area(province))
            return {"local_area": PROVINCE_PREFIX + province}
        tries = int(tracker.get_slot("local_area_tries") or 0) + 1
        if tries >= MAX_AREA_TRIES:
            return {"local_area": NO_AREA, "local_area_tries": None}
        dispatcher.utter_message(
            text="Tôi chưa tìm thấy nơi này. Bạn ghi rõ tên phường/xã và tỉnh/thành giúp tôi, ví "
            'dụ "phường Bến Thành, TP Hồ Chí Minh" (hoặc chỉ tên tỉnh/thành).'
        )
        return {"local_area": None, "local_area_tries": tries}
