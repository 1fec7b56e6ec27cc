"""Builds the connectors, rate limits and worker of one process from its settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from bot.conversations.pipeline import ConversationPipeline
from bot.delivery.queue import Job, JobQueue
from bot.delivery.ratelimit import RateLimiter
from bot.delivery.worker import DeliveryWorker
from bot.live import LiveBus
from bot.settings import Settings
from connectors.base import Channel

logger = logging.getLogger(__name__)


@dataclass
class Delivery:
    queue: JobQueue
    channels: dict[str, Channel] = field(default_factory=dict)
    worker: DeliveryWorker | None = None
    task: asyncio.Task[None] | None = None


async def build_channels(
    settings: Settings, redis: aioredis.Redis, live: LiveBus | None = None
) -> dict[str, Channel]:
    """The connectors whose credentials are set (and the web chat, given the live bus)."""
    channels: dict[str, Channel] = {}
    if live is not None:
        from bot.web.chat_channel import WebChatChannel

        channels["web"] = WebChatChannel(live=live)
    if settings.telegram_enabled:
        from connectors.telegram.channel import TelegramChannel

        telegram = TelegramChannel(settings=settings, redis=redis)
        channels["telegram"] = telegram
    if settings.zalo_enabled:
        from connectors.zalo.channel import ZaloChannel

        channels["zalo"] = ZaloChannel(settings=settings, redis=redis)
    return channels


def build_limiters(settings: Settings, redis: aioredis.Redis) -> dict[str, RateLimiter]:
    return {
        "telegram": RateLimiter(
            redis,
            channel="telegram",
            per_second=settings.telegram_messages_per_second,
            chat_interval_seconds=settings.telegram_chat_interval_seconds,
        ),
        "zalo": RateLimiter(redis, channel="zalo", per_second=settings.zalo_messages_per_second),
    }


@asynccontextmanager
async def delivery(
    *,
    settings: Settings,
    redis: aioredis.Redis,
    pipeline: ConversationPipeline,
    run_worker: bool,
    channels: dict[str, Channel] | None = None,
    live: LiveBus | None = None,
    on_delivered: Callable[[Job, str], Awaitable[None]] | None = None,
) -> AsyncIterator[Delivery]:
    """The queue, the connectors and (when asked) a running worker, closed on exit."""
    queue = JobQueue(redis, stream=settings.jobs_stream)
    await queue.ensure_group()
    result = Delivery(queue=queue)
    result.channels = (
        channels if channels is not None else await build_channels(settings, redis, live)
    )
    if run_worker:
        result.worker = DeliveryWorker(
            settings=settings,
            queue=queue,
            pipeline=pipeline,
            channels=result.channels,
            limiters=build_limiters(settings, redis),
            on_delivered=on_delivered,
        )
        result.task = asyncio.create_task(result.worker.run(), name="delivery-worker")
    try:
        yield result
    finally:
        if result.worker is not None and result.task is not None:
            await result.worker.stop()
            result.task.cancel()
            with suppress(asyncio.CancelledError):
                await result.task
        for channel in result.channels.values():
            try:
                await channel.aclose()
            except Exception:  # closing must not hide the reason we stop
                logger.exception("closing the %s connector failed", channel.name)
