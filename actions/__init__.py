"""Rasa custom actions: thin edges that turn tracker data into calls of `bot` services."""
