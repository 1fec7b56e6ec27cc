"""The Telegram connector as the hotline's wiring sees it.

Cheap to import (the CLI starts with it): the channel and its webhook route, which pull in
python-telegram-bot and FastAPI, are imported when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.channels.base import ChannelPlugin
from connectors.telegram.cli import app

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    from fastapi import APIRouter

    from bot.channels.base import Channel
    from bot.settings import Settings


def _build(settings: Settings, redis: aioredis.Redis) -> Channel | None:
    from connectors.telegram.channel import TelegramChannel

    return TelegramChannel.from_settings(settings, redis)


def _router() -> APIRouter:
    from connectors.telegram.webhook import router

    return router


PLUGIN = ChannelPlugin(name="telegram", build=_build, router=_router, cli=app)
