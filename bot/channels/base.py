"""What every channel offers the outbound path, and the ways a send can fail.

Connectors (connectors/telegram, connectors/zalo, later the web chat) implement `Channel` and
raise one of the `DeliveryError` subclasses; `bot/outbound/policy.py` is the one place that
decides what each of them means (retry, skip, dead letter, pause the channel).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bot.conversations.messages import OutboundReply

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    import typer
    from fastapi import APIRouter

    from bot.settings import Settings


class DeliveryError(Exception):
    """A send failed. Subclasses tell the outbound path what to do next.

    `reason` is a short code-like text for logs and incidents: never message text or personal
    data.
    """

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class RetryLater(DeliveryError):
    """Throttled or a passing fault: try again, not before `after` seconds (0: use backoff)."""

    def __init__(self, reason: str, *, after: float = 0.0, code: str | None = None) -> None:
        super().__init__(reason, code=code)
        self.after = after


class OutsideWindow(DeliveryError):
    """The platform will not let us message this resident now (e.g. Zalo's reply window).
    Recorded for staff; retrying would not help."""


class Unreachable(DeliveryError):
    """The resident blocked the bot or left (or the bot was removed from a team's group)."""


class Rejected(DeliveryError):
    """The platform refused this message itself (a bad request); retrying would not help."""


class AuthFailed(DeliveryError):
    """The platform refused our credentials (a wrong or revoked bot token): every message
    would fail the same way, so the channel is paused and the admins alerted."""


@dataclass(frozen=True)
class SendRate:
    """A channel's send limits: messages per second overall, and a minimum interval between
    two messages to one address."""

    per_second: int = 0
    address_interval_seconds: float = 0.0


class Channel(Protocol):
    """A connector as the outbound path sees it. `address` is the platform's id of the chat
    or user (the part after "telegram:" / "zalo:" in a conversation id, or a team's group)."""

    name: str
    rate: SendRate

    async def send(self, *, address: str, reply: OutboundReply, context: dict[str, Any]) -> None:
        """Sends one reply; raises a DeliveryError subclass on failure."""

    async def acknowledge(self, *, address: str, context: dict[str, Any]) -> None:
        """Acknowledges an inbound event before anything is sent (e.g. answers a Telegram
        button press, which shows a spinner until then); best effort, never raises."""

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ChannelPlugin:
    """What a connector brings: how to build its channel from the settings (None when its
    credentials are unset), its webhook route (a function, so that the CLI does not import
    the web stack) and its `hotline <name> …` commands."""

    name: str
    build: Callable[[Settings, aioredis.Redis], Channel | None]
    router: Callable[[], APIRouter] | None = None
    cli: typer.Typer | None = None
