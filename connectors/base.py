"""What every channel connector offers the delivery worker, and how a send can fail."""

from __future__ import annotations

from typing import Any, Protocol

from bot.conversations.messages import OutboundReply


class DeliveryError(Exception):
    """A send failed. Subclasses tell the worker what to do next."""

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
    """The resident blocked the bot or left; marked not reachable."""


class Rejected(DeliveryError):
    """The platform refused this message itself (a bad request); retrying would not help."""


class Channel(Protocol):
    """A connector as the delivery worker sees it."""

    name: str

    async def send(
        self, *, conversation_id: str, reply: OutboundReply, context: dict[str, Any]
    ) -> None:
        """Sends one reply; raises a DeliveryError subclass on failure."""

    async def before_turn(self, *, conversation_id: str, context: dict[str, Any]) -> None:
        """Runs once before a turn's replies are sent (e.g. answers a Telegram button press)."""

    async def aclose(self) -> None: ...
