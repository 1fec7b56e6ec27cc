"""Live updates to open pages (console, web chat): publish here, stream with server-sent events."""

from bot.live.bus import LiveBus, Subscription

__all__ = ["LiveBus", "Subscription"]
