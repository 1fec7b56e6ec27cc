"""What the forms say around the validation: the consent paragraph, the ward question, the
summary to confirm, the start of the going-home request, the ending and the cancelling."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import AID_FORM, HEALTH_FORM, PURPOSE, reset_form_slots
from bot.consents.service import CONSENT_TEXTS, refusal_reply
from bot.content.service import fact
from bot.requests.codes import format_ref
from bot.requests.validation import NEED_LABELS, SYMPTOM_LABELS, VULNERABLE_LABELS

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
                {"title": "Đồng ý", "payload": "/affirm"},
                {"title": "Không đồng ý", "payload": "/deny"},
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
    if tracker.get_slot("save_failed"):
        dispatcher.utter_message(
            text="Bạn muốn gửi lại không?",
            buttons=[
                {"title": "Gửi lại", "payload": "/affirm"},
                {"title": "Hủy", "payload": "/cancel"},
            ],
        )
        return [SlotSet("save_failed", None)]
    if tracker.get_intent_of_latest_message() == "deny" and tracker.get_slot("requested_slot") == (
        "confirmed"
    ):
        labels = dict(CORRECTION_BUTTONS)
        dispatcher.utter_message(
            text='Bạn muốn sửa thông tin nào? Chọn bên dưới, hoặc nhắn "hủy" để hủy.',
            buttons=[{"title": labels[f], "payload": f"sửa {labels[f].lower()}"} for f in fields]
            + [{"title": "Thông tin đã đúng, gửi", "payload": "/affirm"}],
        )
        return []
    dispatcher.utter_message(
        text="Bạn kiểm tra lại giúp tôi:\n" + "\n".join(summary) + "\nThông tin trên đã đúng chưa?",
        buttons=[
            {"title": "Đúng, gửi đi", "payload": "/affirm"},
            {"title": "Chưa, cần sửa", "payload": "/deny"},
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
            f"• Điện thoại: {slot('phone')}",
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
            f"• Điện thoại: {slot('phone')}",
            f"• Nơi ở: {slot('ward_label')}",
            f"• Triệu chứng: {_labels(slot('symptoms'), SYMPTOM_LABELS)}",
            f"• Tiếp xúc ca bệnh: {'có' if slot('case_contact') else 'không'}",
            f"• Đi lại gần đây: {slot('recent_travel')}",
            f"• Số mũi vắc xin: {doses}",
        ]
        fields = ["full_name", "birth_year", "phone", "ward", "symptoms"]
        return _ask_confirmation(dispatcher, tracker, summary, fields)


# --- starting and ending ------------------------------------------------------------------


class ActionPrefillGoHome(Action):
    """A stranded worker asking how to go home gets the aid form with the need filled in."""

    def name(self) -> str:
        return "action_prefill_go_home"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(
            text="Tôi sẽ ghi đề nghị hỗ trợ về quê của bạn và chuyển tới tổ hỗ trợ nơi bạn đang ở."
        )
        return [SlotSet("need_types", ["go_home"])]


class ActionFinishForm(Action):
    """After a form: the reference code and what happens next, or a polite goodbye on refusal."""

    def name(self) -> str:
        return "action_finish_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        ref = tracker.get_slot("saved_ref")
        form = _last_form(tracker)
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
        if form == HEALTH_FORM:
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
