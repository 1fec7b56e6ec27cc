"""Conversations over Telegram and Zalo against the real stack, the platforms faked.

The stack's web app runs its webhooks and its in-process delivery worker; the replies leave
through python-telegram-bot and zalo-sdk to the fake Bot API and the fake Zalo OpenAPI.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.zalo.signature import signature_header
from tests.e2e.conftest import (
    E2E_TELEGRAM_SECRET,
    E2E_ZALO_OA_SECRET,
    ChannelFakes,
    LiveStack,
    handoffs,
)
from tests.fakes import zalo_api
from tests.fakes.telegram_api import reply_markup

pytestmark = pytest.mark.e2e


def _wait(predicate: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("no reply in time")


class TelegramUser:
    def __init__(self, stack: LiveStack, fakes: ChannelFakes, chat_id: int) -> None:
        self.stack, self.fake, self.chat_id = stack, fakes.telegram, chat_id
        self.update_id = chat_id * 100

    def _post(self, update: dict[str, Any], secret: str = E2E_TELEGRAM_SECRET) -> int:
        response = httpx.post(
            f"{self.stack.web_url}/webhooks/telegram",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": secret},
            timeout=10,
        )
        return response.status_code

    def _replies(self) -> list[Any]:
        return [c for c in self.fake.sent() if c.params.get("chat_id") == str(self.chat_id)]

    def _exchange(self, update: dict[str, Any]) -> list[Any]:
        before = len(self._replies())
        assert self._post(update) == 200
        _wait(lambda: len(self._replies()) > before)
        time.sleep(0.5)  # a turn may have several replies
        return self._replies()[before:]

    def _base(self) -> dict[str, Any]:
        self.update_id += 1
        return {"update_id": self.update_id}

    def say(self, text: str) -> list[Any]:
        user = {"id": self.chat_id, "is_bot": False, "first_name": "Lan"}
        message = {
            "message_id": self.update_id,
            "from": user,
            "chat": {"id": self.chat_id, "type": "private", "first_name": "Lan"},
            "date": int(time.time()),
            "text": text,
        }
        return self._exchange({**self._base(), "message": message})

    def press(self, data: str) -> list[Any]:
        user = {"id": self.chat_id, "is_bot": False, "first_name": "Lan"}
        query = {
            "id": f"q{self.update_id}",
            "from": user,
            "chat_instance": "1",
            "data": data,
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": self.chat_id, "type": "private"},
                "text": "…",
            },
        }
        return self._exchange({**self._base(), "callback_query": query})


def test_telegram_conversation_greet_faq_handoff(
    live_stack: LiveStack, channel_fakes: ChannelFakes
) -> None:
    # Ids of this run only: Redis (event dedupe, Rasa's trackers) outlives a test run.
    chat_id = 700_000_000 + secrets.randbelow(100_000_000)
    user = TelegramUser(live_stack, channel_fakes, chat_id)
    # a forged webhook never reaches the bot
    assert user._post({"update_id": 1, "message": {}}, secret="forged") == 403

    greet = user.say("chao ad")
    assert "khai báo y tế" in greet[0].params["text"]
    buttons = [row[0]["callback_data"] for row in reply_markup(greet[0])["inline_keyboard"]]
    assert "/request_aid" in buttons and "/human_handoff" in buttons

    faq = user.say("xét nghiệm COVID ở đâu")
    assert "xét nghiệm" in faq[0].params["text"].lower()

    handoff = user.press("/human_handoff")
    assert "nhân viên" in handoff[0].params["text"]
    assert channel_fakes.telegram.sent("answerCallbackQuery")
    assert (f"telegram:{chat_id}", "asked") in handoffs(live_stack)


def _zalo_post(stack: LiveStack, data: dict[str, Any], secret: str = E2E_ZALO_OA_SECRET) -> int:
    body = json.dumps(data, ensure_ascii=False).encode()
    header = signature_header(
        app_id=zalo_api.APP_ID, body=body, timestamp=data["timestamp"], oa_secret_key=secret
    )
    response = httpx.post(
        f"{stack.web_url}/webhooks/zalo",
        content=body,
        headers={"Content-Type": "application/json", "X-ZEvent-Signature": header},
        timeout=10,
    )
    return response.status_code


def zalo_resident(
    stack: LiveStack, fakes: ChannelFakes, user_id: str
) -> Callable[[str], list[str]]:
    """Returns `say(text)`: a signed user_send_text webhook, then the replies it caused."""
    serial = iter(range(1000))

    def replies() -> list[str]:
        return [s.text for s in fakes.zalo.sent if s.user_id == user_id]

    def say(text: str) -> list[str]:
        before = len(replies())
        now = str(int(time.time() * 1000))
        event = {
            "app_id": zalo_api.APP_ID,
            "event_name": "user_send_text",
            "timestamp": now,
            "sender": {"id": user_id},
            "recipient": {"id": "388613280878808645"},
            "message": {"text": text, "msg_id": f"e2e{user_id}{now}{next(serial)}"},
        }
        assert _zalo_post(stack, event) == 200
        _wait(lambda: len(replies()) > before)
        time.sleep(0.5)  # a turn may have several replies
        return replies()[before:]

    return say


def test_zalo_conversation_greet_faq_handoff(
    live_stack: LiveStack, channel_fakes: ChannelFakes
) -> None:
    fake = channel_fakes.zalo
    user_id = str(8_800_000_000_000_000 + secrets.randbelow(10**12))
    say = zalo_resident(live_stack, channel_fakes, user_id)

    forged = {"app_id": zalo_api.APP_ID, "event_name": "user_send_text", "timestamp": "1"}
    assert _zalo_post(live_stack, forged, secret="not-the-oa-key") == 403

    greet = say("chao ad")
    assert "khai báo y tế" in greet[0]
    assert "\n1. Khai báo y tế\n" in greet[0]
    numbers = {
        line.split(". ", 1)[1]: line.split(".", 1)[0]
        for line in greet[0].splitlines()
        if line[:1].isdigit() and ". " in line
    }

    # the FAQ through a numbered choice: "4" stands for the "/ask_hotline" button
    faq = say(numbers["Số điện thoại cần biết"])
    assert faq[0].startswith("Các số điện thoại cần biết")

    faq = say("xét nghiệm COVID ở đâu")
    assert "xét nghiệm" in faq[0].lower()

    handoff = say("tôi muốn nói chuyện với nhân viên")
    assert "nhân viên" in handoff[0]
    assert (f"zalo:{user_id}", "asked") in handoffs(live_stack)
    assert fake.refresh_calls >= 1  # the first pair (unknown age) was refreshed before use


# The first message already says the need and the situation, so the form goes on from there.
AID_ANSWERS = ["nhà 4 người", "không có"]


def _aid_request_until_code(say: Callable[[str], list[str]]) -> str:
    """Walks the hardship form as a resident would; returns the text with the reference code."""
    consent = "\n".join(say("mất việc, nhà tôi hết gạo 2 ngày rồi, xin hỗ trợ"))
    assert "đồng ý" in consent.lower()
    say("/affirm")
    for answer in AID_ANSWERS:
        say(answer)
    if "tỉnh/thành nào" in "\n".join(say("ben thanh")):
        say("Hồ Chí Minh")
    say("12 Lê Lợi")
    summary = "\n".join(say("0912345678"))
    assert "Phường Bến Thành" in summary
    return "\n".join(say("/affirm"))


def test_telegram_aid_request_gets_a_reference_code(
    live_stack: LiveStack, channel_fakes: ChannelFakes
) -> None:
    user = TelegramUser(live_stack, channel_fakes, 700_000_000 + secrets.randbelow(100_000_000))
    done = _aid_request_until_code(lambda text: [c.params["text"] for c in user.say(text)])
    assert "Mã yêu cầu:" in done


def test_zalo_aid_request_gets_a_reference_code(
    live_stack: LiveStack, channel_fakes: ChannelFakes
) -> None:
    user_id = str(8_800_000_000_000_000 + secrets.randbelow(10**12))
    say = zalo_resident(live_stack, channel_fakes, user_id)

    done = _aid_request_until_code(say)
    assert "Mã yêu cầu:" in done
