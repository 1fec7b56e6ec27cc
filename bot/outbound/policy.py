"""The one retry policy: what a failed send means and when to try again.

Every sender of the hotline (bot replies in their turn, team notifications, staff replies…)
asks `RetryPolicy.decide` after a failure, so a 429, a blocked bot or a bad token is handled
the same way whatever the message.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from bot.channels.base import (
    AuthFailed,
    DeliveryError,
    OutsideWindow,
    Rejected,
    RetryLater,
    Unreachable,
)
from bot.channels.models import IncidentKind
from bot.outbound.models import SkipReason
from bot.settings import Settings


class Action(StrEnum):
    RETRY = "retry"  # try again after `delay` seconds
    SKIP = "skip"  # never deliverable (reason: a SkipReason); recorded, not retried
    DEAD = "dead"  # retries used up, or an error no retry can help: a dead letter
    PAUSE = "pause"  # the channel's credentials were refused: pause the whole channel


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str  # a SkipReason value, or an error code for the log
    delay: float = 0.0
    incident: IncidentKind | None = None


def describe(error: BaseException) -> str:
    """A short text for logs and `last_error`: the error's code and reason, never message text."""
    if isinstance(error, DeliveryError):
        return f"{error.code or '-'}: {error.reason}"[:300]
    return f"unexpected: {type(error).__name__}"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 12
    base_seconds: float = 0.5
    max_seconds: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_attempts=settings.outbound_max_attempts,
            base_seconds=settings.outbound_backoff_base_seconds,
            max_seconds=settings.outbound_backoff_max_seconds,
        )

    def backoff(self, attempt: int) -> float:
        """Delay after the `attempt`-th failure: doubling from the base, capped, with jitter."""
        delay = min(self.max_seconds, self.base_seconds * 2 ** max(attempt - 1, 0))
        return float(delay * (0.5 + random.random() / 2))  # jitter spreads the retries

    def decide(self, error: BaseException, *, attempt: int) -> Decision:
        """What to do after the `attempt`-th try (1-based) failed with `error`."""
        if isinstance(error, RetryLater):
            if attempt >= self.max_attempts:
                return Decision(
                    Action.DEAD, error.code or "retries", 0.0, IncidentKind.UNDELIVERABLE
                )
            delay = self.backoff(attempt)
            return Decision(Action.RETRY, error.code or "retry", max(error.after, delay))
        if isinstance(error, AuthFailed):
            return Decision(Action.PAUSE, error.code or "auth", 0.0, IncidentKind.AUTH_FAILED)
        if isinstance(error, OutsideWindow):
            return Decision(
                Action.SKIP, SkipReason.OUTSIDE_WINDOW, 0.0, IncidentKind.OUTSIDE_WINDOW
            )
        if isinstance(error, Unreachable):
            return Decision(Action.SKIP, SkipReason.UNREACHABLE, 0.0, IncidentKind.UNREACHABLE)
        if isinstance(error, Rejected):
            return Decision(Action.SKIP, SkipReason.REJECTED, 0.0, IncidentKind.REJECTED)
        # A bug or an error the connector did not map: retrying the same call would fail the
        # same way, so it goes to the dead letters at once (with an incident and a traceback).
        return Decision(Action.DEAD, "unexpected", 0.0, IncidentKind.UNDELIVERABLE)
