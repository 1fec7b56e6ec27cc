"""Staff take over Telegram and Zalo conversations on the real stack (platforms faked): the
reply reaches the platform, and what the resident writes meanwhile never reaches Rasa."""

from __future__ import annotations

import re
import secrets
import time

import httpx
import pytest

from bot.users.models import Role
from tests.browser.support import create_account
from tests.e2e.conftest import ChannelFakes, LiveStack
from tests.e2e.test_channels import TelegramUser, _wait, _zalo_post, zalo_resident
from tests.fakes import zalo_api

pytestmark = pytest.mark.e2e


def _rasa_user_texts(stack: LiveStack, conversation_id: str) -> list[str]:
    return [
        e.get("text") or ""
        for e in stack.rasa_tracker(conversation_id)["events"]
        if e["event"] == "user"
    ]


def _staff(stack: LiveStack) -> httpx.Client:
    username, password = create_account(stack, role=Role.STAFF, display_name="Lê Văn Minh")
    client = httpx.Client(base_url=stack.web_url, timeout=30, follow_redirects=True)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    data = {"username": username, "password": password, "csrf_token": token[1]}
    assert client.post("/login", data=data).status_code == 200
    return client


def _take_over_and_reply(stack: LiveStack, conversation_id: str, held: str, text: str) -> None:
    """As a staff member: find the conversation in the queue, wait for the held message in its
    thread, claim it and reply."""
    staff = _staff(stack)
    try:

        def handoff_id() -> int | None:
            for match in re.finditer(r'href="/console/c/(\d+)"', staff.get("/console").text):
                if held in staff.get(f"/console/c/{match[1]}/thread").text:
                    return int(match[1])
            return None

        found = _wait(handoff_id, timeout=60)
        page = staff.get(f"/console/c/{found}")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        assert staff.post(f"/console/c/{found}/claim", data={"csrf_token": token[1]}).is_success
        reply = staff.post(f"/console/c/{found}/reply", data={"csrf_token": token[1], "text": text})
        assert reply.is_success
        assert "Lê Văn Minh" in reply.text
    finally:
        staff.close()
    assert held not in " ".join(_rasa_user_texts(stack, conversation_id))


def test_telegram_takeover(live_stack: LiveStack, channel_fakes: ChannelFakes) -> None:
    chat_id = 800_000_000 + secrets.randbelow(100_000_000)
    user = TelegramUser(live_stack, channel_fakes, chat_id)
    assert "nhân viên" in user.say("tôi muốn gặp nhân viên")[0].params["text"]
    held = f"nhà tôi ở hẻm {secrets.randbelow(10**6)}"
    message = {
        "message_id": 99,
        "from": {"id": chat_id, "is_bot": False, "first_name": "Lan"},
        "chat": {"id": chat_id, "type": "private"},
        "date": int(time.time()),
        "text": held,
    }
    assert user._post({**user._base(), "message": message}) == 200
    text = "Chào bạn, tôi là Minh ở tổng đài. Tôi đã nhận được địa chỉ."
    _take_over_and_reply(live_stack, f"telegram:{chat_id}", held, text)
    _wait(lambda: any(c.params.get("text") == text for c in user._replies()))


def test_zalo_takeover(live_stack: LiveStack, channel_fakes: ChannelFakes) -> None:
    user_id = str(5_000_000_000 + secrets.randbelow(10**9))
    say = zalo_resident(live_stack, channel_fakes, user_id)
    assert "nhân viên" in say("tôi muốn gặp nhân viên")[0]
    held = f"số nhà {secrets.randbelow(10**6)}"
    now = str(int(time.time() * 1000))
    event = {
        "app_id": zalo_api.APP_ID,
        "event_name": "user_send_text",
        "timestamp": now,
        "sender": {"id": user_id},
        "recipient": {"id": "388613280878808645"},
        "message": {"text": held, "msg_id": f"held{user_id}{now}"},
    }
    assert _zalo_post(live_stack, event) == 200
    text = "Chào bạn, tôi là Minh ở tổng đài Zalo."
    _take_over_and_reply(live_stack, f"zalo:{user_id}", held, text)
    _wait(lambda: any(s.user_id == user_id and s.text == text for s in channel_fakes.zalo.sent))
