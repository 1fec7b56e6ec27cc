"""Telegram end to end against the fake Bot API: webhook → queue → worker → pipeline → send."""

from __future__ import annotations

import asyncio
import copy

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channels.models import ChannelIncident
from bot.conversations.messages import InboundMessage, OutboundReply
from bot.conversations.pipeline import ConversationPipeline
from bot.delivery.queue import Job, JobQueue
from bot.delivery.worker import DeliveryWorker
from bot.outbound.policy import RetryPolicy
from bot.outbound.sender import OutboundSender
from bot.residents.models import Resident
from connectors.telegram.channel import TelegramChannel
from tests.channels.conftest import drained, fixture, running_app, telegram_headers, wait_for
from tests.fakes.telegram_api import reply_markup

pytestmark = pytest.mark.usefixtures("committed_db")


def _update(update_id: int, chat_id: int, text: str) -> dict:
    body = copy.deepcopy(fixture("telegram/text_message.json"))
    body["update_id"] = update_id
    body["message"]["chat"]["id"] = chat_id
    body["message"]["from"]["id"] = chat_id
    body["message"]["text"] = text
    return body


async def test_text_message_gets_the_bot_reply(
    settings, redis, rasa_client, telegram_fake, fake_rasa
):
    async with running_app(settings, redis, rasa_client) as (app, client):
        body = fixture("telegram/text_message.json")
        for _ in range(2):  # delivered twice by Telegram: one turn
            assert (
                await client.post("/webhooks/telegram", json=body, headers=telegram_headers())
            ).status_code == 200
        await wait_for(lambda: len(telegram_fake.sent()) == 1)
        await drained(app.state.queue)
        call = telegram_fake.sent()[0]
        assert call.params["chat_id"] == "1111111"
        assert call.params["text"] == "Đã nhận: xin chao"
        assert len(fake_rasa.turns) == 1


async def test_buttons_are_inline_and_a_press_is_answered(
    settings, redis, rasa_client, telegram_fake, fake_rasa
):
    async with running_app(settings, redis, rasa_client) as (_, client):
        await client.post(
            "/webhooks/telegram", json=_update(20, 1111111, "buttons"), headers=telegram_headers()
        )
        await wait_for(lambda: len(telegram_fake.sent()) == 1)
        markup = reply_markup(telegram_fake.sent()[0])
        assert markup == {
            "inline_keyboard": [
                [{"text": "Hỏi đáp", "callback_data": "/ask_testing"}],
                [{"text": "Gặp nhân viên", "callback_data": "/human_handoff"}],
            ]
        }
        press = fixture("telegram/callback_query.json")
        press["callback_query"]["data"] = "/human_handoff"
        await client.post("/webhooks/telegram", json=press, headers=telegram_headers())
        await wait_for(lambda: len(telegram_fake.sent()) == 2)
        assert (
            telegram_fake.sent("answerCallbackQuery")[0].params["callback_query_id"]
            == "4382bfdwdsb323b2d9"
        )
        assert fake_rasa.turns[-1]["message"] == "/human_handoff"


async def test_phone_is_asked_with_a_contact_button_and_the_contact_read(
    settings, redis, rasa_client, telegram_fake, fake_rasa
):
    async with running_app(settings, redis, rasa_client) as (_, client):
        await client.post(
            "/webhooks/telegram", json=_update(30, 1111111, "phone"), headers=telegram_headers()
        )
        await wait_for(lambda: len(telegram_fake.sent()) == 1)
        markup = reply_markup(telegram_fake.sent()[0])
        assert markup["keyboard"] == [[{"text": "Gửi số điện thoại", "request_contact": True}]]
        assert markup["one_time_keyboard"] is True
        await client.post(
            "/webhooks/telegram", json=fixture("telegram/contact.json"), headers=telegram_headers()
        )
        await wait_for(lambda: len(telegram_fake.sent()) == 2)
        assert fake_rasa.turns[-1]["message"] == "84912345678"


async def test_someone_elses_contact_is_not_taken_as_the_phone(
    settings, redis, rasa_client, telegram_fake, fake_rasa
):
    contact = fixture("telegram/contact.json")
    contact["message"]["contact"]["user_id"] = 999
    async with running_app(settings, redis, rasa_client) as (_, client):
        await client.post("/webhooks/telegram", json=contact, headers=telegram_headers())
        await wait_for(lambda: len(telegram_fake.sent()) == 1)
        assert "chỉ đọc được tin nhắn chữ" in telegram_fake.sent()[0].params["text"]
        assert fake_rasa.turns == []


