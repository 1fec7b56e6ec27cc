"""Aid-programme and local-notice answers, run without a server: a tracker from a dict, a
CollectingDispatcher, and the exact events. Programmes come from a content folder written
relative to today, so the test does not depend on the calendar."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.local_info import (
    ActionAnswerLocal,
    ActionAnswerLocalAfterArea,
    ValidateAreaForm,
)
from bot.content.aid_programmes import today_in_vietnam
from bot.notices.models import NoticeKind
from bot.residents.area_models import ResidentArea
from bot.settings import PROJECT_ROOT, get_settings
from bot.subscriptions.service import subscribe
from bot.users.models import Role
from tests.notices.factories import make_notice
from tests.requests.factories import BEN_THANH, HOAN_KIEM, conversation_id
from tests.users.factories import make_user

DOMAIN: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "domain" / "local.yml").read_text("utf-8"))


def _programme(pid: str, area: object, start: int, end: int | None, **extra: object) -> dict:
    today = today_in_vietnam()
    return {
        "id": pid,
        "name": f"Chương trình {pid}",
        "eligible": "Người lao động mất việc",
        "benefit": f"Mức của {pid}",
        "papers": "Căn cước công dân",
        "how": "Nộp tại UBND phường/xã",
        "valid_from": today + timedelta(days=start),
        "valid_to": None if end is None else today + timedelta(days=end),
        "area": area,
        **extra,
    }


@pytest.fixture
def programmes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    content = tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "data" / "content", content)
    entries = [
        _programme("toan-quoc", "national", -30, 30, keywords=["mat viec"]),
        _programme("tp-hcm", ["79"], -1, 0),  # its last day is today
        _programme("ben-thanh", [BEN_THANH], 0, None),
        _programme("ha-noi", ["01"], -10, 10),
        _programme("het-han", "national", -30, -1),
        _programme("chua-toi", "national", 1, 30),
    ]
    (content / "aid_programmes.yml").write_text(
        yaml.safe_dump({"programmes": entries}, allow_unicode=True), encoding="utf-8"
    )
    monkeypatch.setenv("CONTENT_DIR", str(content))
    get_settings.cache_clear()
    yield content
    get_settings.cache_clear()


def tracker(
    *,
    sender: str,
    text: str,
    intent: str,
    slots: dict[str, Any] | None = None,
    form: str | None = None,
) -> Tracker:
    return Tracker.from_dict(
        {
            "sender_id": sender,
            "slots": {
                "area_needed": None,
                "local_topic": None,
                "local_question": None,
                "local_area": None,
                "local_area_tries": None,
                "requested_slot": "local_area" if form else None,
                **(slots or {}),
            },
            "latest_message": {
                "text": text,
                "intent": {"name": intent, "confidence": 0.99},
                "entities": [],
            },
            "events": [
                {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}},
                # In the form, the slot candidate Rasa extracted from the text (from_text).
                *([{"event": "slot", "name": "local_area", "value": text}] if form else []),
            ],
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": form} if form else {},
            "latest_action_name": "action_listen",
        }
    )


async def run(action: Any, t: Tracker) -> tuple[list[Any], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, DOMAIN)
    return events, dispatcher.messages


def _subscribed(session: Session, ward: str = BEN_THANH, province: str = "79") -> str:
    cid = conversation_id()
    subscribe(session=session, conversation_id=cid, province_code=province, ward_code=ward)
    return cid


async def test_an_aid_question_is_answered_for_the_residents_ward(
    session: Session, programmes: Path
) -> None:
    cid = _subscribed(session)
    question = "làm sao để nhận gói hỗ trợ"
    events, messages = await run(
        ActionAnswerLocal(), tracker(sender=cid, text=question, intent="ask_aid_programme")
    )
    assert events == [
        SlotSet("local_topic", "aid"),
        SlotSet("local_question", question),
        SlotSet("area_needed", False),
    ]
    [reply] = messages
    text = reply["text"]
    assert "Phường Bến Thành" in text
    # The ward's first, then the province's (valid through today), then the national one.
    assert text.index("Chương trình ben-thanh") < text.index("Chương trình tp-hcm")
    assert text.index("Chương trình tp-hcm") < text.index("Chương trình toan-quoc")
    for never in ("ha-noi", "het-han", "chua-toi"):
        assert f"Chương trình {never}" not in text
    assert [b["payload"] for b in reply["buttons"]] == ["/request_aid", "/deny"]


async def test_a_question_naming_a_programme_gets_only_that_one(
    session: Session, programmes: Path
) -> None:
    cid = _subscribed(session)
    _, [reply] = await run(
        ActionAnswerLocal(),
        tracker(
            sender=cid,
            text="Tôi mất việc thì được hỗ trợ bao nhiêu tiền",
            intent="ask_aid_programme",
        ),
    )
    assert "Chương trình toan-quoc" in reply["text"]
    assert "Chương trình ben-thanh" not in reply["text"]


async def test_no_programme_for_the_area_is_said_plainly_with_the_hotline(
    session: Session, programmes: Path
) -> None:
    (programmes / "aid_programmes.yml").write_text(
        yaml.safe_dump({"programmes": [_programme("ha-noi", ["01"], -1, 1)]}, allow_unicode=True),
        encoding="utf-8",
    )
    cid = _subscribed(session)
    _, [reply] = await run(
        ActionAnswerLocal(),
        tracker(sender=cid, text="có gói hỗ trợ nào", intent="ask_aid_programme"),
    )
    assert "chưa có thông tin về chương trình hỗ trợ nào" in reply["text"]
    assert "1900 9095" in reply["text"]  # the local line falls back to the national one
    assert reply["buttons"][0]["payload"] == "/request_aid"


async def test_an_unknown_area_is_asked_then_remembered_and_answered(
    session: Session, programmes: Path
) -> None:
    cid = conversation_id()
    question = "ở phường tôi có bị phong tỏa không"
    events, messages = await run(
        ActionAnswerLocal(), tracker(sender=cid, text=question, intent="ask_local_notice")
    )
    assert events == [
        SlotSet("local_topic", "notice"),
        SlotSet("local_question", question),
        SlotSet("local_area", None),
        SlotSet("area_needed", True),
    ]
    assert messages == []  # area_form asks (utter_ask_local_area)

    admin = make_user(session, role=Role.ADMIN)
    make_notice(session, admin, wards=[BEN_THANH], text="Khu phố 1 phong tỏa đến 30/11.")
    make_notice(session, admin, wards=[HOAN_KIEM], text="Hoàn Kiếm phong tỏa.")
    answer = tracker(
        sender=cid, text="phường Bến Thành, TP Hồ Chí Minh", intent="inform", form="area_form"
    )
    events = await ValidateAreaForm().run(CollectingDispatcher(), answer, DOMAIN)
    assert SlotSet("local_area", BEN_THANH) in events
    remembered = session.scalars(select(ResidentArea)).one()
    assert (remembered.province_code, remembered.ward_code) == ("79", BEN_THANH)

    slots = {"local_topic": "notice", "local_question": question, "local_area": BEN_THANH}
    events, [reply] = await run(
        ActionAnswerLocalAfterArea(),
        tracker(sender=cid, text="phường Bến Thành", intent="inform", slots=slots),
    )
    assert events == [SlotSet("local_area", None), SlotSet("local_area_tries", None)]
    assert "Khu phố 1 phong tỏa đến 30/11." in reply["text"]
    assert "Hoàn Kiếm" not in reply["text"]

    # Next time the remembered area answers at once.
    events, [again] = await run(
        ActionAnswerLocal(),
        tracker(sender=cid, text="chỗ tôi có phong tỏa k", intent="ask_local_notice"),
    )
    assert SlotSet("area_needed", False) in events
    assert "Khu phố 1 phong tỏa" in again["text"]


async def test_no_notice_now_is_said_plainly(session: Session, programmes: Path) -> None:
    admin = make_user(session, role=Role.ADMIN)
    make_notice(session, admin, wards=[BEN_THANH], kind=NoticeKind.RESTRICTION, text="Phong tỏa")
    cid = _subscribed(session)
    _, [reply] = await run(
        ActionAnswerLocal(),
        tracker(sender=cid, text="lịch tiêm ở xã mình", intent="ask_local_notice"),
    )
    assert reply["text"].startswith("Hiện chưa có thông báo nào về lịch tiêm chủng")
    assert "Phong tỏa" not in reply["text"]
    assert "1900 9095" in reply["text"]


async def test_a_place_not_found_is_asked_again_then_given_up(
    session: Session, programmes: Path
) -> None:
    cid = conversation_id()
    first = tracker(sender=cid, text="nhà tôi", intent="inform", form="area_form")
    dispatcher = CollectingDispatcher()
    events = await ValidateAreaForm().run(dispatcher, first, DOMAIN)
    assert SlotSet("local_area", None) in events
    assert SlotSet("local_area_tries", 1) in events
    assert "chưa tìm thấy nơi này" in dispatcher.messages[0]["text"]
    second = tracker(
        sender=cid,
        text="tôi không rõ",
        intent="inform",
        form="area_form",
        slots={"local_area_tries": 1},
    )
    events = await ValidateAreaForm().run(CollectingDispatcher(), second, DOMAIN)
    assert SlotSet("local_area", "none") in events
    _, [reply] = await run(
        ActionAnswerLocalAfterArea(),
        tracker(sender=cid, text="tôi không rõ", intent="inform", slots={"local_area": "none"}),
    )
    assert "chưa xác định được nơi bạn ở" in reply["text"]
    assert session.scalars(select(ResidentArea)).all() == []


async def test_a_province_alone_is_enough_for_province_wide_answers(
    session: Session, programmes: Path
) -> None:
    cid = conversation_id()
    answer = tracker(sender=cid, text="Hà Nội", intent="inform", form="area_form")
    events = await ValidateAreaForm().run(CollectingDispatcher(), answer, DOMAIN)
    assert SlotSet("local_area", "province:01") in events
    _, [reply] = await run(
        ActionAnswerLocalAfterArea(),
        tracker(
            sender=cid,
            text="Hà Nội",
            intent="inform",
            slots={"local_topic": "aid", "local_question": "", "local_area": "province:01"},
        ),
    )
    assert "Chương trình ha-noi" in reply["text"]
    assert "Chương trình ben-thanh" not in reply["text"]


async def test_many_long_notices_fit_one_message(session: Session, programmes: Path) -> None:
    admin = make_user(session, role=Role.ADMIN)
    for n in range(5):
        make_notice(session, admin, wards=[BEN_THANH], text=f"Thông báo {n}: " + "x" * 900)
    cid = _subscribed(session)
    _, [reply] = await run(
        ActionAnswerLocal(),
        tracker(sender=cid, text="phường có thông báo gì không", intent="ask_local_notice"),
    )
    assert len(reply["text"]) < 2000  # Zalo's limit
    assert "thông báo khác" in reply["text"]
