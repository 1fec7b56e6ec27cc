"""The form validation and form actions, run without a server: a tracker from a dict, a
CollectingDispatcher, and the exact events they return."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

import bot.requests.service as request_service
from actions.form_steps import (
    ActionAskAidConfirmed,
    ActionAskWard,
    ActionCancelForm,
    ActionFinishForm,
)
from actions.forms import FORM_SLOTS, ValidateAidRequestForm, ValidateHealthDeclarationForm
from actions.requests_status import ActionCheckRequestStatus
from bot.audit.models import AuditEvent
from bot.consents.models import Consent
from bot.db import session as db_session
from bot.outbound.models import OutboundMessage
from bot.requests.codes import format_ref
from bot.requests.models import AidRequest, HealthDeclaration, RequestStatusChange
from bot.requests.service import submit_aid_request
from tests.requests.factories import BEN_THANH, aid_in, conversation_id, make_team

ROOT = Path(__file__).resolve().parents[2]
DOMAIN: dict[str, Any] = yaml.safe_load((ROOT / "domain" / "forms.yml").read_text("utf-8"))
AID = "aid_request_form"
HEALTH = "health_declaration_form"

FILLED_AID = {
    "consent": True,
    "consent_id": None,
    "need_types": ["food"],
    "description": "Mất việc, nhà hết gạo 2 ngày",
    "household_size": 4,
    "vulnerable": ["elderly"],
    "ward": BEN_THANH,
    "ward_label": "Phường Bến Thành, Thành phố Hồ Chí Minh",
    "address_detail": "12 Lê Lợi",
    "phone": "0912345678",
}


def make_tracker(
    *,
    form: str,
    requested: str | None,
    text: str,
    intent: str = "inform",
    slots: dict[str, Any] | None = None,
    candidates: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    sender: str | None = None,
) -> Tracker:
    """A tracker as the action server receives it: the user's message, then the slot
    candidates Rasa extracted from it (the last events)."""
    all_slots = {name: None for name in FORM_SLOTS} | {"requested_slot": requested}
    all_slots |= slots or {}
    all_slots |= candidates or {}
    events: list[dict[str, Any]] = [
        {"event": "active_loop", "name": form},
        {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}},
    ]
    events += [{"event": "slot", "name": k, "value": v} for k, v in (candidates or {}).items()]
    return Tracker.from_dict(
        {
            "sender_id": sender or conversation_id(),
            "slots": all_slots,
            "latest_message": {
                "text": text,
                "intent": {"name": intent, "confidence": 0.99},
                "entities": entities or [],
            },
            "events": events,
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": form},
            "latest_action_name": "action_listen",
        }
    )


async def run_validation(action: Any, tracker: Tracker) -> tuple[list[Any], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    return events, dispatcher.messages


async def test_consent_given_is_recorded(session: Session) -> None:
    tracker = make_tracker(
        form=AID,
        requested="consent",
        text="đồng ý",
        intent="affirm",
        candidates={"consent": True},
    )
    events, messages = await run_validation(ValidateAidRequestForm(), tracker)
    consent = session.scalar(select(Consent).order_by(Consent.id.desc()))
    assert consent is not None and consent.granted and consent.purpose == "aid_request"
    assert events == [SlotSet("consent", True), SlotSet("consent_id", consent.id)]
    assert messages == []


async def test_consent_refused_ends_the_form_and_keeps_nothing(session: Session) -> None:
    tracker = make_tracker(
        form=HEALTH,
        requested="consent",
        text="không đồng ý",
        intent="deny",
        candidates={"consent": False},
    )
    events, _ = await run_validation(ValidateHealthDeclarationForm(), tracker)
    consent = session.scalar(select(Consent).order_by(Consent.id.desc()))
    assert consent is not None and consent.granted is False
    assert consent.purpose == "health_declaration"
    assert events == [
        SlotSet("consent", False),
        SlotSet("consent_id", consent.id),
        SlotSet("requested_slot", None),
    ]
    dispatcher = CollectingDispatcher()
    finish = await ActionFinishForm().run(
        dispatcher,
        make_tracker(form=HEALTH, requested=None, text="", slots={"consent": False}),
        DOMAIN,
    )
    assert "không lưu thông tin nào" in dispatcher.messages[0]["text"]
    assert finish == [SlotSet(name, None) for name in FORM_SLOTS]


@pytest.mark.parametrize("typed", ["12345", "0212345678", "091234567", "gọi cho tôi"])
async def test_invalid_phone_is_asked_again(session: Session, typed: str) -> None:
    tracker = make_tracker(
        form=AID,
        requested="phone",
        text=typed,
        slots={"consent": True},
        candidates={"phone": typed},
    )
    events, messages = await run_validation(ValidateAidRequestForm(), tracker)
    assert events == [SlotSet("phone", None)]
    assert "Số điện thoại chưa đúng" in messages[0]["text"]


async def test_valid_phone_is_normalised(session: Session) -> None:
    tracker = make_tracker(
        form=AID,
        requested="phone",
        text="số e là +84 91 234 5678 nha",
        slots={"consent": True},
        candidates={"phone": "số e là +84 91 234 5678 nha"},
    )
    events, messages = await run_validation(ValidateAidRequestForm(), tracker)
    assert events == [SlotSet("phone", "0912345678")]
    assert messages == []


async def test_ambiguous_ward_asks_which_province_then_resolves(session: Session) -> None:
    form = ValidateAidRequestForm()
    first = make_tracker(
        form=AID,
        requested="ward",
        text="xã Tân Phú",
        slots={"consent": True},
        candidates={"ward": "xã Tân Phú"},
    )
    events, messages = await run_validation(form, first)
    assert events == [SlotSet("ward", None), SlotSet("ward_query", "xã Tân Phú")]
    assert "Bạn ở tỉnh/thành nào?" in messages[0]["text"]
    titles = {b["title"] for b in messages[0]["buttons"]}
    assert {"Đồng Tháp", "Đồng Nai"} <= titles
    second = make_tracker(
        form=AID,
        requested="ward",
        text="dong thap",
        slots={"consent": True, "ward_query": "xã Tân Phú"},
        candidates={"ward": "dong thap"},
    )
    events, messages = await run_validation(form, second)
    assert events == [
        SlotSet("ward", "28468"),
        SlotSet("ward_label", "Xã Tân Phú, Tỉnh Đồng Tháp"),
        SlotSet("ward_query", None),
    ]


async def test_old_ward_name_is_said_back(session: Session) -> None:
    tracker = make_tracker(
        form=HEALTH,
        requested="ward",
        text="phường Bến Nghé, quận 1",
        slots={"consent": True},
        candidates={"ward": "phường Bến Nghé, quận 1"},
    )
    events, messages = await run_validation(ValidateHealthDeclarationForm(), tracker)
    assert events[0] == SlotSet("ward", "26740")
    assert messages[0]["text"] == (
        "Phường Bến Nghé, Quận 1 (tên cũ) nay thuộc Phường Sài Gòn, Thành phố Hồ Chí Minh."
    )


async def test_correction_clears_one_slot_and_the_confirmation(session: Session) -> None:
    # NLU took "sửa số điện thoại" for an answer; the correction wins.
    tracker = make_tracker(
        form=AID,
        requested="confirmed",
        text="sửa số điện thoại",
        intent="correct_slot",
        slots={**FILLED_AID},
    )
    events, messages = await run_validation(ValidateAidRequestForm(), tracker)
    assert events == [SlotSet("phone", None), SlotSet("confirmed", None)]
    assert messages[0]["text"] == "Dạ, bạn nhập lại giúp tôi nhé."
    ward = make_tracker(
        form=AID,
        requested="address_detail",
        text="sua phuong",
        intent="inform",
        slots={**FILLED_AID, "address_detail": None},
        candidates={"address_detail": "sua phuong"},
    )
    events, _ = await run_validation(ValidateAidRequestForm(), ward)
    assert events == [
        SlotSet("address_detail", None),
        SlotSet("ward", None),
        SlotSet("confirmed", None),
        SlotSet("ward_label", None),
        SlotSet("ward_query", None),
    ]


async def test_summary_then_confirmation_saves_and_gives_the_code(session: Session) -> None:
    make_team(session, slug="a-ben-thanh", wards=[BEN_THANH])
    sender = conversation_id()
    dispatcher = CollectingDispatcher()
    await ActionAskAidConfirmed().run(
        dispatcher,
        make_tracker(
            form=AID, requested="confirmed", text="12 Lê Lợi", slots=FILLED_AID, sender=sender
        ),
        DOMAIN,
    )
    summary = dispatcher.messages[0]["text"]
    assert "Phường Bến Thành" in summary and "0912345678" in summary and "người cao tuổi" in summary
    tracker = make_tracker(
        form=AID,
        requested="confirmed",
        text="đúng rồi",
        intent="affirm",
        slots=FILLED_AID,
        candidates={"confirmed": True},
        sender=sender,
    )
    events, messages = await run_validation(ValidateAidRequestForm(), tracker)
    request = session.scalar(select(AidRequest).order_by(AidRequest.id.desc()))
    assert request is not None and request.phone == "0912345678"
    assert request.days_without_food == 2 and request.priority == 1
    assert events == [
        SlotSet("confirmed", True),
        SlotSet("saved_ref", request.ref_code),
        SlotSet("saved_team", "Tổ a-ben-thanh"),
        SlotSet("save_failed", None),
    ]
    dispatcher = CollectingDispatcher()
    finish = await ActionFinishForm().run(
        dispatcher,
        make_tracker(
            form=AID,
            requested=None,
            text="",
            sender=sender,
            slots={**FILLED_AID, "saved_ref": request.ref_code, "saved_team": "Tổ a-ben-thanh"},
        ),
        DOMAIN,
    )
    text = dispatcher.messages[0]["text"]
    assert format_ref(request.ref_code) in text and "Tổ a-ben-thanh" in text
    assert finish == [SlotSet(name, None) for name in FORM_SLOTS]


async def test_health_declaration_saved(session: Session) -> None:
    slots = {
        "consent": True,
        "full_name": "Nguyễn Văn An",
        "birth_year": 1985,
        "phone": "0912345678",
        "ward": "00070",
        "ward_label": "Phường Hoàn Kiếm",
        "symptoms": ["fever"],
        "case_contact": False,
        "recent_travel": "không",
        "vaccine_doses": 3,
    }
    tracker = make_tracker(
        form=HEALTH,
        requested="confirmed",
        text="đúng",
        intent="affirm",
        slots=slots,
        candidates={"confirmed": True},
    )
    events, _ = await run_validation(ValidateHealthDeclarationForm(), tracker)
    declaration = session.scalar(select(HealthDeclaration).order_by(HealthDeclaration.id.desc()))
    assert declaration is not None and declaration.recent_travel is None
    assert declaration.full_name == "Nguyễn Văn An" and declaration.ward_code == "00070"
    assert events[1] == SlotSet("saved_ref", declaration.ref_code)


def _counts(session: Session) -> tuple[int, ...]:
    return tuple(
        session.scalar(select(func.count()).select_from(model))  # type: ignore[misc]
        for model in (AidRequest, RequestStatusChange, OutboundMessage, AuditEvent)
    )


async def test_database_down_at_confirmation_says_not_saved(
    session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = _counts(session)
    unreachable = create_engine(f"sqlite:///{tmp_path}/missing/dir/hotline.db")
    monkeypatch.setattr(db_session, "get_sessionmaker", lambda: sessionmaker(bind=unreachable))
    tracker = make_tracker(
        form=AID,
        requested="confirmed",
        text="có",
        intent="affirm",
        slots=FILLED_AID,
        candidates={"confirmed": True},
    )
    events, messages = await run_validation(ValidateAidRequestForm(), tracker)
    assert events == [SlotSet("confirmed", None), SlotSet("save_failed", True)]
    assert "CHƯA được lưu" in messages[0]["text"]
    assert _counts(session) == before
    # The form asks again with a short "send again?" and the answers are kept.
    dispatcher = CollectingDispatcher()
    again = await ActionAskAidConfirmed().run(
        dispatcher,
        make_tracker(
            form=AID,
            requested="confirmed",
            text="có",
            intent="affirm",
            slots={**FILLED_AID, "save_failed": True},
        ),
        DOMAIN,
    )
    assert again == [SlotSet("save_failed", None)]
    assert dispatcher.messages[0]["buttons"][0]["title"] == "Gửi lại"


async def test_failure_midway_leaves_nothing_half_written(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_team(session, slug="a-half", wards=[BEN_THANH])
    before = _counts(session)

    def broken_outbox(**_: Any) -> None:
        raise OperationalError("INSERT INTO outbound_messages", {}, Exception("disk I/O error"))

    monkeypatch.setattr(request_service, "enqueue_team_notification", broken_outbox)
    tracker = make_tracker(
        form=AID,
        requested="confirmed",
        text="có",
        intent="affirm",
        slots=FILLED_AID,
        candidates={"confirmed": True},
    )
    events, messages = await run_validation(ValidateAidRequestForm(), tracker)
    assert SlotSet("save_failed", True) in events
    assert "CHƯA được lưu" in messages[0]["text"]
    assert _counts(session) == before  # the request row, its history and audit rolled back


async def test_cancel_stops_the_form_and_forgets_the_answers() -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionCancelForm().run(
        dispatcher,
        make_tracker(form=AID, requested="phone", text="hủy", intent="cancel", slots=FILLED_AID),
        DOMAIN,
    )
    assert events == [ActiveLoop(None), SlotSet("requested_slot", None)] + [
        SlotSet(name, None) for name in FORM_SLOTS
    ]
    assert "đã hủy" in dispatcher.messages[0]["text"]


async def test_status_only_for_the_residents_own_requests(session: Session) -> None:
    alice, bob = conversation_id(), conversation_id()
    request = submit_aid_request(session=session, conversation_id=alice, data=aid_in()).request
    code = format_ref(request.ref_code)

    async def ask(sender: str, text: str) -> str:
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(
            form=AID, requested=None, text=text, intent="check_request_status", sender=sender
        )
        events = await ActionCheckRequestStatus().run(dispatcher, tracker, DOMAIN)
        assert events == [SlotSet("ref_code", None)]
        return str(dispatcher.messages[0]["text"])

    assert code in await ask(alice, f"kiểm tra {code.lower()}")
    assert "đã chuyển tổ hỗ trợ" in await ask(alice, "yêu cầu của tôi sao rồi")
    assert "không tìm thấy" in await ask(bob, f"kiểm tra {code}")
    assert "chưa gửi" in await ask(bob, "yêu cầu của tôi sao rồi")


async def test_ward_question_not_repeated_after_the_province_question() -> None:
    asked = CollectingDispatcher()
    await ActionAskWard().run(asked, make_tracker(form=AID, requested="ward", text=""), DOMAIN)
    assert "phường/xã nào" in asked.messages[0]["text"]
    silent = CollectingDispatcher()
    tracker = make_tracker(
        form=AID, requested="ward", text="xã Tân Phú", slots={"ward_query": "xã Tân Phú"}
    )
    assert await ActionAskWard().run(silent, tracker, DOMAIN) == []
    assert silent.messages == []
