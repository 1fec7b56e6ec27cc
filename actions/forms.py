"""The health declaration and hardship request forms: consent, validation, summary, saving.

Rasa asks the slots in the order of `domain/forms.yml`; these validators turn each answer into
a clean value (or re-ask it), handle "sửa …" corrections at any step, and save the record when
the resident confirms the summary, so "đã lưu" is only said once the row is committed.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from bot.consents.service import record_consent
from bot.content.service import fact
from bot.db.session import session_scope
from bot.places.wards import MatchStatus, get_ward, resolve_ward
from bot.requests.service import (
    AidRequestIn,
    HealthDeclarationIn,
    submit_aid_request,
    submit_health_declaration,
)
from bot.requests.validation import (
    SYMPTOM_LABELS,
    VULNERABLE_LABELS,
    clean_free_text,
    clean_name,
    is_none_answer,
    normalize_phone,
    parse_birth_year,
    parse_days_without_food,
    parse_household_size,
    parse_needs,
    parse_symptoms,
    parse_vaccine_doses,
    parse_vulnerable,
)
from hotline_nlu.normalize import fold

logger = logging.getLogger(__name__)

AID_FORM = "aid_request_form"
HEALTH_FORM = "health_declaration_form"
PURPOSE = {AID_FORM: "aid_request", HEALTH_FORM: "health_declaration"}
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
]
# What a resident may ask to correct, by folded keywords, in the order they are tried.
CORRECTABLE = [
    ("phone", ("so dien thoai", "dien thoai", "sdt", "so dt", "phone")),
    ("birth_year", ("nam sinh", "tuoi")),
    ("full_name", ("ho ten", "ten")),
    ("address_detail", ("so nha", "duong", "dia chi chi tiet", "dia chi")),
    ("ward", ("phuong", "xa", "noi o", "tinh", "thanh pho", "khu vuc")),
    ("need_types", ("nhu cau", "loai ho tro", "can gi")),
    ("description", ("mo ta", "hoan canh")),
    ("household_size", ("so nguoi", "so thanh vien", "nhan khau")),
    ("vulnerable", ("thanh vien", "nguoi gia", "tre em", "dac biet")),
    ("symptoms", ("trieu chung",)),
    ("case_contact", ("tiep xuc",)),
    ("recent_travel", ("di lai", "di chuyen", "lich trinh")),
    ("vaccine_doses", ("mui tiem", "vac xin", "tiem")),
]
_CORRECTION_VERB = re.compile(r"^(xin )?(cho (toi|em|minh) )?(sua|doi|nhap lai|sai|chinh)\b")


def reset_form_slots() -> list[EventType]:
    return [SlotSet(slot, None) for slot in FORM_SLOTS]


def slot_to_correct(tracker: Tracker, form_slots: list[str]) -> str | None:
    """The slot a "sửa số điện thoại" message asks to change, if the message is one."""
    text = f" {' '.join(re.findall(r'[a-z0-9]+', fold(tracker.latest_message.get('text') or '')))} "
    is_correction = tracker.get_intent_of_latest_message() == "correct_slot" or bool(
        _CORRECTION_VERB.match(text.strip())
    )
    if not is_correction:
        return None
    for slot, keywords in CORRECTABLE:
        if slot in form_slots and any(f" {k} " in text for k in keywords):
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
        return domain_slots

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
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
                ref, team = self.save(session, tracker)
        except (SQLAlchemyError, ValueError) as exc:
            logger.error("could not save a confirmed %s: %s", self.form, type(exc).__name__)
            dispatcher.utter_message(
                text="Xin lỗi, hệ thống đang gặp sự cố nên thông tin của bạn CHƯA được lưu. "
                'Thông tin bạn nhập vẫn còn; bạn bấm "Gửi lại" sau ít phút để thử lại nhé.'
            )
            return {"confirmed": None, "save_failed": True}
        return {"confirmed": True, "saved_ref": ref, "saved_team": team, "save_failed": None}

    def save(self, session: Any, tracker: Tracker) -> tuple[str, str | None]:
        """Saves the confirmed record; returns its code and the team it went to."""
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
            return {"need_types": needs}
        dispatcher.utter_message(
            text="Tôi chưa rõ bạn cần hỗ trợ gì. Bạn chọn một hoặc vài mục: lương thực, nước "
            "uống, thuốc men, chăm sóc y tế, tiền, chỗ ở, về quê hoặc khác."
        )
        return {"need_types": None}

    def validate_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = clean_free_text(_text(value, tracker), max_chars=1000)
        if text and len(text) >= 3:
            return {"description": text}
        dispatcher.utter_message(text="Bạn kể ngắn gọn hoàn cảnh giúp tôi (một hai câu là đủ).")
        return {"description": None}

    def validate_household_size(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        size = value if isinstance(value, int) else parse_household_size(_text(value, tracker))
        if size is not None and 1 <= size <= 50:
            return {"household_size": size}
        dispatcher.utter_message(text="Bạn nhập số người trong hộ bằng một con số từ 1 đến 50.")
        return {"household_size": None}

    def validate_vulnerable(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if isinstance(value, list):
            return {"vulnerable": [v for v in value if v in VULNERABLE_LABELS]}
        found = parse_vulnerable(_text(value, tracker))
        if found is not None:
            return {"vulnerable": found}
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

    def save(self, session: Any, tracker: Tracker) -> tuple[str, str | None]:
        description = tracker.get_slot("description") or ""
        saved = submit_aid_request(
            session=session,
            conversation_id=tracker.sender_id,
            consent_id=tracker.get_slot("consent_id"),
            data=AidRequestIn(
                needs=list(tracker.get_slot("need_types") or []),
                description=description,
                household_size=int(tracker.get_slot("household_size")),
                vulnerable=list(tracker.get_slot("vulnerable") or []),
                ward_code=tracker.get_slot("ward"),
                address_detail=tracker.get_slot("address_detail") or "",
                phone=tracker.get_slot("phone"),
                days_without_food=parse_days_without_food(description),
            ),
        )
        team = saved.request.team
        return saved.request.ref_code, team.name if team else None


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

    def save(self, session: Any, tracker: Tracker) -> tuple[str, str | None]:
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
        return declaration.ref_code, None
