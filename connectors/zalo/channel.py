"""Sends replies through the Zalo OA message API, and maps Zalo's error codes.

Zalo codes (zalo-sdk's table, Zalo OA docs "Mã lỗi"): -32 rate limited and -211/-311 out of
quota are retried with backoff; -213 (not a follower), -230 (no interaction in 7 days) and -305
(more than 48 h since the resident wrote) mean the resident is outside the reply window:
recorded for staff, not retried; -216/-124 (token expired) refresh the token and retry. A
token that cannot be had (no pair stored, refresh token or app secret refused) is an
authentication failure: the outbound path pauses the channel and alerts the admins.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import redis.asyncio as aioredis
import requests
import zalo_sdk

from bot.channels.base import (
    AuthFailed,
    DeliveryError,
    OutsideWindow,
    Rejected,
    RetryLater,
    SendRate,
    Unreachable,
)
from bot.conversations.messages import OutboundReply
from bot.settings import Settings
from connectors.text import split_text
from connectors.zalo.choices import remember_choices, with_choices
from connectors.zalo.client import ZaloHTTPError, send_text
from connectors.zalo.tokens import TokenUnavailable, ZaloTokens

logger = logging.getLogger(__name__)

MAX_TEXT = 2000
RETRY_CODES = {-32: 1.0, -211: 60.0, -311: 60.0, -218: 60.0}
WINDOW_CODES = {-213, -230, -305}
UNREACHABLE_CODES = {-217, -222, -227}
TOKEN_CODES = {-216, -124}


CHANNEL = "zalo"


def _token_error(exc: TokenUnavailable) -> DeliveryError:
    if exc.transient:
        return RetryLater("no access token yet", after=30, code="token")
    return AuthFailed("no usable access token", code="token")


class ZaloChannel:
    name = "zalo"

    def __init__(
        self, *, settings: Settings, redis: aioredis.Redis, tokens: ZaloTokens | None = None
    ) -> None:
        self._settings = settings
        self._redis = redis
        self.tokens = tokens or ZaloTokens(settings=settings)
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self.rate = SendRate(per_second=settings.zalo_messages_per_second)

    @classmethod
    def from_settings(cls, settings: Settings, redis: aioredis.Redis) -> ZaloChannel | None:
        """The channel, or None when no Zalo app is configured."""
        return cls(settings=settings, redis=redis) if settings.zalo_enabled else None

    async def aclose(self) -> None:
        self._session.close()
        await self.tokens.aclose()

    async def acknowledge(self, *, address: str, context: dict[str, Any]) -> None:
        return None

    async def send(self, *, address: str, reply: OutboundReply, context: dict[str, Any]) -> None:
        text = with_choices(reply)
        # Stored before sending: the resident may answer "1" as soon as the message arrives.
        await remember_choices(
            self._redis, f"{CHANNEL}:{address}", reply, turn=str(context.get("job_id", ""))
        )
        for part in split_text(text, MAX_TEXT):
            await self._send_part(address, part)

    async def _send_part(self, user_id: str, text: str) -> None:
        try:
            token = await self.tokens.access_token()
        except TokenUnavailable as exc:
            raise _token_error(exc) from exc
        try:
            await asyncio.to_thread(
                send_text,
                session=self._session,
                endpoint_prefix=self._settings.zalo_api_base_url.rstrip("/"),
                access_token=token,
                user_id=user_id,
                text=text,
            )
        except zalo_sdk.ZaloException as exc:
            code = int(getattr(exc, "_code", 0) or 0)
            await self._raise_for_code(code, str(exc), token)
        except ZaloHTTPError as exc:
            if exc.status in (429, 500, 502, 503, 504):
                raise RetryLater(f"HTTP {exc.status}", code=str(exc.status)) from exc
            raise Rejected(f"HTTP {exc.status}", code=str(exc.status)) from exc
        except (requests.RequestException, ValueError) as exc:
            raise RetryLater(type(exc).__name__, code="network") from exc

    async def _raise_for_code(self, code: int, reason: str, token: str) -> None:
        if code in TOKEN_CODES:
            try:
                await self.tokens.access_token(rejected=token)
            except TokenUnavailable as exc:
                raise _token_error(exc) from None
            raise RetryLater("token refreshed", code=str(code))
        if code in RETRY_CODES:
            raise RetryLater(reason, after=RETRY_CODES[code], code=str(code))
        if code in WINDOW_CODES:
            raise OutsideWindow(reason, code=str(code))
        if code in UNREACHABLE_CODES:
            raise Unreachable(reason, code=str(code))
        raise Rejected(reason, code=str(code))