async def test_location_suggests_the_nearest_ward(
    settings, redis, rasa_client, telegram_fake, fake_rasa
):
    async with running_app(settings, redis, rasa_client) as (_, client):
        await client.post(
            "/webhooks/telegram", json=fixture("telegram/location.json"), headers=telegram_headers()
        )
        await wait_for(lambda: len(telegram_fake.sent()) == 1)
        call = telegram_fake.sent()[0]
        assert "Phường Bến Thành, Thành phố Hồ Chí Minh" in call.params["text"]
        buttons = reply_markup(call)["inline_keyboard"]
        assert [b[0]["text"] for b in buttons] == ["Đúng", "Không phải"]
        assert fake_rasa.turns == []
        press = fixture("telegram/callback_query.json")
        press["callback_query"]["data"] = buttons[0][0]["callback_data"]
        await client.post("/webhooks/telegram", json=press, headers=telegram_headers())
        await wait_for(lambda: len(fake_rasa.turns) == 1)
        assert fake_rasa.turns[0]["message"] == "Tôi ở Phường Bến Thành, Thành phố Hồ Chí Minh"


async def test_payloads_over_64_bytes_travel_as_a_digest(
    settings, redis, rasa_client, telegram_fake, fake_rasa
):
    from bot.conversations.messages import ReplyButton

    payload = "Tôi ở Phường Thạnh Mỹ Tây, Thành phố Hồ Chí Minh, gần chợ Bà Chiểu"
    channel = TelegramChannel(settings=settings, redis=redis)
    await channel.send(
        address="1111111",
        reply=OutboundReply("Chọn:", [ReplyButton("Đúng", payload)]),
        context={},
    )
    await channel.aclose()
    data = reply_markup(telegram_fake.sent()[0])["inline_keyboard"][0][0]["callback_data"]
    assert data.startswith("p:") and len(data.encode()) <= 64
    async with running_app(settings, redis, rasa_client) as (_, client):
        press = fixture("telegram/callback_query.json")
        press["callback_query"]["data"] = data
        await client.post("/webhooks/telegram", json=press, headers=telegram_headers())
        await wait_for(lambda: len(fake_rasa.turns) == 1)
        assert fake_rasa.turns[0]["message"] == payload


async def test_photo_gets_the_text_only_reply(
    settings, redis, rasa_client, telegram_fake, fake_rasa
):
    async with running_app(settings, redis, rasa_client) as (_, client):
        await client.post(
            "/webhooks/telegram", json=fixture("telegram/photo.json"), headers=telegram_headers()
        )
        await wait_for(lambda: len(telegram_fake.sent()) == 1)
        assert "chỉ đọc được tin nhắn chữ" in telegram_fake.sent()[0].params["text"]
        assert fake_rasa.turns == []


async def test_long_replies_are_split(settings, redis, rasa_client, telegram_fake):
    channel = TelegramChannel(settings=settings, redis=redis)
    try:
        await channel.send(address="5", reply=OutboundReply("chữ " * 2000), context={})
    finally:
        await channel.aclose()
    parts = [c.params["text"] for c in telegram_fake.sent()]
    assert len(parts) == 2 and all(len(p) <= 4096 for p in parts)


async def _worker(settings, redis, rasa_client, sleeps=None):  # type: ignore[no-untyped-def]
    async def record(delay: float) -> None:
        if sleeps is not None:
            sleeps.append(delay)
        await asyncio.sleep(0)

    queue = JobQueue(redis)
    await queue.ensure_group()
    channel = TelegramChannel(settings=settings, redis=redis)
    pipeline = ConversationPipeline(settings=settings, rasa=rasa_client, redis=redis)
    worker = DeliveryWorker(
        settings=settings,
        queue=queue,
        pipeline=pipeline,
        sender=OutboundSender(
            channels={"telegram": channel}, redis=redis, policy=RetryPolicy.from_settings(settings)
        ),
        sleep=record,
    )
    return queue, channel, worker


