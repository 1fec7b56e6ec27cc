"""Human takeover over Telegram, Zalo and the web chat, with the platform fakes: while staff own
a conversation the resident's messages never reach Rasa, and a staff reply reaches the
platform through the delivery worker with its state recorded in the thread."""

from __future__ import annotations

import asyncio
import copy
import json

import pytest
from sqlalchemy import delete, select

from bot.console.sender import queue_to_resident
from bot.console.service import Actor, claim, hand_back, staff_reply, transcript
from bot.db.session import session_scope
from bot.handoff.models import (
    ConversationMessage,
    HandoffOutcome,
    HandoffReason,
    HandoffRequest,
)
from bot.handoff.service import request_handoff
from bot.residents.models import Resident
from bot.web.chat_channel import chat_topic
from tests.channels.conftest import fixture, running_app, telegram_headers, wait_for, zalo_headers

pytestmark = pytest.mark.usefixtures("committed_db")
AN = Actor(id=1, name="Nguyễn An", role="staff")
CHAT = 7777001
ZALO_USER = "246845883529197922"


@pytest.fixture(autouse=True)
def _empty_console_tables(committed_db):  # type: ignore[no-untyped-def]
    yield
    with committed_db.begin() as conn:
        for model in (ConversationMessage, HandoffRequest, Resident):
            conn.execute(delete(model))


def _telegram(update_id: int, text: str) -> dict:
    body = copy.deepcopy(fixture("telegram/text_message.json"))
    body["update_id"] = update_id
    body["message"]["chat"]["id"] = CHAT
    body["message"]["from"]["id"] = CHAT
    body["message"]["message_id"] = update_id
    body["message"]["text"] = text
    return body


def _zalo(msg_id: str, text: str) -> bytes:
    data = copy.deepcopy(fixture("zalo/user_send_text.json"))
    data["message"].update({"text": text, "msg_id": msg_id})
    data["sender"]["id"] = ZALO_USER
    return json.dumps(data, ensure_ascii=False).encode()


def _queue(conversation_id: str) -> int:
    with session_scope() as session:
        return request_handoff(
            session=session, conversation_id=conversation_id, reason=HandoffReason.ASKED
        ).id


def _claim_and_reply(handoff_id: int, text: str) -> tuple[str, int]:
    with session_scope() as session:
        claim(session=session, handoff_id=handoff_id, actor=AN)
        handoff, message = staff_reply(session=session, handoff_id=handoff_id, actor=AN, text=text)
        conversation_id = handoff.resident.conversation_id
        queue_to_resident(
            session=session, conversation_id=conversation_id, message_id=message.id, text=text
        )
        return conversation_id, message.id


def _thread(handoff_id: int) -> list[tuple[str, str, str | None]]:
    with session_scope() as session:
        handoff = session.get(HandoffRequest, handoff_id)
        assert handoff is not None
        return [
            (m.author, m.text, m.delivery) for m in transcript(session=session, handoff=handoff)
        ]


def _state(handoff_id: int, text: str) -> str | None:
    return next((m[2] for m in _thread(handoff_id) if m[0] == "staff" and m[1] == text), None)


async def _staff_says(app, handoff_id: int, text: str) -> int:  # type: ignore[no-untyped-def]
    _, message_id = await asyncio.to_thread(_claim_and_reply, handoff_id, text)
    app.state.outbound_wake()  # as the console's reply route does after its commit
    return message_id


async def test_telegram_takeover(settings, redis, rasa_client, telegram_fake, fake_rasa):
    async with running_app(settings, redis, rasa_client) as (app, client):
        await client.post(
            "/webhooks/telegram", json=_telegram(1, "xin chào"), headers=telegram_headers()
        )
        await wait_for(lambda: len(telegram_fake.sent()) == 1)
        handoff_id = await asyncio.to_thread(_queue, f"telegram:{CHAT}")
        await client.post(
            "/webhooks/telegram",
            json=_telegram(2, "có ai không <b>?</b>"),
            headers=telegram_headers(),
        )
        await wait_for(lambda: len(_thread(handoff_id)) == 3)
        await _staff_says(app, handoff_id, "Chào bạn, tôi là nhân viên tổng đài.")
        await wait_for(lambda: len(telegram_fake.sent()) == 2)
        assert telegram_fake.sent()[1].params["text"] == "Chào bạn, tôi là nhân viên tổng đài."
        await wait_for(lambda: _state(handoff_id, "Chào bạn, tôi là nhân viên tổng đài.") == "sent")
        assert [t["message"] for t in fake_rasa.turns] == ["xin chào"]  # never the 2nd message
        thread = _thread(handoff_id)
        assert ("resident", "có ai không <b>?</b>", None) in thread
        assert thread[0] == ("resident", "xin chào", None)
        assert thread[1][0] == "bot"


