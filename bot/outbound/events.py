"""The "delivery state changed" hook: the console subscribes to show sent / failed live.

`DeliveryEvents` calls its listeners in this process and, when given Redis, also publishes
each change on a Redis pub/sub channel, so a console served by one process sees the changes
made by a `hotline worker` in another (`listen()`). Events carry ids and codes only.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass

import redis.asyncio as aioredis

from bot.outbound.models import OutboundMessage

logger = logging.getLogger(__name__)

PUBSUB_CHANNEL = "hotline:outbound:events"


@dataclass(frozen=True)
class DeliveryStateChanged:
    message_id: int
    status: str  # an OutboundStatus value
    kind: str
    channel: str
    conversation_id: str | None = None
    skip_reason: str | None = None
    attempts: int = 0

    @classmethod
    def of(cls, message: OutboundMessage) -> DeliveryStateChanged:
        """The event for a row's current state."""
        return cls(
            message_id=message.id,
            status=str(message.status),
            kind=message.kind,
            channel=message.channel,
            conversation_id=message.conversation_id,
            skip_reason=message.skip_reason,
            attempts=message.attempts,
        )

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, raw: str) -> DeliveryStateChanged:
        return cls(**json.loads(raw))


Listener = Callable[[DeliveryStateChanged], Awaitable[None] | None]


class DeliveryEvents:
    """A small publisher: `subscribe(listener)` returns a function that unsubscribes."""

    def __init__(self, redis: aioredis.Redis | None = None) -> None:
        self._redis = redis
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Calls `listener` (sync or async) with every change published from now on."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def publish(self, event: DeliveryStateChanged) -> None:
        """Tells every listener; a failing listener is logged and never stops delivery."""
        for listener in list(self._listeners):
            try:
                result = listener(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("a delivery-state listener failed")
        if self._redis is not None:
            try:
                await self._redis.publish(PUBSUB_CHANNEL, event.dumps())
            except Exception:  # live updates are a convenience; the row holds the truth
                logger.warning("could not publish a delivery-state change to Redis")


async def listen(redis: aioredis.Redis) -> AsyncIterator[DeliveryStateChanged]:
    """The changes published by every process sharing this Redis, as they happen."""
    pubsub = redis.pubsub()
    await pubsub.subscribe(PUBSUB_CHANNEL)
    try:
        async for message in pubsub.listen():
            if message.get("type") == "message":
                yield DeliveryStateChanged.loads(message["data"])
    finally:
        await pubsub.unsubscribe(PUBSUB_CHANNEL)
        await pubsub.reset()  # closes its connection (aclose() in redis-py 5+)
