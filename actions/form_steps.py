"""What the forms say around the validation: the consent paragraph, the ward question, the
summary to confirm, the start of the going-home request, the ending and the cancelling."""

from __future__ import annotations

import json
import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.forms import (
    AID_FORM,
    HEALTH_FORM,
    PURPOSE,
    UPDATE_FORM,
    answer_slots,
    reset_form_slots,
)
from bot.consents.service import CONSENT_TEXTS, refusal_reply
from bot.content.service import fact
from bot.db.session import session_scope
from bot.requests.codes import format_ref
from bot.requests.models import RequestStatus
from bot.requests.service import STATUS_LABELS, find_open_aid_request
from bot.requests.validation import (
    NEED_LABELS,
    SYMPTOM_LABELS,
    VULNERABLE_LABELS,
    format_phone,
    read_aid_answers,
)

logger = logging.getLogger(__name__)


def answer_button(title: str, intent: str, question: str) -> dict[str, str]:
    """A yes/no button that says which question it answers, so a press of it after the form
    has moved on is recognised as stale (actions/forms.py) instead of answering another."""
    entities = json.dumps({"answer_to": question}, separators=(",", ":"))
    return {"title": title, "payload": f"/{intent}{entities}"}


# --- asking -------------------------------------------------------------------------------


class ActionAskConsent(Action):
    """Shows what will be collected, why, who sees it and for how long; asks for agreement."""

    def name(self) -> str:
        return "action_ask_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        form = tracker.active_loop.get("name") or AID_FORM
        dispatcher.utter_message(
            text=CONSENT_TEXTS[PURPOSE.get(form, "aid_request")],
            buttons=[
                answer_button("Đồng ý", "affirm", "consent"),
                answer_button("Không đồng ý", "deny", "consent"),
            ],
        )
        return []


class ActionAskWard(Action):
    """Asks where the resident lives, unless the last answer was ambiguous and the validator
    has just asked which province (a second question would only confuse)."""

    def name(self) -> str:
        return "action_ask_ward"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if not tracker.get_slot("ward_query"):
            dispatcher.utter_message(
                text="Bạn đang ở phường/xã nào, thuộc tỉnh/thành nào? (tên cũ trước 2025 cũng được)"
            )
        return []


def _ask_confirmation(
    dispatcher: CollectingDispatcher, tracker: Tracker, summary: list[str], fields: list[str]
) -> list[EventType]:
    failed = tracker.get_slot("save_failed")
    if failed == "outage":
        dispatcher.utter_message(
            text="Bạn muốn gửi lại không?",
            buttons=[
                answer_button("Gửi lại", "affirm", "confirmed"),
                {"title": "Hủy", "payload": "/cancel"},
            ],
        )
        return [SlotSet("save_failed", None)]
    denied = tracker.get_intent_of_latest_message() == "deny" and (
        tracker.get_slot("requested_slot") == "confirmed"
    )
    if denied or failed == "invalid":
        labels = dict(CORRECTION_BUTTONS)
        dispatcher.utter_message(
            text='Bạn muốn sửa thông tin nào? Chọn bên dưới, hoặc nhắn "hủy" để hủy.',
            buttons=[{"title": labels[f], "payload": f"sửa {labels[f].lower()}"} for f in fields]
            + [answer_button("Thông tin đã đúng, gửi", "affirm", "confirmed")],
        )
        return [SlotSet("save_failed", None)] if failed else []
    dispatcher.utter_message(
        text="Bạn kiểm tra lại giúp tôi:\n" + "\n".join(summary) + "\nThông tin trên đã đúng chưa?",
        buttons=[
            answer_button("Đúng, gửi đi", "affirm", "confirmed"),
            answer_button("Chưa, cần sửa", "deny", "confirmed"),
        ],
    )
    return []


