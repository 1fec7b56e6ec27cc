"""The Zalo OA connector as the hotline's wiring sees it.

Cheap to import (the CLI starts with it): the channel and its webhook route, which pull in
zalo-sdk and FastAPI, are imported when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.channels.base import ChannelPlugin
from connectors.zalo.cli import app

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    from fastapi import APIRouter

    from bot.channels.base import Channel
    from bot.settings import Settings


def _build(settings: Settings, redis: aioredis.Redis) -> Channel | None:
    from connectors.zalo.channel import ZaloChannel

    return ZaloChannel.from_settings(settings, redis)


def _router() -> APIRouter:
    from connectors.zalo.webhook import router

    return router


PLUGIN = ChannelPlugin(name="zalo", build=_build, router=_router, cli=app)
