"""Telegram: webhook and long polling in, python-telegram-bot's `Bot` out."""
