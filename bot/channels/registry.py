"""The one place where the hotline's code meets the connectors: which channels exist.

Everything else in bot/ sees channels only through bot/channels/base.py. Registering a
channel is one line in CHANNELS (its connector provides a ChannelPlugin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from bot.channels.base import Channel, ChannelPlugin
from connectors.telegram.plugin import PLUGIN as TELEGRAM
from connectors.zalo.plugin import PLUGIN as ZALO

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    from fastapi import APIRouter

    from bot.settings import Settings

CHANNELS: tuple[ChannelPlugin, ...] = (
    TELEGRAM,
    ZALO,
)


def build_channels(settings: Settings, redis: aioredis.Redis) -> dict[str, Channel]:
    """The channels whose credentials are set, by name."""
    built = (plugin.build(settings, redis) for plugin in CHANNELS)
    return {channel.name: channel for channel in built if channel is not None}


def webhook_routers() -> list[APIRouter]:
    """The channels' webhook routes, for the web app."""
    return [plugin.router() for plugin in CHANNELS if plugin.router is not None]


def command_groups() -> dict[str, typer.Typer]:
    """The channels' `hotline <name> …` commands, for the CLI."""
    return {plugin.name: plugin.cli for plugin in CHANNELS if plugin.cli is not None}
