"""One settings object per process, read from the environment (and `.env`), validated at start."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_SECRETS = {"", "change-me", "dev-rasa-token", "dev-secret-key"}


class Settings(BaseSettings):
    """Everything a process of the hotline needs to know about where it runs."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"

    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'hotline.db'}"
    redis_url: str | None = None

    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: SecretStr = SecretStr("dev-rasa-token")
    action_server_url: str = "http://127.0.0.1:5055"
    rasa_timeout_seconds: float = 30.0

    web_host: str = "127.0.0.1"
    web_port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr = SecretStr("dev-secret-key")

    # Team notifications (outbox). Without a token they wait in the outbox, seen in the console.
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    outbox_worker_in_web: bool = True  # else run `hotline worker` as its own process
    outbox_poll_seconds: float = 2.0

    content_dir: Path = PROJECT_ROOT / "data" / "content"
    max_message_chars: int = 2000

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.env == "production":
            for name in ("rasa_token", "secret_key"):
                if getattr(self, name).get_secret_value() in PLACEHOLDER_SECRETS:
                    raise ValueError(f"{name.upper()} must be set to a real secret in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """Returns the process's settings, read once."""
    return Settings()