async def test_429_retry_after_is_honoured(settings, redis, rasa_client, telegram_fake):
    sleeps: list[float] = []
    queue, channel, worker = await _worker(settings, redis, rasa_client, sleeps)
    telegram_fake.fail_next(429, retry_after=7)
    telegram_fake.fail_next(502)
    job = Job("turn", "telegram", "telegram:42", InboundMessage("telegram:42", "xin chào", "900"))
    entry = await queue.put(job)
    await worker.process(entry, job)
    await channel.aclose()
    assert len(telegram_fake.sent()) == 1  # delivered once, after the two failures
    assert sleeps[0] >= 7  # waited at least what Telegram asked
    assert sleeps[1] < 7  # the 502 used the ordinary backoff


async def test_blocked_bot_marks_the_resident_unreachable(
    settings, redis, rasa_client, telegram_fake, committed_db
):
    queue, channel, worker = await _worker(settings, redis, rasa_client)
    telegram_fake.fail_next(403)
    job = Job("turn", "telegram", "telegram:43", InboundMessage("telegram:43", "xin chào", "901"))
    await worker.process(await queue.put(job), job)
    await channel.aclose()
    with Session(committed_db) as session:
        resident = session.scalars(
            select(Resident).where(Resident.conversation_id == "telegram:43")
        ).one()
        assert resident.reachable is False
        incident = session.scalars(select(ChannelIncident)).one()
        assert (incident.kind, incident.code) == ("unreachable", "403")


async def test_no_reply_lost_when_30_percent_of_sends_fail(
    settings, redis, rasa_client, telegram_fake
):
    telegram_fake.random_failure_rate = 0.3
    chats, per_chat = 20, 3
    async with running_app(settings, redis, rasa_client) as (app, client):
        update_id = 1000
        for turn in range(per_chat):
            for chat in range(chats):
                update_id += 1
                body = _update(update_id, 5000 + chat, f"tin {turn} của {chat}")
                assert (
                    await client.post("/webhooks/telegram", json=body, headers=telegram_headers())
                ).status_code == 200
        await wait_for(lambda: len(telegram_fake.sent()) >= chats * per_chat, timeout=60)
        await drained(app.state.queue)
        delivered = [(c.params["chat_id"], c.params["text"]) for c in telegram_fake.sent()]
        expected = {
            (str(5000 + c), f"Đã nhận: tin {t} của {c}")
            for c in range(chats)
            for t in range(per_chat)
        }
        assert set(delivered) == expected  # nothing lost
        assert len(delivered) == len(expected)  # nothing doubled
        for chat in range(chats):  # and each resident's replies in order
            texts = [t for c, t in delivered if c == str(5000 + chat)]
            assert texts == [f"Đã nhận: tin {t} của {chat}" for t in range(per_chat)]


async def test_a_dead_workers_job_is_taken_over(settings, redis, rasa_client, telegram_fake):
    quick = settings.model_copy(update={"worker_claim_idle_seconds": 0.3})
    queue = JobQueue(redis)
    await queue.ensure_group()
    job = Job("turn", "telegram", "telegram:44", InboundMessage("telegram:44", "xin chào", "902"))
    await queue.put(job)
    assert len(await queue.read("worker-that-dies", count=1, block_ms=10)) == 1  # never acked
    async with running_app(quick, redis, rasa_client) as (app, _):
        await wait_for(lambda: len(telegram_fake.sent()) == 1)
        await drained(app.state.queue)
    assert len(telegram_fake.sent()) == 1


async def test_a_button_press_in_a_group_is_answered(
    settings, redis, rasa_client, telegram_fake, fake_rasa
):
    """A press in a team's group gets no turn, but Telegram's spinner must stop."""
    press = fixture("telegram/callback_query.json")
    press["update_id"] = 10077
    press["callback_query"]["id"] = "group-press-1"
    press["callback_query"]["message"]["chat"] = {
        "id": -100777,
        "type": "supergroup",
        "title": "Tổ",
    }
    async with running_app(settings, redis, rasa_client) as (app, client):
        response = await client.post("/webhooks/telegram", json=press, headers=telegram_headers())
        assert response.status_code == 200
        await wait_for(lambda: len(telegram_fake.sent()) == 1)
        await drained(app.state.queue)
    answered = telegram_fake.sent("answerCallbackQuery")
    assert [c.params["callback_query_id"] for c in answered] == ["group-press-1"]
    assert "nhắn riêng" in telegram_fake.sent()[0].params["text"]
    assert fake_rasa.turns == []
