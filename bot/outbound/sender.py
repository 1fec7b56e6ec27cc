"""The one sender: every outbound message of the hotline leaves through `OutboundSender`.

It holds one connector per channel, one rate limiter per channel (shared across processes
through Redis) and the one retry policy; it records what admins must see (channel incidents,
residents who cannot be reached) and pauses a channel whose credentials are refused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from bot.channels.base import Channel
from bot.channels.incidents import record_incident, set_reachable
from bot.channels.models import IncidentKind
from bot.conversations.messages import OutboundReply
from bot.db.session import session_scope
from bot.outbound.models import SkipReason
from bot.outbound.policy import Action, Decision, RetryPolicy, describe
from bot.outbound.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

PAUSE_KEY = "outbound:paused:{channel}"


class ChannelPauses:
    """Channels paused after their credentials were refused, shared through Redis so every
    worker stops at once. Lifted by `hotline outbound resume CHANNEL` or a worker's restart
    (after the token was fixed)."""

    def __init__(self, redis: aioredis.Redis[str]) -> None:
        self._redis = redis

    async def pause(self, channel: str, reason: str) -> bool:
        """Pauses a channel; True when it was not paused yet."""
        return bool(await self._redis.set(PAUSE_KEY.format(channel=channel), reason, nx=True))

    async def is_paused(self, channel: str) -> bool:
        return bool(await self._redis.exists(PAUSE_KEY.format(channel=channel)))

    async def resume(self, channel: str) -> bool:
        """Lifts a pause; True when the channel was paused."""
        return bool(await self._redis.delete(PAUSE_KEY.format(channel=channel)))


@dataclass(frozen=True)
class Attempt:
    """The result of one try: `decision` None means delivered."""

    decision: Decision | None
    error: str | None = None

    @property
    def sent(self) -> bool:
        return self.decision is None


SENT = Attempt(None)


def _record(
    *,
    channel: str,
    kind: IncidentKind,
    conversation_id: str | None,
    code: str | None,
    detail: str,
    unreachable: bool,
) -> None:
    with session_scope() as session:
        record_incident(
            session=session,
            channel=channel,
            kind=kind,
            conversation_id=conversation_id,
            code=code,
            detail=detail,
        )
        if unreachable and conversation_id:
            set_reachable(session=session, conversation_id=conversation_id, reachable=False)


class OutboundSender:
    """Sends one message with the channel's rate limit, and classifies a failure."""

    def __init__(
        self,
        *,
        channels: Mapping[str, Channel],
        redis: aioredis.Redis[str],
        policy: RetryPolicy,
    ) -> None:
        self.channels = channels
        self.policy = policy
        self.pauses = ChannelPauses(redis)
        self._limiters = {
            name: RateLimiter(redis, channel=name, rate=channel.rate)
            for name, channel in channels.items()
        }

    async def try_once(
        self,
        *,
        channel: str,
        address: str | None,
        reply: OutboundReply,
        attempt: int,
        conversation_id: str | None = None,
        context: dict[str, Any] | None = None,
        on_admitted: Callable[[], None] | None = None,
    ) -> Attempt:
        """One try (the `attempt`-th, 1-based): sent, or what the retry policy decided.
        `on_admitted` is told when the rate limiter lets it go (before the platform call)."""
        connector = self.channels.get(channel)
        if connector is None or not address:
            return Attempt(Decision(Action.SKIP, SkipReason.NO_CHANNEL), "no channel")
        if await self.pauses.is_paused(channel):
            return Attempt(Decision(Action.PAUSE, "paused"), "channel paused")
        await self._limiters[channel].acquire(address)
        if on_admitted is not None:
            on_admitted()
        try:
            await connector.send(address=address, reply=reply, context=dict(context or {}))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 — classified below: every failure has one meaning
            decision = self.policy.decide(exc, attempt=attempt)
            error = describe(exc)
            await self._after_failure(channel, conversation_id, decision, exc, error)
            return Attempt(decision, error)
        return SENT

    async def deliver(
        self,
        *,
        channel: str,
        address: str | None,
        reply: OutboundReply,
        conversation_id: str | None = None,
        context: dict[str, Any] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        while_waiting: Callable[[], Awaitable[None]] | None = None,
    ) -> Attempt:
        """Sends now, retrying in place as the policy says (for a resident waiting on a turn)."""
        attempt = 0
        while True:
            attempt += 1
            result = await self.try_once(
                channel=channel,
                address=address,
                reply=reply,
                attempt=attempt,
                conversation_id=conversation_id,
                context=context,
            )
            if result.decision is None or result.decision.action is not Action.RETRY:
                return result
            logger.info(
                "send on %s failed (%s), attempt %d/%d, retry in %.2f s",
                channel,
                result.error,
                attempt,
                self.policy.max_attempts,
                result.decision.delay,
            )
            await sleep(result.decision.delay)
            if while_waiting is not None:
                await while_waiting()

    async def _after_failure(
        self,
        channel: str,
        conversation_id: str | None,
        decision: Decision,
        exc: BaseException,
        error: str,
    ) -> None:
        if decision.action is Action.RETRY:
            return
        code = getattr(exc, "code", None)
        if decision.action is Action.PAUSE:
            if not await self.pauses.pause(channel, error):
                return  # another message already paused it and alerted
            logger.error(
                "%s refused the hotline's credentials (%s): channel PAUSED, nothing is sent "
                "on it until the token is fixed and `hotline outbound resume %s` is run",
                channel,
                error,
                channel,
            )
        elif decision.action is Action.DEAD and decision.reason == "unexpected":
            logger.error("send on %s failed unexpectedly", channel, exc_info=exc)
        elif decision.action is Action.DEAD:
            logger.error(
                "%s: message not delivered after %d tries", channel, self.policy.max_attempts
            )
        else:
            logger.warning("%s: message skipped (%s, %s)", channel, decision.reason, code)
        if decision.incident is not None:
            await asyncio.to_thread(
                _record,
                channel=channel,
                kind=decision.incident,
                conversation_id=conversation_id,
                code=str(code)[:32] if code else None,
                detail=error,
                unreachable=decision.incident is IncidentKind.UNREACHABLE,
            )
