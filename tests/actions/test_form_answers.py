"""Issue 7, items 9 and 13: one message fills every question it answers, an open request is
updated instead of filled in again, stale buttons do not answer today's question, and a
save refused for its data asks for that answer instead of offering "Gửi lại" forever."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.form_steps import (
    ActionAskAidConfirmed,
    ActionAskConsent,
    ActionFinishForm,
    ActionStartAidRequest,
)
from actions.forms import (
    ValidateAidRequestForm,
    ValidateAidUpdateForm,
    ValidateHealthDeclarationForm,
)
from bot.requests.models import AidRequest, RequestStatus
from bot.requests.service import set_status, submit_aid_request
from tests.actions.test_form_actions import (
    AID,
    DOMAIN,
    FILLED_AID,
    HEALTH,
    make_tracker,
    run_validation,
)
from tests.requests.factories import BEN_THANH, aid_in, conversation_id, make_team

UPDATE = "aid_update_form"


def _set(events: list[Any]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


# --- one message, several answers (item 9) -------------------------------------------------


async def test_the_needs_answer_fills_members_and_situation_too(session: Session) -> None:
    text = "nhà em hết gạo, con nhỏ đang ốm"
    tracker = make_tracker(
        form=AID,
        requested="need_types",
        text=text,
        slots={"consent": True},
        candidates={"need_types": text},
    )
    events, messages = await run_validation(ValidateAidRequestForm(), tracker)
    assert events == [
        SlotSet("need_types", ["food"]),
        SlotSet("description", text),
        SlotSet("vulnerable", ["child_under_6", "sick"]),
    ]
    assert messages == []


async def test_an_answer_does_not_overwrite_what_was_answered(session: Session) -> None:
    text = "nhà 5 người, có bà cụ 80 tuổi, hết gạo rồi"
    tracker = make_tracker(
        form=AID,
        requested="description",
        text=text,
        slots={"consent": True, "need_types": ["money"]},
        candidates={"description": text},
    )
    events, _ = await run_validation(ValidateAidRequestForm(), tracker)
    assert events == [
        SlotSet("description", text),
        SlotSet("household_size", 5),
        SlotSet("vulnerable", ["elderly"]),
    ]


async def test_the_first_message_prefills_the_form(session: Session) -> None:
    text = "tôi mất việc, nhà 4 người hết gạo 3 ngày rồi, ở phường Bến Thành"
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(form=AID, requested=None, text=text, intent="request_aid")
    events = await ActionStartAidRequest().run(dispatcher, tracker, DOMAIN)
    assert events == [
        SlotSet("has_open_request", False),
        SlotSet("need_types", ["food"]),
        SlotSet("description", text),
        SlotSet("household_size", 4),
        SlotSet("ward", BEN_THANH),
        SlotSet("ward_label", "Phường Bến Thành, Thành phố Hồ Chí Minh"),
    ]
    assert dispatcher.messages == []
    # Rasa validates prefilled slots when the form starts: they pass as they are.
    prefilled = _set(events)
    check = make_tracker(form=AID, requested=None, text=text, candidates=prefilled)
    validated, _ = await run_validation(ValidateAidRequestForm(), check)
    # (rasa-sdk drops ward_label from the validation's events, as it is not a form slot; it
    # is already set by the start action's own event.)
    expected = {k: v for k, v in prefilled.items() if k not in ("has_open_request", "ward_label")}
    assert _set(validated) == expected | {"ward_query": None}


async def test_a_bare_request_prefills_nothing() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(form=AID, requested=None, text="/request_aid", intent="request_aid")
    events = await ActionStartAidRequest().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("has_open_request", False)]
    going_home = make_tracker(
        form=AID, requested=None, text="làm sao để về quê", intent="ask_return_home"
    )
    events = await ActionStartAidRequest().run(dispatcher, going_home, DOMAIN)
    assert events == [SlotSet("has_open_request", False), SlotSet("need_types", ["go_home"])]


# --- an open request is updated, not filled in again (item 9) ------------------------------


async def test_an_open_request_is_found_and_only_the_change_asked(session: Session) -> None:
    make_team(session, slug="t-open", wards=[BEN_THANH])
    sender = conversation_id()
    request = submit_aid_request(session=session, conversation_id=sender, data=aid_in()).request
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        form=AID, requested=None, text="cho tôi xin hỗ trợ", intent="request_aid", sender=sender
    )
    events = await ActionStartAidRequest().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("has_open_request", True), SlotSet("update_ref", request.ref_code)]
    text = dispatcher.messages[0]["text"]
    assert f"{request.ref_code[:4]}-{request.ref_code[4:]}" in text and "không cần khai lại" in text

    change = "giờ thêm bà ngoại ở cùng, hết gạo 4 ngày rồi"
    update = make_tracker(
        form=UPDATE,
        requested="update_details",
        text=change,
        slots={"update_ref": request.ref_code},
        candidates={"update_details": change},
        sender=sender,
    )
    events, _ = await run_validation(ValidateAidUpdateForm(), update)
    assert events == [
        SlotSet("update_details", change),
        SlotSet(
            "update_summary",
            "nhu cầu: lương thực, thực phẩm; thành viên cần lưu ý: người cao tuổi; "
            "hoàn cảnh bạn vừa kể",
        ),
    ]
    session.refresh(request)
    assert request.vulnerable == ["elderly"] and request.days_without_food == 4
    assert change in request.description
    count = session.scalar(
        select(func.count()).select_from(AidRequest).where(AidRequest.id == request.id)
    )
    assert count == 1
    dispatcher = CollectingDispatcher()
    await ActionFinishForm().run(
        dispatcher,
        make_tracker(
            form=UPDATE,
            requested=None,
            text=change,
            slots={**_set(events), "update_ref": request.ref_code},
            sender=sender,
        ),
        DOMAIN,
    )
    said = dispatcher.messages[0]["text"]
    assert said.startswith("Đã cập nhật đề nghị hỗ trợ") and "người cao tuổi" in said
    assert "Đã lưu" not in said


async def test_a_first_message_with_news_is_the_update(session: Session) -> None:
    sender = conversation_id()
    request = submit_aid_request(session=session, conversation_id=sender, data=aid_in()).request
    text = "nhà em vẫn hết gạo, giờ 5 người rồi"
    tracker = make_tracker(form=AID, requested=None, text=text, intent="request_aid", sender=sender)
    events = await ActionStartAidRequest().run(CollectingDispatcher(), tracker, DOMAIN)
    assert events == [
        SlotSet("has_open_request", True),
        SlotSet("update_ref", request.ref_code),
        SlotSet("update_details", text),
    ]


async def test_nothing_new_keeps_the_request_and_a_closed_one_is_not_updated(
    session: Session,
) -> None:
    sender = conversation_id()
    request = submit_aid_request(session=session, conversation_id=sender, data=aid_in()).request
    unchanged = make_tracker(
        form=UPDATE,
        requested="update_details",
        text="không",
        slots={"update_ref": request.ref_code},
        candidates={"update_details": "không"},
        sender=sender,
    )
    events, _ = await run_validation(ValidateAidUpdateForm(), unchanged)
    assert _set(events) == {"update_details": "không", "update_summary": None}
    dispatcher = CollectingDispatcher()
    await ActionFinishForm().run(
        dispatcher,
        make_tracker(
            form=UPDATE,
            requested=None,
            text="không",
            slots={"update_ref": request.ref_code},
            sender=sender,
        ),
        DOMAIN,
    )
    assert "giữ nguyên" in dispatcher.messages[0]["text"]
    set_status(
        session=session, ref_code=request.ref_code, status=RequestStatus.RESOLVED, actor="cli"
    )
    closed = make_tracker(
        form=UPDATE,
        requested="update_details",
        text="hết gạo rồi",
        slots={"update_ref": request.ref_code},
        candidates={"update_details": "hết gạo rồi"},
        sender=sender,
    )
    events, messages = await run_validation(ValidateAidUpdateForm(), closed)
    assert _set(events)["update_ref"] is None
    assert "vừa được đóng" in messages[0]["text"]


# --- stale buttons (item 9) ------------------------------------------------------------------


async def test_a_stale_consent_button_does_not_answer_a_later_question(session: Session) -> None:
    dispatcher = CollectingDispatcher()
    await ActionAskConsent().run(
        dispatcher, make_tracker(form=HEALTH, requested="consent", text=""), DOMAIN
    )
    agree = dispatcher.messages[0]["buttons"][0]["payload"]
    assert agree == '/affirm{"answer_to":"consent"}'
    # Pressed again while "any contact with a case?" is asked: Rasa maps affirm to yes.
    tracker = make_tracker(
        form=HEALTH,
        requested="case_contact",
        text=agree,
        intent="affirm",
        slots={"consent": True, "full_name": "Trần Thị Mai"},
        candidates={"case_contact": True},
        entities=[{"entity": "answer_to", "value": "consent"}],
    )
    events, messages = await run_validation(ValidateHealthDeclarationForm(), tracker)
    assert events == [SlotSet("case_contact", None)]
    assert "câu hỏi trước" in messages[0]["text"]
    # The button of the question asked is an answer as usual.
    current = make_tracker(
        form=HEALTH,
        requested="case_contact",
        text='/affirm{"answer_to":"case_contact"}',
        intent="affirm",
        slots={"consent": True},
        candidates={"case_contact": True},
        entities=[{"entity": "answer_to", "value": "case_contact"}],
    )
    events, _ = await run_validation(ValidateHealthDeclarationForm(), current)
    assert events == [SlotSet("case_contact", True)]


async def test_a_stale_button_during_the_update_changes_nothing(session: Session) -> None:
    sender = conversation_id()
    request = submit_aid_request(session=session, conversation_id=sender, data=aid_in()).request
    payload = '/affirm{"answer_to":"confirmed"}'
    tracker = make_tracker(
        form=UPDATE,
        requested="update_details",
        text=payload,
        intent="affirm",
        slots={"update_ref": request.ref_code},
        candidates={"update_details": payload},
        entities=[{"entity": "answer_to", "value": "confirmed"}],
        sender=sender,
    )
    events, messages = await run_validation(ValidateAidUpdateForm(), tracker)
    assert events == [SlotSet("update_details", None)]
    assert "điều gì đã thay đổi" in messages[0]["text"]
    session.refresh(request)
    assert payload not in request.description and len(request.history) == 2


async def test_a_stale_summary_button_does_not_send_a_new_form(session: Session) -> None:
    before = session.scalar(select(func.count()).select_from(AidRequest))
    tracker = make_tracker(
        form=AID,
        requested="consent",
        text='/affirm{"answer_to":"confirmed"}',
        intent="affirm",
        candidates={"consent": True},
        entities=[{"entity": "answer_to", "value": "confirmed"}],
    )
    events, _ = await run_validation(ValidateAidRequestForm(), tracker)
    assert events == [SlotSet("consent", None)]
    assert session.scalar(select(func.count()).select_from(AidRequest)) == before


@pytest.mark.parametrize(
    ("asked", "pressed", "slot"),
    [
        ("household_size", "thuốc men", "household_size"),  # a needs button
        ("description", "lương thực", "description"),
        ("phone", "trẻ dưới 6 tuổi", "phone"),  # a vulnerable-members button
    ],
)
async def test_a_stale_text_button_is_not_taken_as_the_answer(
    session: Session, asked: str, pressed: str, slot: str
) -> None:
    tracker = make_tracker(
        form=AID,
        requested=asked,
        text=pressed,
        slots={**FILLED_AID, asked: None},
        candidates={slot: pressed},
    )
    events, messages = await run_validation(ValidateAidRequestForm(), tracker)
    assert events == [SlotSet(slot, None)]
    assert "câu hỏi trước" in messages[0]["text"]


async def test_a_none_answer_is_never_stale(session: Session) -> None:
    tracker = make_tracker(
        form=AID,
        requested="vulnerable",
        text="không có",
        slots={**FILLED_AID, "vulnerable": None},
        candidates={"vulnerable": "không có"},
    )
    events, _ = await run_validation(ValidateAidRequestForm(), tracker)
    assert events == [SlotSet("vulnerable", [])]


# --- invalid data is not an outage (item 13) -------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "slot", "said"),
    [
        ({"ward": "99999"}, "ward", "phường/xã"),
        ({"household_size": 80}, "household_size", "từ 1 đến 50"),
        ({"phone": "0212345678"}, "phone", "Số điện thoại chưa đúng"),
    ],
)
async def test_a_refused_answer_is_asked_again_not_retried(
    session: Session, bad: dict[str, Any], slot: str, said: str
) -> None:
    tracker = make_tracker(
        form=AID,
        requested="confirmed",
        text="đúng",
        intent="affirm",
        slots={**FILLED_AID, **bad},
        candidates={"confirmed": True},
    )
    events, messages = await run_validation(ValidateAidRequestForm(), tracker)
    values = _set(events)
    assert values[slot] is None and values["confirmed"] is None
    assert values["save_failed"] is None and "save_attempts" not in values
    assert said in messages[0]["text"] and "Gửi lại" not in messages[0]["text"]


async def test_a_consent_gone_before_saving_is_asked_again(session: Session) -> None:
    # The resident erased their data while the form was open: the consent row is gone. This
    # was a foreign-key error, retried as a reference-code collision, then a crash.
    tracker = make_tracker(
        form=AID,
        requested="confirmed",
        text="đúng",
        intent="affirm",
        slots={**FILLED_AID, "consent_id": 987654321},
        candidates={"confirmed": True},
    )
    events, messages = await run_validation(ValidateAidRequestForm(), tracker)
    values = _set(events)
    assert values["consent"] is None and values["consent_id"] is None
    assert values["confirmed"] is None and values["save_failed"] is None
    assert "sự đồng ý" in messages[0]["text"] and "Gửi lại" not in messages[0]["text"]


async def test_after_a_correction_menu_no_send_again_offered(session: Session) -> None:
    dispatcher = CollectingDispatcher()
    asked = await ActionAskAidConfirmed().run(
        dispatcher,
        make_tracker(
            form=AID,
            requested="confirmed",
            text="đúng",
            slots={**FILLED_AID, "save_failed": "invalid"},
        ),
        DOMAIN,
    )
    assert asked == [SlotSet("save_failed", None)]
    titles = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    assert "Số điện thoại" in titles and "Gửi lại" not in titles


# --- corrections are read as typed too (item 6) ----------------------------------------------


@pytest.mark.parametrize(
    ("asked", "text", "slot"),
    [
        ("description", "sửa số điện thoại", "phone"),
        ("description", "sua so dien thoai", "phone"),
        ("description", "cho em sửa số người", "household_size"),
        ("description", "đổi địa chỉ", "address_detail"),
        # "đói" (hungry) is not "đổi" (change), "sữa" (milk) is not "sửa" (repair)
        ("description", "đói 3 ngày rồi, số người trong nhà là 5", None),
        ("need_types", "sữa cho trẻ em", None),
    ],
)
def test_corrections_are_read_as_typed(asked: str, text: str, slot: str | None) -> None:
    from actions.forms import slot_to_correct

    tracker = make_tracker(form=AID, requested=asked, text=text, slots={"consent": True})
    assert slot_to_correct(tracker, list(FILLED_AID) + ["confirmed"]) == slot


async def test_a_resubmitted_need_says_updated_not_saved(session: Session) -> None:
    # The open request could not be looked up before the form (or was opened meanwhile): the
    # service merges the same need into the open request, and the resident is told so.
    sender = conversation_id()
    first = submit_aid_request(session=session, conversation_id=sender, data=aid_in()).request
    tracker = make_tracker(
        form=AID,
        requested="confirmed",
        text="đúng",
        intent="affirm",
        slots=FILLED_AID,
        candidates={"confirmed": True},
        sender=sender,
    )
    events, _ = await run_validation(ValidateAidRequestForm(), tracker)
    values = _set(events)
    assert values["saved_ref"] == values["update_ref"] == first.ref_code
    dispatcher = CollectingDispatcher()
    await ActionFinishForm().run(
        dispatcher,
        make_tracker(form=AID, requested=None, text="", slots={**FILLED_AID, **values}),
        DOMAIN,
    )
    said = dispatcher.messages[0]["text"]
    assert "đã cập nhật đề nghị đó" in said and "Đã lưu" not in said
