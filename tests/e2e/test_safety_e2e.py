"""The safety layer over the real stack: 115 first and a hand-off row for a life-threatening
message, also in the middle of the aid form (which goes on afterwards), and no false alarm for
a question about SpO2."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import LiveStack, hand_back_all, handoffs, say

pytestmark = pytest.mark.e2e

FAINTED = "em gái tôi ngất xỉu trong phòng trọ"


def _cid(client) -> str:  # type: ignore[no-untyped-def]
    return f"web:{client.cookies['hotline_chat']}"


@pytest.mark.parametrize(
    "text",
    [
        FAINTED,
        # The classifier alone misses these (nlu_fallback, cancel with this model):
        "tôi không muốn sống nữa",
        "vợ tôi mang thai 7 tháng bị ra máu nhiều",
        "mẹ tôi lịm đi gọi không dậy",
    ],
)
def test_life_threatening_messages_get_115_first_and_a_handoff(
    live_stack: LiveStack, text: str
) -> None:
    with live_stack.chat() as client:
        replies = say(client, text)
        cid = _cid(client)
    assert replies[0]["text"].startswith("Hãy gọi ngay 115")
    assert (cid, "emergency") in handoffs(live_stack)


def test_in_the_middle_of_the_aid_form_115_first_then_a_person_answers(
    live_stack: LiveStack,
) -> None:
    with live_stack.chat() as client:
        say(client, "nhà tôi hết gạo, xin hỗ trợ")
        say(client, "/affirm")  # consent given: the form asks for the needs
        replies = say(client, FAINTED)
        cid = _cid(client)
        assert replies[0]["text"].startswith("Hãy gọi ngay 115")
        assert (cid, "emergency") in handoffs(live_stack)
        events_before = len(live_stack.rasa_tracker(cid)["events"])
        say(client, "gạo và mì tôm")  # now for the staff member, not the form
        # Held for staff: Rasa never saw it.
        assert len(live_stack.rasa_tracker(cid)["events"]) == events_before
    hand_back_all(live_stack, cid)


def test_a_question_about_spo2_is_not_an_emergency(live_stack: LiveStack) -> None:
    with live_stack.chat() as client:
        replies = say(client, "spo2 bao nhiêu là bình thường")
        cid = _cid(client)
    assert not replies[0]["text"].startswith("Hãy gọi ngay")
    assert (cid, "emergency") not in handoffs(live_stack)
