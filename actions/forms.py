"""The health declaration and hardship request forms: consent, validation, summary, saving.

Rasa asks the slots in the order of `domain/forms.yml`; these validators turn each answer into
a clean value (or re-ask it), handle "sửa …" corrections at any step, and save the record when
the resident confirms the summary, so "đã lưu" is only said once the row is committed.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import (
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from bot.consents.service import record_consent
from bot.content.service import fact
from bot.db.session import session_scope
from bot.places.wards import MatchStatus, get_ward, resolve_ward
from bot.requests.codes import format_ref
from bot.requests.service import (
    AidRequestIn,
    AidRequestUpdate,
    HealthDeclarationIn,
    InvalidRequest,
    submit_aid_request,
    submit_health_declaration,
    update_open_aid_request,
)
from bot.requests.validation import (
    MAX_HOUSEHOLD,
    NEED_LABELS,
    SYMPTOM_LABELS,
    VULNERABLE_LABELS,
    AidAnswers,
    clean_free_text,
    clean_name,
    is_none_answer,
    normalize_phone,
    parse_birth_year,
    parse_household_size,
    parse_needs,
    parse_symptoms,
    parse_vaccine_doses,
    parse_vulnerable,
    read_aid_answers,
)
from bot.requests.words import has_any, phrase_at, words

logger = logging.getLogger(__name__)

AID_FORM = "aid_request_form"
HEALTH_FORM = "health_declaration_form"
UPDATE_FORM = "aid_update_form"
PURPOSE = {AID_FORM: "aid_request", HEALTH_FORM: "health_declaration"}
# A save that fails because the database cannot be reached is offered again this many times;
# then the form ends, saying plainly that nothing was saved and whom to call.
MAX_SAVE_ATTEMPTS = 3
# Errors of the database being unreachable or overloaded: worth trying again later. Any other
# error (a constraint, a value the column refuses) fails the same way every time.
OUTAGE_ERRORS = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)
# What to say when the service refuses a field, and the slot to ask again.
INVALID_FIELDS = {
    "needs": ("need_types", "Tôi chưa rõ nhu cầu hỗ trợ của bạn."),
    "household_size": ("household_size", f"Số người trong hộ cần từ 1 đến {MAX_HOUSEHOLD}."),
    "vulnerable": ("vulnerable", "Tôi chưa rõ thành viên cần lưu ý trong nhà bạn."),
    "ward_code": ("ward", "Tôi chưa xác định được phường/xã của bạn."),
    "address_detail": ("address_detail", "Địa chỉ chi tiết còn trống."),
    "phone": ("phone", "Số điện thoại chưa đúng."),
    "consent": ("consent", "Tôi chưa có sự đồng ý của bạn cho việc lưu thông tin này."),
}
# Every slot either form fills; reset when a form ends so nothing lingers in the tracker.
FORM_SLOTS = [
    "consent",
    "consent_id",
    "need_types",
    "description",
    "household_size",
    "vulnerable",
    "ward",
    "ward_label",
    "ward_query",
    "address_detail",
    "phone",
    "full_name",
    "birth_year",
    "symptoms",
    "case_contact",
    "recent_travel",
    "vaccine_doses",
    "confirmed",
    "saved_ref",
    "saved_team",
    "save_failed",
    "save_attempts",
    "has_open_request",
    "update_ref",
    "update_details",
    "update_summary",
]
# What a resident may ask to correct, by keywords matched as typed (bot/requests/words.py: a
# plain "sua" is "sửa", but "sữa" or "đói" are not "sửa", "đổi"), in the order they are tried.
CORRECTABLE = [
    ("phone", ("số điện thoại", "điện thoại", "phone")),
    ("birth_year", ("năm sinh", "tuổi")),
    ("full_name", ("họ tên", "tên")),
    ("address_detail", ("số nhà", "đường", "địa chỉ")),
    ("ward", ("phường", "xã", "nơi ở", "tỉnh", "thành phố", "khu vực")),
    ("need_types", ("nhu cầu", "loại hỗ trợ", "cần gì")),
    ("description", ("mô tả", "hoàn cảnh")),
    ("household_size", ("số người", "số thành viên", "nhân khẩu")),
    ("vulnerable", ("thành viên", "người già", "trẻ em", "đặc biệt")),
    ("symptoms", ("triệu chứng",)),
    ("case_contact", ("tiếp xúc",)),
    ("recent_travel", ("đi lại", "di chuyển", "lịch trình")),
    ("vaccine_doses", ("mũi tiêm", "vắc xin", "tiêm")),
]
_CORRECTION_VERBS = ("sửa", "đổi", "nhập lại", "sai", "chỉnh")
_CORRECTION_OPENERS = (
    "xin cho tôi",
    "xin cho em",
    "xin cho mình",
    "cho tôi",
    "cho em",
    "cho mình",
    "xin",
)


def reset_form_slots() -> list[EventType]:
    return [SlotSet(slot, None) for slot in FORM_SLOTS]


def answer_slots(
    answers: AidAnswers, slots: dict[str, Any], *, skip: str | None = None
) -> dict[str, Any]:
    """The aid-form slots one message fills besides the one asked (`skip`), leaving alone
    those already answered: "nhà em hết gạo, con nhỏ đang ốm" fills the needs, the members
    to look after and the situation at once."""
    found: dict[str, Any] = {
        "need_types": answers.needs or None,
        "description": answers.description,
        "household_size": answers.household_size,
        "vulnerable": answers.vulnerable or None,
        "phone": answers.phone,
    }
    if answers.place and skip != "ward":
        match = resolve_ward(answers.place)
        if match.found and match.ward is not None:
            found.update(ward=match.ward.code, ward_label=match.ward.label)
    return {
        slot: value
        for slot, value in found.items()
        if value is not None and slot != skip and slots.get(slot) is None
    }


def _said_too(text: str, tracker: Tracker, asked: str) -> dict[str, Any]:
    return answer_slots(read_aid_answers(text), tracker.slots, skip=asked)


def _button_payloads(domain: DomainDict, form_slots: list[str]) -> dict[str, set[str]]:
    responses = domain.get("responses") or {}
    payloads: dict[str, set[str]] = {}
    for slot in form_slots:
        for variant in responses.get(f"utter_ask_{slot}") or []:
            for button in variant.get("buttons") or []:
                payloads.setdefault(slot, set()).add(str(button.get("payload", "")).strip())
    return payloads


def is_stale_button(tracker: Tracker, domain: DomainDict, form_slots: list[str]) -> bool:
    """True when the message is a button of another question than the one being asked: the
    web chat keeps earlier buttons clickable. Buttons that answer yes/no say which question
    they belong to (`/affirm{"answer_to": "consent"}`); the others are known by their text."""
    asked = tracker.get_slot("requested_slot")
    if not asked:
        return False
    answer_to = _latest_entities(tracker, "answer_to")
    if answer_to:
        return answer_to[0] != asked
    text = (tracker.latest_message.get("text") or "").strip()
    if not text or is_none_answer(text):  # "không có" answers many questions
        return False
    owners = {slot for slot, texts in _button_payloads(domain, form_slots).items() if text in texts}
    return bool(owners) and asked not in owners


def slot_to_correct(tracker: Tracker, form_slots: list[str]) -> str | None:
    """The slot a "sửa số điện thoại" message asks to change, if the message is one."""
    tokens = words(tracker.latest_message.get("text") or "")
    opener = next(
        (len(o.split()) for o in _CORRECTION_OPENERS if phrase_at(tokens, 0, o.split())), 0
    )
    is_correction = tracker.get_intent_of_latest_message() == "correct_slot" or any(
        phrase_at(tokens, opener, verb.split()) for verb in _CORRECTION_VERBS
    )
    if not is_correction:
        return None
    for slot, keywords in CORRECTABLE:
        if slot in form_slots and has_any(tokens, keywords):
            return slot
    return None


def _latest_entities(tracker: Tracker, name: str) -> list[str]:
    return [
        str(e.get("value"))
        for e in tracker.latest_message.get("entities") or []
        if e.get("entity") == name and e.get("value")
    ]


def _text(value: Any, tracker: Tracker) -> str:
    if isinstance(value, str):
        return value
    return tracker.latest_message.get("text") or ""


def save_attempts_exhausted(tracker: Tracker) -> bool:
    """True once a save has failed for an outage as many times as it may be tried."""
    attempts = tracker.slots.get("save_attempts") or 0
    return tracker.slots.get("save_failed") == "outage" and attempts >= MAX_SAVE_ATTEMPTS


def invalid_answer(field: str, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """Says which answer the service refused and clears it, so the form asks it again."""
    slot, problem = INVALID_FIELDS.get(field, ("confirmed", "Một số thông tin chưa hợp lệ."))
    dispatcher.utter_message(text=f"{problem} Thông tin CHƯA được lưu; bạn nhập lại giúp tôi.")
    cleared: dict[str, Any] = {slot: None, "confirmed": None, "save_failed": None}
    if slot == "ward":
        cleared.update(ward_label=None, ward_query=None)
    if slot == "consent":
        cleared.update(consent_id=None)
    return cleared


def outage(tracker: Tracker, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """Counts a save that failed because the database is unreachable: offers to send again
    a bounded number of times, then ends saying nothing was saved."""
    attempts = int(tracker.get_slot("save_attempts") or 0) + 1
    if attempts >= MAX_SAVE_ATTEMPTS:
        dispatcher.utter_message(
            text="Xin lỗi, hệ thống vẫn đang gặp sự cố nên thông tin của bạn CHƯA được lưu. "
            f"Bạn vui lòng nhắn lại sau ít giờ, hoặc gọi {fact('hotlines.local.number')} để "
            "được ghi nhận qua điện thoại."
        )
    else:
        dispatcher.utter_message(
            text="Xin lỗi, hệ thống đang gặp sự cố nên thông tin của bạn CHƯA được lưu. "
            'Thông tin bạn nhập vẫn còn; bạn bấm "Gửi lại" sau ít phút để thử lại nhé.'
        )
    return {"confirmed": None, "save_failed": "outage", "save_attempts": attempts}


class _ResidentForm(FormValidationAction):
    """What both forms share: consent, phone, ward, correction, confirmation."""

    form = ""

    def name(self) -> str:
        return f"validate_{self.form}"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        # A refusal ends the form at once: nothing else is asked.
        if tracker.slots.get("consent") is False:
            return ["consent"]
        # After the last retry the database allows, the form ends without the confirmation.
        if save_attempts_exhausted(tracker):
            return [slot for slot in domain_slots if slot != "confirmed"]
        return domain_slots

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if is_stale_button(tracker, domain, self.domain_slots(domain)):
            # Undo what the button was taken for; the form asks its current question again.
            dispatcher.utter_message(
                text="Dạ, nút bạn vừa bấm thuộc câu hỏi trước, tôi đã ghi nhận câu trả lời đó "
                "rồi. Bạn trả lời giúp tôi câu hỏi này nhé."
            )
            return [SlotSet(name, None) for name in tracker.slots_to_validate()]
        slot = slot_to_correct(tracker, self.domain_slots(domain))
        if slot is not None and tracker.get_slot("consent") is True:
            # Undo whatever this message was taken for, clear the slot to correct and the
            # confirmation: the form asks that slot again, then shows the summary again.
            events: list[EventType] = [
                SlotSet(name, None) for name in tracker.slots_to_validate() if name != slot
            ]
            cleared = {slot: None, "confirmed": None}
            if slot == "ward":
                cleared.update(ward_label=None, ward_query=None)
            events += [SlotSet(name, value) for name, value in cleared.items()]
            dispatcher.utter_message(text="Dạ, bạn nhập lại giúp tôi nhé.")
            return events
        return await super().run(dispatcher, tracker, domain)

    # --- shared slots ------------------------------------------------------------------------

    def validate_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        granted = bool(value)
        try:
            with session_scope() as session:
                consent = record_consent(
                    session=session,
                    conversation_id=tracker.sender_id,
                    purpose=PURPOSE[self.form],
                    granted=granted,
                )
                consent_id = consent.id if consent else None  # a refusal keeps nothing
        except (SQLAlchemyError, ValueError) as exc:
            # The class only: a database error's text can carry the values being written.
            logger.error("could not record a consent answer: %s", type(exc).__name__)
            dispatcher.utter_message(
                text="Xin lỗi, hệ thống đang gặp sự cố nên chưa ghi nhận được câu trả lời của "
                "bạn. Bạn vui lòng chọn lại."
            )
            return {"consent": None}
        return {"consent": granted, "consent_id": consent_id}

    def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        candidates = _latest_entities(tracker, "phone_number") + [_text(value, tracker)]
        for candidate in candidates:
            phone = normalize_phone(candidate)
            if phone:
                return {"phone": phone}
        dispatcher.utter_message(
            text="Số điện thoại chưa đúng. Bạn nhập số di động 10 chữ số, bắt đầu bằng 03, 05, "
            "07, 08 hoặc 09 (hoặc +84), ví dụ 0912 345 678."
        )
        return {"phone": None}

    def validate_ward(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _text(value, tracker)
        if get_ward(text) is not None:  # already a code (prefilled, or a button)
            ward = get_ward(text)
            assert ward is not None
            return {"ward": ward.code, "ward_label": ward.label, "ward_query": None}
        previous = tracker.get_slot("ward_query")
        match = resolve_ward(previous, province_hint=text) if previous else None
        if match is None or not match.found:
            match = resolve_ward(text)
        if match.found and match.ward is not None:
            if match.old_name:
                dispatcher.utter_message(
                    text=f"{match.old_name} (tên cũ) nay thuộc {match.ward.label}."
                )
            return {"ward": match.ward.code, "ward_label": match.ward.label, "ward_query": None}
        if match.status is MatchStatus.AMBIGUOUS:
            provinces = list(dict.fromkeys(c.province_short for c in match.candidates))
            names = list(dict.fromkeys(c.name for c in match.candidates))
            if len(provinces) > 1:
                dispatcher.utter_message(
                    text=f"Có {len(match.candidates)} nơi tên {names[0]}. Bạn ở tỉnh/thành nào?",
                    buttons=[
                        {"title": c.province_short, "payload": f"{c.name}, {c.province_name}"}
                        for c in match.candidates[:8]
                    ],
                )
            else:
                dispatcher.utter_message(
                    text="Có vài phường/xã phù hợp. Bạn chọn giúp tôi:",
                    buttons=[
                        {"title": c.name, "payload": f"{c.name}, {c.province_name}"}
                        for c in match.candidates[:8]
                    ],
                )
            return {"ward": None, "ward_query": text}
        if match.status is MatchStatus.DISTRICT_ONLY:
            dispatcher.utter_message(
                text=f"Từ 01/07/2025 không còn cấp quận/huyện ({match.district_name}). Bạn cho "
                "tôi biết tên phường/xã (cũ hoặc mới) nhé."
            )
            return {"ward": None, "ward_query": None}
        dispatcher.utter_message(
            text="Tôi chưa tìm thấy phường/xã này. Bạn ghi rõ tên phường/xã và tỉnh/thành, ví dụ "
            '"phường Bến Thành, TP. Hồ Chí Minh".'
        )
        return {"ward": None, "ward_query": None}

    def validate_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is not True:
            # "Không": the ask action offers what to correct.
            return {"confirmed": None, "save_failed": None}
        try:
            with session_scope() as session:
                ref, team, created = self.save(session, tracker)
        except InvalidRequest as exc:
            return invalid_answer(exc.field, dispatcher)
        except OUTAGE_ERRORS as exc:
            # The class only: a database error's text can carry the values being written.
            logger.error("could not save a confirmed %s: %s", self.form, type(exc).__name__)
            return outage(tracker, dispatcher)
        except (SQLAlchemyError, ValueError) as exc:
            # A constraint or a value the database refuses: trying again cannot help.
            logger.error("refused to save a confirmed %s: %s", self.form, type(exc).__name__)
            dispatcher.utter_message(
                text="Một số thông tin chưa hợp lệ nên CHƯA được lưu. Bạn chọn thông tin cần "
                "sửa giúp tôi nhé."
            )
            return {"confirmed": None, "save_failed": "invalid"}
        return {
            "confirmed": True,
            "saved_ref": ref,
            "saved_team": team,
            "save_failed": None,
            "save_attempts": None,
        } | ({} if created else {"update_ref": ref})

    def save(self, session: Any, tracker: Tracker) -> tuple[str, str | None, bool]:
        """Saves the confirmed record; returns its code, the team it went to, and False when
        an open request was updated instead of a new one created."""
        raise NotImplementedError


class ValidateAidRequestForm(_ResidentForm):
    form = AID_FORM

    def validate_need_types(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        entity_values = list(value) if isinstance(value, list) else []
        entity_values += _latest_entities(tracker, "need_type")
        text = value if isinstance(value, str) else ""
        if not text and tracker.get_slot("requested_slot") == "need_types":
            text = tracker.latest_message.get("text") or ""
        needs = parse_needs(text, entity_values)
        if needs:
            return {"need_types": needs} | _said_too(text, tracker, "need_types")
        dispatcher.utter_message(
            text="Tôi chưa rõ bạn cần hỗ trợ gì. Bạn chọn một hoặc vài mục: lương thực, nước "
            "uống, thuốc men, chăm sóc y tế, tiền, chỗ ở, về quê hoặc khác."
        )
        return {"need_types": None}

    def validate_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = clean_free_text(_text(value, tracker), max_chars=1000)
        if text and len(text) >= 3 and not is_none_answer(text):
            return {"description": text} | _said_too(text, tracker, "description")
        dispatcher.utter_message(text="Bạn kể ngắn gọn hoàn cảnh giúp tôi (một hai câu là đủ).")
        return {"description": None}

    def validate_household_size(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _text(value, tracker)
        size = value if isinstance(value, int) else parse_household_size(text)
        if size is not None and 1 <= size <= MAX_HOUSEHOLD:
            if isinstance(value, int):
                return {"household_size": size}
            return {"household_size": size} | _said_too(text, tracker, "household_size")
        dispatcher.utter_message(
            text=f"Bạn nhập số người trong hộ bằng một con số từ 1 đến {MAX_HOUSEHOLD}."
        )
        return {"household_size": None}

    def validate_vulnerable(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if isinstance(value, list):
            return {"vulnerable": [v for v in value if v in VULNERABLE_LABELS]}
        text = _text(value, tracker)
        found = parse_vulnerable(text)
        if found is not None:
            return {"vulnerable": found} | _said_too(text, tracker, "vulnerable")
        dispatcher.utter_message(
            text="Bạn cho biết trong nhà có người cao tuổi, trẻ dưới 6 tuổi, người mang thai, "
            'khuyết tật, có bệnh nền hay đang nhiễm bệnh không? Nếu không có, nhắn "không".'
        )
        return {"vulnerable": None}

    def validate_address_detail(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = clean_free_text(_text(value, tracker))
        if text and len(text) >= 3:
            return {"address_detail": text}
        dispatcher.utter_message(text="Bạn ghi số nhà, tên đường, hẻm/ngõ hoặc tổ/ấp giúp tôi.")
        return {"address_detail": None}

    def save(self, session: Any, tracker: Tracker) -> tuple[str, str | None, bool]:
        saved = submit_aid_request(
            session=session,
            conversation_id=tracker.sender_id,
            consent_id=tracker.get_slot("consent_id"),
            data=AidRequestIn(
                needs=list(tracker.get_slot("need_types") or []),
                description=tracker.get_slot("description") or "",
                household_size=int(tracker.get_slot("household_size")),
                vulnerable=list(tracker.get_slot("vulnerable") or []),
                ward_code=tracker.get_slot("ward"),
                address_detail=tracker.get_slot("address_detail") or "",
                phone=tracker.get_slot("phone"),
            ),
        )
        team = saved.request.team
        return saved.request.ref_code, team.name if team else None, saved.created


class ValidateHealthDeclarationForm(_ResidentForm):
    form = HEALTH_FORM

    def validate_full_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        name = clean_name(_text(value, tracker))
        if name:
            return {"full_name": name}
        dispatcher.utter_message(text="Bạn nhập họ và tên (chỉ chữ, không có số) giúp tôi.")
        return {"full_name": None}

    def validate_birth_year(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        year = value if isinstance(value, int) else parse_birth_year(_text(value, tracker))
        if year is not None:
            return {"birth_year": year}
        dispatcher.utter_message(text="Năm sinh chưa đúng. Bạn nhập 4 chữ số, ví dụ 1985.")
        return {"birth_year": None}

    def validate_symptoms(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if isinstance(value, list):
            return {"symptoms": [s for s in value if s in SYMPTOM_LABELS]}
        found = parse_symptoms(_text(value, tracker))
        if found is None:
            dispatcher.utter_message(
                text="Bạn có sốt, ho, đau họng, khó thở, mất vị giác, mệt mỏi… không? Nếu không "
                'có triệu chứng nào, nhắn "không".'
            )
            return {"symptoms": None}
        if "breathing" in found:
            dispatcher.utter_message(
                text=f"Nếu khó thở nặng, hãy gọi ngay {fact('hotlines.emergency.number')}."
            )
        return {"symptoms": found}

    def validate_case_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"case_contact": bool(value)}

    def validate_recent_travel(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _text(value, tracker)
        if is_none_answer(text):
            return {"recent_travel": "không"}
        cleaned = clean_free_text(text)
        if cleaned:
            return {"recent_travel": cleaned}
        dispatcher.utter_message(text='Bạn đã đi đâu trong 14 ngày qua? Nếu không, nhắn "không".')
        return {"recent_travel": None}

    def validate_vaccine_doses(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        doses = value if isinstance(value, int) else parse_vaccine_doses(_text(value, tracker))
        if doses is not None:
            return {"vaccine_doses": doses}
        dispatcher.utter_message(text="Bạn nhập số mũi vắc xin đã tiêm (0 đến 6).")
        return {"vaccine_doses": None}

    def save(self, session: Any, tracker: Tracker) -> tuple[str, str | None, bool]:
        travel = tracker.get_slot("recent_travel")
        declaration = submit_health_declaration(
            session=session,
            conversation_id=tracker.sender_id,
            consent_id=tracker.get_slot("consent_id"),
            data=HealthDeclarationIn(
                full_name=tracker.get_slot("full_name"),
                birth_year=int(tracker.get_slot("birth_year")),
                phone=tracker.get_slot("phone"),
                ward_code=tracker.get_slot("ward"),
                symptoms=list(tracker.get_slot("symptoms") or []),
                case_contact=bool(tracker.get_slot("case_contact")),
                recent_travel=None if travel == "không" else travel,
                vaccine_doses=int(tracker.get_slot("vaccine_doses")),
            ),
        )
        return declaration.ref_code, None, True


class ValidateAidUpdateForm(FormValidationAction):
    """A resident with an open request says what has changed; that alone is saved, as an
    update of the open request (no consent again, no question answered before)."""

    def name(self) -> str:
        return f"validate_{UPDATE_FORM}"

    def validate_update_details(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = clean_free_text(_text(value, tracker), max_chars=1000) or ""
        ref = tracker.get_slot("update_ref") or ""
        if is_none_answer(text):
            return {"update_details": text, "update_summary": None}
        # A yes/no button of an earlier question (its payload, "/affirm{…}") says nothing new.
        if len(text) < 3 or text.startswith("/") or _latest_entities(tracker, "answer_to"):
            dispatcher.utter_message(
                text="Bạn kể giúp tôi điều gì đã thay đổi (nhu cầu, số người, người ốm, số "
                'điện thoại…), hoặc nhắn "không" nếu không có gì mới.'
            )
            return {"update_details": None}
        answers = read_aid_answers(text)
        changes = AidRequestUpdate(
            needs=answers.needs or None,
            description=text,
            household_size=answers.household_size,
            vulnerable=answers.vulnerable or None,
            phone=answers.phone,
        )
        try:
            with session_scope() as session:
                update_open_aid_request(
                    session=session,
                    conversation_id=tracker.sender_id,
                    ref_code=ref,
                    changes=changes,
                )
        except InvalidRequest as exc:
            _, problem = INVALID_FIELDS.get(exc.field, ("", "Tôi chưa hiểu điều đã thay đổi."))
            dispatcher.utter_message(text=f"{problem} Bạn nhắn lại điều đã thay đổi giúp tôi.")
            return {"update_details": None}
        except LookupError:
            dispatcher.utter_message(
                text=f"Đề nghị {format_ref(ref)} vừa được đóng nên không cập nhật được. Bạn "
                'nhắn "cần hỗ trợ" để gửi đề nghị mới nhé.'
            )
            return {"update_details": text, "update_summary": None, "update_ref": None}
        except (SQLAlchemyError, ValueError) as exc:
            logger.error("could not update an open aid request: %s", type(exc).__name__)
            return {"update_details": text, "update_summary": None, "save_failed": "outage"}
        return {"update_details": text, "update_summary": describe_changes(changes)}


def describe_changes(changes: AidRequestUpdate) -> str:
    """Says back what an update changed, in the resident's terms."""
    parts = []
    if changes.needs:
        parts.append("nhu cầu: " + ", ".join(NEED_LABELS[n] for n in changes.needs))
    if changes.household_size:
        parts.append(f"số người trong hộ: {changes.household_size}")
    if changes.vulnerable:
        labels = ", ".join(VULNERABLE_LABELS[v] for v in changes.vulnerable)
        parts.append(f"thành viên cần lưu ý: {labels}")
    if changes.phone:
        parts.append("số điện thoại mới")
    parts.append("hoàn cảnh bạn vừa kể")
    return "; ".join(parts)