CORRECTION_BUTTONS = [
    ("full_name", "Họ tên"),
    ("birth_year", "Năm sinh"),
    ("phone", "Số điện thoại"),
    ("ward", "Phường/xã"),
    ("address_detail", "Địa chỉ"),
    ("need_types", "Nhu cầu"),
    ("household_size", "Số người"),
    ("symptoms", "Triệu chứng"),
]


def _labels(values: list[str] | None, table: dict[str, str]) -> str:
    return ", ".join(table.get(v, v) for v in values or []) or "không"


class ActionAskAidConfirmed(Action):
    def name(self) -> str:
        return "action_ask_aid_request_form_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        slot = tracker.get_slot
        summary = [
            f"• Nhu cầu: {_labels(slot('need_types'), NEED_LABELS)}",
            f"• Hoàn cảnh: {slot('description')}",
            f"• Số người trong hộ: {slot('household_size')}",
            f"• Thành viên cần lưu ý: {_labels(slot('vulnerable'), VULNERABLE_LABELS)}",
            f"• Địa chỉ: {slot('address_detail')}, {slot('ward_label')}",
            f"• Điện thoại: {format_phone(slot('phone') or '')}",
        ]
        fields = ["need_types", "household_size", "ward", "address_detail", "phone"]
        return _ask_confirmation(dispatcher, tracker, summary, fields)


class ActionAskHealthConfirmed(Action):
    def name(self) -> str:
        return "action_ask_health_declaration_form_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        slot = tracker.get_slot
        doses = slot("vaccine_doses")
        summary = [
            f"• Họ tên: {slot('full_name')}, sinh năm {slot('birth_year')}",
            f"• Điện thoại: {format_phone(slot('phone') or '')}",
            f"• Nơi ở: {slot('ward_label')}",
            f"• Triệu chứng: {_labels(slot('symptoms'), SYMPTOM_LABELS)}",
            f"• Tiếp xúc ca bệnh: {'có' if slot('case_contact') else 'không'}",
            f"• Đi lại gần đây: {slot('recent_travel')}",
            f"• Số mũi vắc xin: {doses}",
        ]
        fields = ["full_name", "birth_year", "phone", "ward", "symptoms"]
        return _ask_confirmation(dispatcher, tracker, summary, fields)


# --- starting and ending ------------------------------------------------------------------


class ActionStartAidRequest(Action):
    """Before the aid form: a resident with an open request is told so and asked only what
    changed; anyone else starts the form with what their first message already said
    ("nhà 4 người hết gạo 3 ngày, ở phường Bến Thành"), so it is not asked again."""

    def name(self) -> str:
        return "action_start_aid_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            with session_scope() as session:
                open_request = find_open_aid_request(
                    session=session, conversation_id=tracker.sender_id
                )
                found = (
                    (open_request.ref_code, STATUS_LABELS[RequestStatus(open_request.status)])
                    if open_request is not None
                    else None
                )
        except SQLAlchemyError as exc:
            # Not knowing of an open request only means the form is filled in again.
            logger.error("could not look for an open aid request: %s", type(exc).__name__)
            found = None
        text = tracker.latest_message.get("text") or ""
        going_home = tracker.get_intent_of_latest_message() == "ask_return_home"
        if found is not None:
            ref, status = found
            dispatcher.utter_message(
                text=f"Tôi thấy bạn đang có đề nghị hỗ trợ mã {format_ref(ref)} ({status}), "
                "nên bạn không cần khai lại từ đầu."
            )
            events: list[EventType] = [
                SlotSet("has_open_request", True),
                SlotSet("update_ref", ref),
            ]
            if going_home or not read_aid_answers(text).is_empty():
                # The first message already says what is new: it is the update.
                events.append(SlotSet("update_details", text))
            return events
        prefilled = answer_slots(read_aid_answers(text), {})
        if going_home:
            dispatcher.utter_message(
                text="Tôi sẽ ghi đề nghị hỗ trợ về quê của bạn và chuyển tới tổ hỗ trợ nơi bạn "
                "đang ở."
            )
            prefilled["need_types"] = list(
                dict.fromkeys(["go_home", *prefilled.get("need_types", [])])
            )
        return [SlotSet("has_open_request", False)] + [
            SlotSet(slot, value) for slot, value in prefilled.items()
        ]


