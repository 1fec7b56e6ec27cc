"""The Telegram connector as the hotline's wiring sees it."""

from __future__ import annotations

from bot.channels.base import ChannelPlugin
from connectors.telegram.channel import TelegramChannel
from connectors.telegram.cli import app
from connectors.telegram.webhook import router

PLUGIN = ChannelPlugin(name="telegram", build=TelegramChannel.from_settings, router=router, cli=app)
