"""Talks to the Rasa server over HTTP (REST channel for turns, HTTP API with the token)."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from bot.conversations.messages import OutboundReply, ReplyButton
from bot.settings import Settings

logger = logging.getLogger(__name__)


class RasaUnavailable(RuntimeError):
    """Rasa did not answer, or answered with an error."""


class RasaClient:
    """One pooled HTTP client per process, created by the edge that owns its lifetime."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self._client = client or httpx.AsyncClient(
            base_url=settings.rasa_url,
            timeout=settings.rasa_timeout_seconds,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self, *, conversation_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[OutboundReply]:
        """Sends one resident message through the REST channel and returns the bot's replies."""
        body = {"sender": conversation_id, "message": text, "metadata": metadata or {}}
        try:
            response = await self._client.post("/webhooks/rest/webhook", json=body)
            response.raise_for_status()
            payload = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailable(type(exc).__name__) from exc
        return _merge_replies(payload if isinstance(payload, list) else [])

    async def reset_dialogue(self, *, conversation_id: str) -> None:
        """Starts the dialogue afresh (no form, no slots, no pending action) after a hand-back.

        A `restart` event clears the tracker's state, so the resident's next message opens a
        new session in Rasa; raises RasaUnavailable when the HTTP API does not take it.
        """
        token = self._settings.rasa_token.get_secret_value()
        try:
            response = await self._client.post(
                f"/conversations/{conversation_id}/tracker/events",
                params={"token": token, "include_events": "NONE"},
                json=[{"event": "restart"}],
                timeout=10,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(type(exc).__name__) from exc

    async def status(self) -> dict[str, Any]:
        """Returns Rasa's /status (needs the API token); raises RasaUnavailable."""
        token = self._settings.rasa_token.get_secret_value()
        try:
            response = await self._client.get("/status", params={"token": token}, timeout=3)
            response.raise_for_status()
            return dict(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailable(type(exc).__name__) from exc


def _merge_replies(items: list[dict[str, Any]]) -> list[OutboundReply]:
    """Turns REST channel output into replies; buttons sent alone join the text before them."""
    replies: list[OutboundReply] = []
    for item in items:
        text = item.get("text") or ""
        buttons = [
            ReplyButton(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
            for b in item.get("buttons") or []
            if b.get("title") and b.get("payload")
        ]
        if not text and not buttons:
            continue
        if not text and replies:
            last = replies.pop()
            replies.append(OutboundReply(text=last.text, buttons=[*last.buttons, *buttons]))
        else:
            replies.append(OutboundReply(text=text, buttons=buttons))
    return replies
