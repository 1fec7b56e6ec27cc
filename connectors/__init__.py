"""Zalo OA and Telegram connectors: verify, parse to InboundMessage, send replies."""