class ActionFinishForm(Action):
    """After a form: the reference code and what happens next, or a polite goodbye on refusal."""

    def name(self) -> str:
        return "action_finish_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        ref = tracker.get_slot("saved_ref")
        form = _last_form(tracker)
        if form == UPDATE_FORM:
            _say_update_result(dispatcher, tracker)
            return reset_form_slots()
        if tracker.get_slot("save_failed") == "outage" and not ref:
            # The form ended after the last retry; the validator has said what to do.
            return reset_form_slots()
        if tracker.get_slot("consent") is False:
            dispatcher.utter_message(text=refusal_reply())
            return reset_form_slots()
        if not ref:
            dispatcher.utter_message(
                text="Dạ, thông tin trong biểu mẫu chưa được lưu. Khi cần, bạn có thể gọi "
                f"{fact('hotlines.local.number')} hoặc nhắn lại cho tôi."
            )
            return reset_form_slots()
        code = format_ref(ref)
        if tracker.get_slot("update_ref") == ref:
            # The same need while a request was open: that request was updated, not a new one.
            dispatcher.utter_message(
                text=f"Bạn đang có đề nghị hỗ trợ mở với mã {code}; tôi đã cập nhật đề nghị đó "
                f'bằng thông tin mới và báo cho tổ hỗ trợ. Bạn có thể nhắn "kiểm tra {code}" để '
                "xem tình trạng."
            )
        elif form == HEALTH_FORM:
            dispatcher.utter_message(
                text=f"Đã lưu tờ khai y tế của bạn. Mã tờ khai: {code}. Nếu có triệu chứng nặng "
                f"hơn, hãy gọi {fact('hotlines.emergency.number')}."
            )
        else:
            team = tracker.get_slot("saved_team") or "Tổ hỗ trợ nơi bạn ở"
            dispatcher.utter_message(
                text=f"Đã lưu đề nghị hỗ trợ của bạn. Mã yêu cầu: {code}. {team} sẽ liên hệ qua "
                f"số điện thoại bạn đã cho, thường {fact('support.typical_response_time')}. "
                f'Bạn có thể nhắn "kiểm tra {code}" để xem tình trạng.'
            )
        return reset_form_slots()


def _say_update_result(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    ref = tracker.get_slot("update_ref")
    if not ref:
        return  # the request was closed meanwhile: the validator has said so
    code = format_ref(ref)
    summary = tracker.get_slot("update_summary")
    if summary:
        dispatcher.utter_message(
            text=f"Đã cập nhật đề nghị hỗ trợ {code} ({summary}) và báo cho tổ hỗ trợ. Bạn có "
            f'thể nhắn "kiểm tra {code}" để xem tình trạng.'
        )
    elif tracker.get_slot("save_failed") == "outage":
        dispatcher.utter_message(
            text=f"Xin lỗi, hệ thống đang gặp sự cố nên đề nghị {code} CHƯA được cập nhật. Bạn "
            f"nhắn lại sau ít phút, hoặc gọi {fact('hotlines.local.number')} nhé."
        )
    else:
        dispatcher.utter_message(
            text=f"Dạ, đề nghị {code} của bạn giữ nguyên; tổ hỗ trợ sẽ liên hệ với bạn."
        )


def _last_form(tracker: Tracker) -> str | None:
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name"):
            return str(event["name"])
    return None


class ActionCancelForm(Action):
    """Stops the form the resident is in; nothing of it is kept."""

    def name(self) -> str:
        return "action_cancel_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(
            text="Dạ, tôi đã hủy, thông tin bạn vừa nhập không được lưu. Bạn cần gì cứ nhắn nhé."
        )
        return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_form_slots()]
