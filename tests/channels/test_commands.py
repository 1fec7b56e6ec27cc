"""`hotline telegram set-webhook` and `hotline telegram poll` against the fake Bot API."""

from __future__ import annotations

import asyncio

import pytest

from connectors.telegram import commands
from tests.channels.conftest import TELEGRAM_SECRET, fixture, wait_for

pytestmark = pytest.mark.usefixtures("committed_db")


@pytest.fixture
def patched(monkeypatch, settings, redis, rasa_client):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(commands, "get_settings", lambda: settings)
    monkeypatch.setattr(commands, "get_redis", lambda: redis)
    monkeypatch.setattr(commands, "RasaClient", lambda _settings: rasa_client)
    return settings


async def test_set_webhook_registers_url_and_secret(patched, telegram_fake):
    url = await commands.set_telegram_webhook(None)
    assert url == f"{patched.public_base_url}/webhooks/telegram"
    call = telegram_fake.sent("setWebhook")[0]
    assert call.params["url"] == url
    assert call.params["secret_token"] == TELEGRAM_SECRET


async def test_long_polling_runs_the_same_turns(patched, telegram_fake, fake_rasa):
    telegram_fake.updates.append(fixture("telegram/text_message.json"))
    stop = asyncio.Event()
    task = asyncio.create_task(commands.poll_telegram(stop=stop, timeout=1))
    try:
        await wait_for(lambda: len(telegram_fake.sent()) == 1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert telegram_fake.sent()[0].params["text"] == "Đã nhận: xin chao"
    assert len(telegram_fake.sent("deleteWebhook")) == 1
    assert len(fake_rasa.turns) == 1


async def test_long_polling_stops_on_a_refused_token(patched, telegram_fake, monkeypatch):
    """Telegram answers 404 for a token it does not know: say so and stop, not poll forever."""
    from pydantic import SecretStr

    wrong = patched.model_copy(update={"telegram_bot_token": SecretStr("999:not-this-bot")})
    monkeypatch.setattr(commands, "get_settings", lambda: wrong)
    with pytest.raises(commands.TokenRefused, match="TELEGRAM_BOT_TOKEN"):
        await asyncio.wait_for(commands.poll_telegram(stop=asyncio.Event(), timeout=1), 20)
