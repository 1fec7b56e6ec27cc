"""Sends replies through the Bot API with python-telegram-bot, and maps its errors."""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from typing import Any

import redis.asyncio as aioredis
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from bot.channels.base import AuthFailed, Rejected, RetryLater, SendRate, Unreachable
from bot.conversations.messages import OutboundReply
from bot.settings import Settings
from connectors.telegram.parse import LONG_PAYLOAD_PREFIX, payload_digest
from connectors.text import split_text

logger = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
# Button payloads that become Telegram's own "share my phone / my location" buttons. A Rasa
# response asks for them with these payloads, e.g. `- title: "Gửi số điện thoại"
# payload: "/share_phone"`. Other buttons become inline buttons.
SHARE_PHONE = "/share_phone"
SHARE_LOCATION = "/share_location"
LONG_PAYLOAD_TTL_SECONDS = 30 * 24 * 3600


def make_bot(settings: Settings) -> tuple[Bot, list[HTTPXRequest]]:
    """A Bot for the configured API server (the real one, or a local fake in tests), and its
    request objects.

    The caller closes the requests: Bot.shutdown() skips them when the bot was never
    initialize()d, and we do not call getMe at start-up (a process must start offline).
    """
    assert settings.telegram_bot_token is not None
    base = settings.telegram_api_base_url.rstrip("/")
    requests = [
        HTTPXRequest(connection_pool_size=64, read_timeout=10, connect_timeout=5),
        # getUpdates holds its connection for the long-poll timeout: a request of its own.
        HTTPXRequest(connection_pool_size=1, read_timeout=40),
    ]
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=f"{base}/bot",
        base_file_url=f"{base}/file/bot",
        request=requests[0],
        get_updates_request=requests[1],
    )
    return bot, requests


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 deprecates the int form; accept both
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def _chat_id(address: str) -> int | str:
    """A chat id as the Bot API takes it: a number, or "@channelname"."""
    try:
        return int(address)
    except ValueError:
        if address.startswith("@"):
            return address
        raise Rejected("not a Telegram chat id", code="address") from None


class TelegramChannel:
    name = "telegram"

    def __init__(self, *, settings: Settings, redis: aioredis.Redis) -> None:
        self.bot, self._requests = make_bot(settings)
        self._redis = redis
        self.rate = SendRate(
            per_second=settings.telegram_messages_per_second,
            address_interval_seconds=settings.telegram_chat_interval_seconds,
        )

    @classmethod
    def from_settings(cls, settings: Settings, redis: aioredis.Redis) -> TelegramChannel | None:
        """The channel, or None when no bot token is set."""
        return cls(settings=settings, redis=redis) if settings.telegram_enabled else None

    async def aclose(self) -> None:
        for request in self._requests:
            await request.shutdown()

    async def acknowledge(self, *, address: str, context: dict[str, Any]) -> None:
        """Answers a button press (Telegram shows a spinner until then); best effort."""
        query_id = context.get("callback_query_id")
        if not query_id:
            return
        try:
            await self.bot.answer_callback_query(query_id)
        except TelegramError as exc:  # expired after 15 min; the reply still goes out
            logger.info("answerCallbackQuery failed: %s", type(exc).__name__)

    async def send(self, *, address: str, reply: OutboundReply, context: dict[str, Any]) -> None:
        chat_id = _chat_id(address)
        parts = split_text(reply.text or " ", MAX_TEXT)
        markup = await self._markup(reply) if reply.buttons else None
        # Only the last part carries the buttons. A retried multi-part reply resends its parts
        # (at-least-once); replies are short, so this is rare and harmless.
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            try:
                await self.bot.send_message(
                    chat_id=chat_id, text=part, reply_markup=markup if last else None
                )
            except RetryAfter as exc:
                raise RetryLater("429", after=_retry_seconds(exc), code="429") from exc
            except Forbidden as exc:  # blocked by the resident, or the chat is gone
                raise Unreachable("forbidden", code="403") from exc
            except ChatMigrated as exc:
                raise Rejected("chat migrated", code="migrated") from exc
            except InvalidToken as exc:  # 401 Unauthorized / 404 Not Found: the bot token
                raise AuthFailed("bot token refused", code="401") from exc
            except BadRequest as exc:  # Telegram's description, e.g. "Chat not found"
                raise Rejected(str(exc)[:200], code="400") from exc
            except (TimedOut, NetworkError) as exc:
                raise RetryLater(type(exc).__name__, code="network") from exc
            except TelegramError as exc:  # e.g. an unreadable answer from a proxy
                raise RetryLater(type(exc).__name__, code="telegram") from exc

    async def _markup(self, reply: OutboundReply) -> InlineKeyboardMarkup | ReplyKeyboardMarkup:
        payloads = {b.payload for b in reply.buttons}
        if payloads & {SHARE_PHONE, SHARE_LOCATION}:
            keys = [
                [
                    KeyboardButton(
                        b.title,
                        request_contact=b.payload == SHARE_PHONE or None,
                        request_location=b.payload == SHARE_LOCATION or None,
                    )
                ]
                for b in reply.buttons
            ]
            return ReplyKeyboardMarkup(keys, one_time_keyboard=True, resize_keyboard=True)
        rows = []
        for b in reply.buttons:
            data = b.payload
            if len(data.encode()) > MAX_CALLBACK_DATA:
                digest = payload_digest(data)
                await self._redis.set(f"tg:payload:{digest}", data, ex=LONG_PAYLOAD_TTL_SECONDS)
                data = f"{LONG_PAYLOAD_PREFIX}{digest}"
            rows.append([InlineKeyboardButton(b.title, callback_data=data)])
        return InlineKeyboardMarkup(rows)


async def resolve_long_payload(redis: aioredis.Redis, digest: str) -> str | None:
    """The payload behind a "p:<digest>" button, or None when it expired."""
    value = await redis.get(f"tg:payload:{digest}")
    return str(value) if value is not None else None
