"""What `hotline telegram set-webhook / poll` run (async)."""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.conversations.pipeline import ConversationPipeline
from bot.conversations.rasa_client import RasaClient
from bot.delivery.runtime import delivery
from bot.infra.redis import get_redis
from bot.logging import configure_logging
from bot.settings import get_settings

logger = logging.getLogger(__name__)
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]


async def set_telegram_webhook(url: str | None) -> str:
    """Registers the webhook URL and secret with Telegram; returns the URL."""
    from connectors.telegram.channel import make_bot

    settings = get_settings()
    if not settings.telegram_enabled or settings.telegram_webhook_secret is None:
        raise SystemExit("Set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET first.")
    target = url or f"{settings.public_base_url.rstrip('/')}/webhooks/telegram"
    bot, requests = make_bot(settings)
    try:
        await bot.set_webhook(
            url=target,
            secret_token=settings.telegram_webhook_secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
            max_connections=40,
        )
    finally:
        for request in requests:
            await request.shutdown()
    return target


class TokenRefused(RuntimeError):
    """Telegram refused the bot token: polling again would fail the same way, for ever."""


def _refused() -> TokenRefused:
    logger.error("Telegram refused TELEGRAM_BOT_TOKEN (401/404): polling stopped")
    return TokenRefused("Telegram refused the bot token (401/404): check TELEGRAM_BOT_TOKEN.")


async def poll_telegram(*, stop: asyncio.Event | None = None, timeout: int = 30) -> None:
    """Long polling: the same parsing and queue as the webhook, plus the workers in process."""
    from telegram.error import InvalidToken, TelegramError

    from connectors.telegram.channel import TelegramChannel
    from connectors.telegram.parse import MalformedUpdate, parse_update
    from connectors.telegram.webhook import queue_update

    settings = get_settings()
    configure_logging(settings.log_level)
    if not settings.telegram_enabled:
        raise SystemExit("Set TELEGRAM_BOT_TOKEN first.")
    redis = get_redis()
    rasa = RasaClient(settings)
    pipeline = ConversationPipeline(settings=settings, rasa=rasa, redis=redis)
    channel = TelegramChannel(settings=settings, redis=redis)
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    try:
        async with delivery(
            settings=settings,
            redis=redis,
            pipeline=pipeline,
            run_worker=True,
            channels={"telegram": channel},
        ) as running:
            try:
                await channel.bot.delete_webhook()  # getUpdates does not work while one is set
            except InvalidToken:
                raise _refused() from None
            offset = 0
            logger.info("polling Telegram for updates")
            while not stop.is_set():
                try:
                    updates = await channel.bot.get_updates(
                        offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES
                    )
                except InvalidToken:  # polling again would fail the same way, for ever
                    raise _refused() from None
                except TelegramError as exc:  # network trouble: wait and poll again
                    logger.warning("getUpdates failed: %s", type(exc).__name__)
                    await asyncio.sleep(3)
                    continue
                for update in updates:
                    offset = max(offset, update.update_id + 1)
                    try:
                        parsed = parse_update(
                            update.to_dict(), bot_username=settings.telegram_bot_username
                        )
                    except MalformedUpdate as exc:
                        logger.warning("update %s skipped: %s", update.update_id, exc)
                        continue
                    await queue_update(running.queue, parsed)
    finally:
        await rasa.aclose()
