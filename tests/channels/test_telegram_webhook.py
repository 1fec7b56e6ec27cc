"""The Telegram webhook: secret first, fast acknowledgement, one job per update, 4xx on junk."""

from __future__ import annotations

import json

import pytest

from bot.settings import Settings
from tests.channels.conftest import fixture, running_app, telegram_headers

pytestmark = pytest.mark.usefixtures("committed_db")


@pytest.fixture
def webhook_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"worker_in_process": False})


async def _queued(app) -> int:  # type: ignore[no-untyped-def]
    return int(await app.state.queue.redis.xlen(app.state.queue.stream))


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"X-Telegram-Bot-Api-Secret-Token": "forged"}, 403)],
)
async def test_missing_or_forged_secret_is_refused_and_nothing_queued(
    webhook_settings, redis, rasa_client, headers, status
):
    async with running_app(webhook_settings, redis, rasa_client) as (app, client):
        response = await client.post(
            "/webhooks/telegram", json=fixture("telegram/text_message.json"), headers=headers
        )
        assert response.status_code == status
        assert await _queued(app) == 0


async def test_update_is_queued_once_even_when_delivered_twice(
    webhook_settings, redis, rasa_client
):
    async with running_app(webhook_settings, redis, rasa_client) as (app, client):
        body = fixture("telegram/text_message.json")
        for _ in range(3):
            response = await client.post(
                "/webhooks/telegram", json=body, headers=telegram_headers()
            )
            assert response.status_code == 200
        assert await _queued(app) == 1
        job = (await app.state.queue.read("t", count=10, block_ms=10))[0][1]
        assert job.conversation_id == "telegram:1111111"
        assert job.message.text == "xin chao"
        assert job.message.platform_message_id == "10000"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[]", 400),
        (json.dumps({"update_id": "ten"}).encode(), 400),
        (json.dumps({"update_id": 5, "message": {"chat": "nope"}}).encode(), 400),
        (b"\xff\xfe", 400),
    ],
)
async def test_malformed_bodies_get_4xx(webhook_settings, redis, rasa_client, body, status):
    async with running_app(webhook_settings, redis, rasa_client) as (app, client):
        response = await client.post("/webhooks/telegram", content=body, headers=telegram_headers())
        assert response.status_code == status
        assert await _queued(app) == 0


async def test_a_5mb_body_is_refused(webhook_settings, redis, rasa_client):
    async with running_app(webhook_settings, redis, rasa_client) as (app, client):
        big = b'{"update_id": 1, "x": "' + b"a" * (5 * 1024 * 1024) + b'"}'
        response = await client.post("/webhooks/telegram", content=big, headers=telegram_headers())
        assert response.status_code == 413

        async def chunks():  # no Content-Length: the route's own limit answers
            for _ in range(80):
                yield b"a" * 65536

        response = await client.post(
            "/webhooks/telegram", content=chunks(), headers=telegram_headers()
        )
        assert response.status_code == 413
        assert await _queued(app) == 0


async def test_group_message_gets_a_pointer_to_a_private_chat(webhook_settings, redis, rasa_client):
    async with running_app(webhook_settings, redis, rasa_client) as (app, client):
        body = fixture("telegram/group_command.json")
        assert (
            await client.post("/webhooks/telegram", json=body, headers=telegram_headers())
        ).status_code == 200
        job = (await app.state.queue.read("t", count=10, block_ms=10))[0][1]
        assert job.kind == "replies"
        assert "nhắn riêng" in job.replies[0].text
        assert "https://t.me/hotline_test_bot" in job.replies[0].text


async def test_channel_off_answers_404(settings, redis, rasa_client):
    off = settings.model_copy(update={"telegram_bot_token": None, "worker_in_process": False})
    async with running_app(off, redis, rasa_client) as (_, client):
        response = await client.post(
            "/webhooks/telegram",
            json=fixture("telegram/text_message.json"),
            headers=telegram_headers(),
        )
        assert response.status_code == 404