async def test_zalo_takeover_and_outside_window(settings, redis, rasa_client, zalo_fake, fake_rasa):
    async with running_app(settings, redis, rasa_client) as (app, client):
        handoff_id = await asyncio.to_thread(_queue, f"zalo:{ZALO_USER}")
        body = _zalo("z1", "tôi cần người giúp")
        await client.post("/webhooks/zalo", content=body, headers=zalo_headers(body))
        await wait_for(lambda: any(m[1] == "tôi cần người giúp" for m in _thread(handoff_id)))
        await _staff_says(app, handoff_id, "Tôi đây, bạn cần gì?")
        await wait_for(lambda: len(zalo_fake.sent) == 1)
        assert zalo_fake.sent[0].text == "Tôi đây, bạn cần gì?"
        assert fake_rasa.turns == []
        zalo_fake.error_codes.append(-230)  # no interaction for 7 days
        await asyncio.to_thread(lambda: _staff_reply_only(handoff_id, "Bạn còn ở đó không?"))
        app.state.outbound_wake()
        await wait_for(lambda: _state(handoff_id, "Bạn còn ở đó không?") == "outside_window")


def _staff_reply_only(handoff_id: int, text: str) -> int:
    with session_scope() as session:
        handoff, message = staff_reply(session=session, handoff_id=handoff_id, actor=AN, text=text)
        queue_to_resident(
            session=session,
            conversation_id=handoff.resident.conversation_id,
            message_id=message.id,
            text=text,
        )
        return message.id


async def test_web_chat_gets_the_staff_reply_live_and_the_bot_is_back_after_hand_back(
    settings, redis, rasa_client, fake_rasa
):
    async with running_app(settings, redis, rasa_client) as (app, client):
        await client.get("/")
        key = client.cookies["hotline_chat"]
        conversation_id = f"web:{key}"
        first = await client.post("/api/chat/messages", json={"text": "chào"})
        assert first.json()["replies"][0]["text"] == "Đã nhận: chào"
        handoff_id = await asyncio.to_thread(_queue, conversation_id)
        held = await client.post("/api/chat/messages", json={"text": "cho tôi hỏi thêm"})
        assert held.json()["replies"] == []  # stored for staff, not sent to Rasa
        page = await app.state.live.subscribe(chat_topic(conversation_id))
        await _staff_says(app, handoff_id, "Tôi là An, tôi giúp bạn.")
        event = await page.get(timeout=10)
        assert event is not None
        assert event["text"] == "Tôi là An, tôi giúp bạn."
        assert event["from_person"] is True
        await wait_for(lambda: _state(handoff_id, "Tôi là An, tôi giúp bạn.") == "sent")

        def _close() -> None:
            with session_scope() as session:
                hand_back(
                    session=session,
                    handoff_id=handoff_id,
                    actor=AN,
                    outcome=HandoffOutcome.RESOLVED,
                )

        await asyncio.to_thread(_close)
        after = await client.post("/api/chat/messages", json={"text": "cảm ơn"})
        assert after.json()["replies"][0]["text"] == "Đã nhận: cảm ơn"
        assert [t["message"] for t in fake_rasa.turns] == ["chào", "cảm ơn"]
        page.close()
        with session_scope() as session:
            authors = session.scalars(
                select(ConversationMessage.author).order_by(ConversationMessage.id)
            ).all()
        assert authors[:4] == ["resident", "bot", "resident", "system"]
