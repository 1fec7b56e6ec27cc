"""`hotline worker`: the workers in a process of their own (inbound jobs, outbound messages)."""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.advisories.runtime import scheduler_loop as advisory_scheduler
from bot.channels.registry import build_channels
from bot.console.sender import delivery_recorder
from bot.conversations.pipeline import ConversationPipeline
from bot.conversations.rasa_client import RasaClient
from bot.delivery.runtime import delivery
from bot.infra.redis import get_redis
from bot.live import LiveBus
from bot.logging import configure_logging
from bot.privacy.runtime import purge_daily
from bot.settings import get_settings
from bot.web.chat_channel import WebChatChannel

logger = logging.getLogger(__name__)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_worker() -> None:
    """Runs the inbound job worker, the outbound worker, the daily retention purge and the
    scheduled advisories until SIGINT/SIGTERM."""
    settings = get_settings()
    configure_logging(settings.log_level)
    if not settings.redis_url:
        logger.warning("REDIS_URL is unset: this worker only sees its own in-process queue")
    redis = get_redis()
    rasa = RasaClient(settings)
    # Pages are served by the web app: staff messages to web chats and console updates reach
    # them through Redis pub/sub (without Redis this process cannot reach them at all).
    live = LiveBus(redis if settings.redis_url else None)
    pipeline = ConversationPipeline(settings=settings, rasa=rasa, redis=redis, live=live)
    stop = _stop_on_signals()
    purge = asyncio.create_task(
        purge_daily(settings=settings, redis=redis, tracker_store=rasa, stop=stop)
    )
    advisories = asyncio.create_task(advisory_scheduler(stop=stop))
    try:
        async with delivery(
            settings=settings,
            redis=redis,
            pipeline=pipeline,
            run_worker=True,
            channels={**build_channels(settings, redis), "web": WebChatChannel(live=live)},
        ) as running:
            unsubscribe = running.events.subscribe(delivery_recorder(live))
            logger.info("workers running")
            try:
                await stop.wait()
            finally:
                unsubscribe()
    finally:
        stop.set()
        await purge
        await advisories
        await live.aclose()
        await rasa.aclose()
