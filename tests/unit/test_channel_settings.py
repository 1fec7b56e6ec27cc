"""Channel settings: required pairs, and no placeholder secrets in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.settings import Settings

REAL = {"rasa_token": "r" * 32, "secret_key": "s" * 32, "action_server_token": "a" * 32}


def test_channels_are_off_without_credentials():
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert not settings.telegram_enabled and not settings.zalo_enabled


def test_telegram_needs_its_webhook_secret_in_production():
    with pytest.raises(ValidationError, match="TELEGRAM_WEBHOOK_SECRET"):
        Settings(_env_file=None, env="production", telegram_bot_token="1:abc", **REAL)  # type: ignore[call-arg]


def test_a_token_alone_serves_team_notifications_and_polling_elsewhere():
    settings = Settings(_env_file=None, telegram_bot_token="1:abc")  # type: ignore[call-arg]
    assert settings.telegram_enabled and settings.telegram_webhook_secret is None


def test_zalo_needs_the_oa_secret_key():
    with pytest.raises(ValidationError, match="ZALO_OA_SECRET_KEY"):
        Settings(_env_file=None, zalo_app_id="123")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "name", ["telegram_webhook_secret", "zalo_oa_secret_key", "zalo_app_secret"]
)
def test_production_refuses_placeholder_channel_secrets(name):
    values = {
        "telegram_bot_token": "1:abc",
        "telegram_webhook_secret": "t" * 32,
        "zalo_app_id": "123",
        "zalo_oa_secret_key": "z" * 32,
        "zalo_app_secret": "a" * 32,
        name: "change-me",
    }
    with pytest.raises(ValidationError, match=name.upper()):
        Settings(_env_file=None, env="production", **REAL, **values)  # type: ignore[call-arg]
