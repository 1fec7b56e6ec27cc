"""One settings object per process, read from the environment (and `.env`), validated at start."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_SECRETS = {"", "change-me", "dev-rasa-token", "dev-secret-key", "dev-action-token"}
_CHANNEL_SECRETS = (
    "telegram_bot_token",
    "telegram_webhook_secret",
    "zalo_app_secret",
    "zalo_oa_secret_key",
)


class Settings(BaseSettings):
    """Everything a process of the hotline needs to know about where it runs."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"

    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'hotline.db'}"
    redis_url: str | None = None

    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: SecretStr = SecretStr("dev-rasa-token")
    action_server_url: str = "http://127.0.0.1:5055"  # what Rasa calls
    action_server_host: str = "127.0.0.1"  # the interface it listens on (loopback by default)
    # Rasa sends it with every action call (Authorization: Bearer …); anything else is refused.
    action_server_token: SecretStr = SecretStr("dev-action-token")
    rasa_timeout_seconds: float = 30.0
    # Several Rasa servers sharing Redis tracker and lock stores (`hotline run --role rasa` on
    # each): the web app and the workers spread conversations over them, each conversation on
    # the same server while it answers, on the next one when it does not. Comma-separated;
    # empty: RASA_URL alone.
    rasa_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # With several Rasa servers each calling its own action server (one pair per machine):
    # those action servers, in the order of RASA_URLS. A turn skips a server whose action
    # server is down. Empty: every Rasa server calls ACTION_SERVER_URL.
    action_server_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # A server that refused a connection is skipped for this long before it is tried again.
    rasa_down_seconds: float = Field(default=5.0, ge=0)
    # Where `hotline run --role rasa` / `--role actions` listen (default: the host and port of
    # RASA_URL / ACTION_SERVER_URL, loopback); `--host` / `--port` override them.
    rasa_host: str | None = None
    rasa_port: int | None = None
    action_server_port: int | None = None

    web_host: str = "127.0.0.1"
    web_port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr = SecretStr("dev-secret-key")

    # Staff sign-in (console, team workspace, dashboard). Sessions live in Redis (or the
    # in-process stand-in) and end after this much inactivity, or this long after sign-in.
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_absolute_hours: int = Field(default=12, ge=1, le=7 * 24)
    login_max_failures: int = Field(default=5, ge=1)  # then the username is locked …
    login_lockout_minutes: int = Field(default=15, ge=1)  # … for this long
    login_ip_max_failures: int = Field(default=30, ge=1)  # failed sign-ins from one address …
    login_ip_window_minutes: int = Field(default=15, ge=1)  # … within this window

    # `hotline run` restarts a process that dies, waiting base × 2ⁿ (at most max) seconds, and
    # gives up (stopping everything) after `limit` restarts of one process within `window`.
    supervisor_restart_limit: int = 5
    supervisor_restart_window_seconds: float = 300.0
    supervisor_backoff_base_seconds: float = 1.0
    supervisor_backoff_max_seconds: float = 30.0

    # The hotline staff's Telegram group: told at once when an emergency cannot be put in the
    # staff queue (database down). Empty: such failures are only logged at ERROR.
    staff_telegram_chat_id: str = ""

    content_dir: Path = PROJECT_ROOT / "data" / "content"
    max_message_chars: int = 2000
    # An advisory to more residents than this needs a second admin's approval.
    advisory_approval_threshold: int = Field(default=100, ge=0)

    # Channels. A channel whose credentials are unset is off (its webhook answers 404).
    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    telegram_bot_username: str = ""  # for the "message me privately" link in groups
    telegram_messages_per_second: int = 30  # Bot API: about 30 messages per second overall
    telegram_chat_interval_seconds: float = 1.0  # and about one per second in a chat
    # The admins' Telegram group for the daily report (`hotline report daily --send`, run by
    # cron at the hour you choose); without it the report stays on /admin/report.
    report_telegram_chat_id: str | None = None
    # Rasa's event broker (hotline_nlu/stats_broker.py) counts messages per day, intent and
    # channel (no text, no id) for the dashboard and the report, writing every so many seconds.
    intent_stats_enabled: bool = True
    intent_stats_flush_seconds: float = Field(default=5.0, gt=0, le=300)

    zalo_app_id: str = ""
    zalo_app_secret: SecretStr | None = None  # for OAuth (token refresh)
    zalo_oa_secret_key: SecretStr | None = None  # for the webhook signature
    zalo_access_token: SecretStr | None = None  # first pair only; later pairs live in the database
    zalo_refresh_token: SecretStr | None = None
    zalo_api_base_url: str = "https://openapi.zalo.me"
    zalo_oauth_base_url: str = "https://oauth.zaloapp.com"
    zalo_webhook_max_age_seconds: int = 24 * 3600  # 0: accept any timestamp (recorded samples)
    zalo_token_refresh_margin_seconds: int = 3600  # refresh this long before expiry
    zalo_messages_per_second: int = 20

    # The workers (inbound jobs and every outbound message: bot replies, team notifications,
    # staff replies…): in the web app's process by default, or `hotline worker`.
    worker_in_process: bool = True
    jobs_stream: str = "hotline:jobs"  # the Redis stream of queued jobs
    worker_concurrency: int = 50
    worker_claim_idle_seconds: float = 120.0  # a job unacknowledged this long is taken over
    # The one retry policy of every send (bot/outbound/policy.py).
    outbound_max_attempts: int = 12
    outbound_backoff_base_seconds: float = 0.5
    outbound_backoff_max_seconds: float = 60.0

    # Personal data is kept at most this long (the consent texts promise 12 months), then
    # purged by the worker (and `hotline privacy purge`) every PRIVACY_PURGE_INTERVAL_HOURS.
    privacy_retention_months: int = Field(default=12, ge=1, le=120)
    privacy_purge_interval_hours: float = Field(default=24.0, gt=0)

    @field_validator("rasa_urls", "action_server_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if len(self.rasa_urls) > 1 and not self.redis_url:
            # Each server would keep its own conversations in memory: a failover loses them.
            raise ValueError(
                "several RASA_URLS share conversations only through Redis: set REDIS_URL"
            )
        if self.action_server_urls and len(self.action_server_urls) != len(self.rasa_urls):
            raise ValueError("ACTION_SERVER_URLS needs one action server per RASA_URLS entry")
        if self.env == "production":
            for name in ("rasa_token", "secret_key", "action_server_token"):
                if getattr(self, name).get_secret_value() in PLACEHOLDER_SECRETS:
                    raise ValueError(f"{name.upper()} must be set to a real secret in production")
            for name in _CHANNEL_SECRETS:
                value = getattr(self, name)
                if value is not None and value.get_secret_value() in PLACEHOLDER_SECRETS:
                    raise ValueError(f"{name.upper()} must be a real secret in production")
        if not self.action_server_token.get_secret_value():
            raise ValueError("ACTION_SERVER_TOKEN must not be empty")
        # Without the secret the resident webhook stays off (team notifications and long polling
        # still work), which in production is a forgotten setting rather than a choice.
        if (
            self.env == "production"
            and self.telegram_bot_token is not None
            and not self.telegram_webhook_secret
        ):
            raise ValueError("TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_BOT_TOKEN")
        if self.zalo_app_id and not self.zalo_oa_secret_key:
            raise ValueError("ZALO_OA_SECRET_KEY is required with ZALO_APP_ID")
        if self.env == "production":
            self._refuse_example_content()
        return self

    def _refuse_example_content(self) -> None:
        # Residents never see an example value (fallbacks stand in), but a deployment that
        # still answers with fallbacks has not put in its own numbers and places yet.
        from bot.content.service import example_content_in_use

        examples = example_content_in_use(content_dir=self.content_dir)
        if examples:
            raise ValueError(
                "replies still use example content; replace it with verified values and mark "  # noqa: S608 — an error message, not SQL
                f"it verified in {self.content_dir} (`hotline content check` lists it): "
                + "; ".join(examples)
            )

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def zalo_enabled(self) -> bool:
        return bool(self.zalo_app_id)

    @property
    def secure_cookies(self) -> bool:
        """Cookies get the Secure flag when the public address is HTTPS."""
        return self.public_base_url.lower().startswith("https://")

    @property
    def rasa_servers(self) -> list[str]:
        """The Rasa servers the web app and the workers talk to (RASA_URLS, else RASA_URL)."""
        return list(self.rasa_urls) or [self.rasa_url.rstrip("/")]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """Returns the process's settings, read once."""
    return Settings()
