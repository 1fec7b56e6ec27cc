"""The Zalo OA connector as the hotline's wiring sees it."""

from __future__ import annotations

from bot.channels.base import ChannelPlugin
from connectors.zalo.channel import ZaloChannel
from connectors.zalo.cli import app
from connectors.zalo.webhook import router

PLUGIN = ChannelPlugin(name="zalo", build=ZaloChannel.from_settings, router=router, cli=app)
