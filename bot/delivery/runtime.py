"""Builds one process's outbound path (channels, sender, events) and, when asked, its workers:
the inbound job worker and the outbound worker, started and stopped together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from bot.channels.base import Channel
from bot.conversations.pipeline import ConversationPipeline
from bot.delivery.queue import JobQueue
from bot.delivery.worker import DeliveryWorker
from bot.outbound.events import DeliveryEvents
from bot.outbound.policy import RetryPolicy
from bot.outbound.sender import OutboundSender
from bot.outbound.worker import OutboundWorker
from bot.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class Delivery:
    queue: JobQueue
    sender: OutboundSender
    events: DeliveryEvents
    channels: dict[str, Channel] = field(default_factory=dict)
    worker: DeliveryWorker | None = None
    outbound: OutboundWorker | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


@asynccontextmanager
async def delivery(
    *,
    settings: Settings,
    redis: aioredis.Redis,
    pipeline: ConversationPipeline,
    run_worker: bool,
    channels: dict[str, Channel],
    events: DeliveryEvents | None = None,
) -> AsyncIterator[Delivery]:
    """The queue and the sender over the given channels (built by bot/channels/registry.py),
    with the workers running when asked; the channels are closed on exit."""
    queue = JobQueue(redis, stream=settings.jobs_stream)
    await queue.ensure_group()
    sender = OutboundSender(
        channels=channels, redis=redis, policy=RetryPolicy.from_settings(settings)
    )
    result = Delivery(
        queue=queue, sender=sender, events=events or DeliveryEvents(redis), channels=channels
    )
    if run_worker:
        for name in channels:
            # A start is when an operator has fixed a refused token: try the channel again.
            if await sender.pauses.resume(name):
                logger.warning("%s was paused after a refused token; trying it again", name)
        result.worker = DeliveryWorker(
            settings=settings, queue=queue, pipeline=pipeline, sender=sender, events=result.events
        )
        result.outbound = OutboundWorker(sender=sender, events=result.events)
        result.tasks = [
            asyncio.create_task(result.worker.run(), name="delivery-worker"),
            asyncio.create_task(result.outbound.run(), name="outbound-worker"),
        ]
    try:
        yield result
    finally:
        if result.outbound is not None:
            result.outbound.stop()
        if result.worker is not None:
            await result.worker.stop()
        for task in result.tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        for channel in channels.values():
            try:
                await channel.aclose()
            except Exception:  # closing must not hide the reason we stop
                logger.exception("closing the %s connector failed", channel.name)
