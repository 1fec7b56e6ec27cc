"""Conversations through the web chat API against the real stack."""

from __future__ import annotations

import uuid

import pytest
import yaml

from tests.e2e.conftest import LiveStack, hand_back_all, handoffs, say

pytestmark = pytest.mark.e2e


def conversation_id(client) -> str:
    return f"web:{client.cookies['hotline_chat']}"


def test_ready_checks_every_process(live_stack: LiveStack) -> None:
    with live_stack.chat() as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "ready": True,
        "checks": {"database": "ok", "rasa": "ok", "action_server": "ok"},
    }


def test_chat_page_is_vietnamese(live_stack: LiveStack) -> None:
    with live_stack.chat() as client:
        page = client.get("/")
    assert page.status_code == 200
    assert 'lang="vi"' in page.text
    assert "Tổng đài hỗ trợ" in page.text
    assert "hotline_chat" in page.headers.get("set-cookie", "") or client.cookies


def test_greet_says_what_the_bot_does_with_buttons(live_stack: LiveStack) -> None:
    with live_stack.chat() as client:
        replies = say(client, "chao ad")
    assert "khai báo y tế" in replies[0]["text"]
    payloads = [b["payload"] for b in replies[0]["buttons"]]
    assert "/health_declaration" in payloads
    assert "/request_aid" in payloads


@pytest.mark.parametrize(
    "text",
    ["mẹ tôi khó thở lắm, môi tím tái rồi", "ba e ngat xiu r cuu voi", "spo2 con 85 thoi"],
)
def test_emergency_gives_115_first_and_marks_for_a_person(live_stack: LiveStack, text: str) -> None:
    with live_stack.chat() as client:
        replies = say(client, text)
        cid = conversation_id(client)
    assert "115" in replies[0]["text"].splitlines()[0]
    assert (cid, "emergency") in handoffs(live_stack)


def test_two_misunderstandings_offer_a_person_then_record_the_wish(
    live_stack: LiveStack,
) -> None:
    with live_stack.chat() as client:
        first = say(client, "qwzx plom trnk")
        second = say(client, "vbnm sdfg hjkl")
        assert "chưa hiểu" in first[0]["text"]
        assert "nhân viên" in second[0]["text"]
        assert "/human_handoff" in [b["payload"] for b in second[0]["buttons"]]
        accepted = say(client, "/human_handoff")
        cid = conversation_id(client)
    assert "nhân viên" in accepted[0]["text"]
    assert (cid, "misunderstood") in handoffs(live_stack)


def test_faq_answers_come_from_the_content_files_without_retraining(
    live_stack: LiveStack,
) -> None:
    facts_path = live_stack.content_dir / "facts.yml"
    facts = yaml.safe_load(facts_path.read_text(encoding="utf-8"))
    with live_stack.chat() as client:
        before = say(client, "cho xin so duong day nong")
        assert facts["hotlines"]["moh"]["number"] in before[0]["text"]
        facts["hotlines"]["moh"]["number"] = "1900 0000 (đã đổi)"
        facts_path.write_text(yaml.safe_dump(facts, allow_unicode=True), encoding="utf-8")
        after = say(client, "số tổng đài là bao nhiêu vậy")
    assert "1900 0000 (đã đổi)" in after[0]["text"]


def test_known_rumour_is_rebutted(live_stack: LiveStack) -> None:
    with live_stack.chat() as client:
        replies = say(client, "nghe nói uống nước chanh nóng diệt được virus có đúng ko")
    assert replies[0]["text"].startswith("Tin này không đúng")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "chưa nhập nội dung"),
        ("   \n\t ", "chưa nhập nội dung"),
        ("a" * 10_000, "dài quá"),
        ("😀😀😀", "chưa hiểu"),
        ("<script>alert('x')</script>", "chưa hiểu"),
        ("Hello, how can I book a flight to Paris?", "ngoài phạm vi"),
        ("\x00\x01\x02", "chưa nhập nội dung"),
    ],
)
def test_bad_input_gets_a_short_vietnamese_answer(
    live_stack: LiveStack, text: str, expected: str
) -> None:
    with live_stack.chat() as client:
        replies = say(client, text)
    assert replies
    assert expected in replies[0]["text"]


def test_malformed_requests_get_4xx_with_a_reason(live_stack: LiveStack) -> None:
    with live_stack.chat() as client:
        wrong_type = client.post("/api/chat/messages", json={"text": 123})
        not_json = client.post(
            "/api/chat/messages", content=b"\xff\xfe{", headers={"content-type": "application/json"}
        )
        missing = client.post("/api/chat/messages", json={})
        bad_id = client.post("/api/chat/messages", json={"text": "chào", "message_id": "../x"})
        huge = client.post("/api/chat/messages", content=b"x" * 1_000_000)
    for response in (wrong_type, not_json, missing, bad_id):
        assert response.status_code in (400, 422)
        assert response.json()["detail"]
    assert huge.status_code == 413


def test_a_retried_message_is_one_turn(live_stack: LiveStack) -> None:
    message_id = uuid.uuid4().hex
    with live_stack.chat() as client:
        first = say(client, "cho mình hỏi chỗ xét nghiệm", message_id)
        again = say(client, "cho mình hỏi chỗ xét nghiệm", message_id)
        tracker = live_stack.rasa_tracker(conversation_id(client))
    assert first == again
    user_turns = [e for e in tracker["events"] if e["event"] == "user"]
    assert len(user_turns) == 1


def test_resident_sees_and_deletes_their_data(live_stack: LiveStack) -> None:
    with live_stack.chat() as client:
        say(client, "tôi muốn gặp nhân viên")
        cid = conversation_id(client)
        hand_back_all(live_stack, cid)  # staff answered; the bot has the conversation again
        seen = say(client, "cho tôi xem thông tin của tôi")
        assert "đề nghị gặp nhân viên" in seen[0]["text"]
        ask = say(client, "xóa thông tin của tôi đi")
        assert "/affirm" in [b["payload"] for b in ask[0]["buttons"]]
        done = say(client, "/affirm")
        assert "đã xóa" in done[0]["text"]
        assert cid not in [c for c, _ in handoffs(live_stack)]
        after = say(client, "xem dữ liệu của tôi")
    # Erased: no hand-off any more; only this new message (the transcript keeps every message).
    assert "đề nghị gặp nhân viên" not in after[0]["text"]
    assert "Nội dung 1 tin nhắn" in after[0]["text"]


def test_personal_data_stays_out_of_logs(live_stack: LiveStack) -> None:
    secret_phone = "0987654321"
    secret_text = f"nhà tôi ở số {uuid.uuid4().hex[:8]} và sđt {secret_phone}"
    with live_stack.chat() as client:
        say(client, secret_text)
        cid = conversation_id(client)
    logs = live_stack.logs()
    assert logs  # the processes did write logs
    assert secret_phone not in logs
    assert secret_text.split()[4] not in logs
    assert cid.split(":")[1] not in logs
