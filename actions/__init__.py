"""Rasa custom actions: thin edges that turn tracker data into calls of `bot` services."""

from bot.settings import Settings

# The action server's start is the import of this package (`python -m rasa_sdk --actions
# actions`): validating the settings here makes it refuse to start as the web app does
# (placeholder secrets, example content in production). Not cached: tests set their own.
Settings()
