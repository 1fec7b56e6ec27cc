"""One publish/subscribe bus per process, fanned out through Redis when Redis is configured.

Pages subscribe to topics ("console" for every staff member, "chat:<conversation id>" for one
resident's web chat page). Without Redis a publish reaches this process's subscribers only,
which is all there is when the web app runs alone. With Redis every publish goes through one
pattern subscription per process, so web app processes, workers and the CLI all reach every
open page. Events are small dicts of ids and labels: the pages fetch what they show.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis

logger = logging.getLogger(__name__)

PREFIX = "hotline:live:"
QUEUE_SIZE = 256  # events kept for a slow page; beyond that the oldest are dropped


class Subscription:
    """Events of one topic for one page, in order; iterate with `async for`."""

    def __init__(self, bus: LiveBus, topic: str) -> None:
        self._bus = bus
        self.topic = topic
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)

    def put(self, event: dict[str, Any]) -> None:
        if self.queue.full():  # a page that stopped reading must not hold the others back
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(event)

    async def get(self, timeout: float | None = None) -> dict[str, Any] | None:  # noqa: ASYNC109 — the caller's bound on a wait
        """The next event, or None after `timeout` seconds without one."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    def close(self) -> None:
        self._bus._unsubscribe(self)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self.queue.get()


class LiveBus:
    """Publishes small JSON events to topics; `redis=None` keeps them in this process."""

    def __init__(self, redis: aioredis.Redis[str] | None = None) -> None:
        self._redis = redis
        self._subscribers: defaultdict[str, set[Subscription]] = defaultdict(set)
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Sends an event to every page subscribed to the topic (in any process with Redis)."""
        if self._redis is None:
            self._deliver(topic, event)
            return
        await self._redis.publish(PREFIX + topic, json.dumps(event, ensure_ascii=False))

    async def subscribe(self, topic: str) -> Subscription:
        """Starts receiving a topic's events; call `close()` on the subscription when done."""
        subscription = Subscription(self, topic)
        self._subscribers[topic].add(subscription)
        if self._redis is not None:
            if self._listener is None or self._listener.done():
                self._ready.clear()
                self._listener = asyncio.create_task(self._listen(), name="live-bus")
            await self._ready.wait()
        return subscription

    def subscriber_count(self, topic: str) -> int:
        return len(self._subscribers.get(topic, ()))

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    def _unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.topic)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[subscription.topic]

    def _deliver(self, topic: str, event: dict[str, Any]) -> None:
        for subscription in list(self._subscribers.get(topic, ())):
            subscription.put(event)

    async def _listen(self) -> None:
        """One Redis pattern subscription for the whole process, re-made after a failure."""
        if self._redis is None:
            raise RuntimeError("self._redis is missing")
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(PREFIX + "*")
                self._ready.set()
                async for message in pubsub.listen():
                    if message.get("type") != "pmessage":
                        continue
                    topic = str(message["channel"])[len(PREFIX) :]
                    try:
                        event = json.loads(message["data"])
                    except (TypeError, ValueError):
                        continue
                    self._deliver(topic, event)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("live bus lost Redis; resubscribing in 1 s")
                self._ready.set()  # subscribers wait no longer; events resume after reconnect
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[attr-defined]
