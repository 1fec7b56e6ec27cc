"""Talks to the Rasa server over HTTP (REST channel for turns, HTTP API with the token)."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from bot.conversations.messages import OutboundReply, ReplyButton
from bot.settings import Settings

logger = logging.getLogger(__name__)


# An action's `json_message={COMMAND_KEY: "<command>"}` reaches the pipeline as a command.
COMMAND_KEY = "hotline_command"
# How long a healthy answer of the action server stands for the turns that follow.
ACTION_SERVER_CHECK_SECONDS = 0.25


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
        self._action_server_ok_until = 0.0

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self, *, conversation_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[OutboundReply]:
        """Sends one resident message through the REST channel and returns the bot's replies."""
        await self._check_action_server()
        body = {"sender": conversation_id, "message": text, "metadata": metadata or {}}
        try:
            response = await self._client.post("/webhooks/rest/webhook", json=body)
            response.raise_for_status()
            payload = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailable(type(exc).__name__) from exc
        replies = _merge_replies(payload if isinstance(payload, list) else [])
        if not replies:
            # Every turn of this bot says something; nothing at all means an action failed
            # inside Rasa (which carries on without it), and the resident must not get silence.
            raise RasaUnavailable("no reply")
        return replies

    async def _check_action_server(self) -> None:
        """Raises RasaUnavailable while the action server is down (e.g. being restarted).

        Rasa itself carries on when an action call fails: it drops the action's events and
        answers with whatever else it has, often nothing. Asking first turns that into the
        "busy" reply, and keeps the half-run turn out of the resident's conversation.
        """
        # Under load, one answer serves the turns of the next moment: at 50 conversations that
        # is most of them, and the action server spends its core on actions instead. A crash
        # in that moment still gives the "busy" reply: Rasa then answers with nothing.
        if time.monotonic() < self._action_server_ok_until:
            return
        url = f"{self._settings.action_server_url.rstrip('/')}/health"
        try:
            response = await self._client.get(url, timeout=2)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"action server: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"action server: HTTP {response.status_code}")
        self._action_server_ok_until = time.monotonic() + ACTION_SERVER_CHECK_SECONDS

    async def tracker_events(self, conversation_id: str) -> list[dict[str, Any]] | None:
        """Every event Rasa keeps for a conversation (all sessions), or None if unreachable."""
        try:
            response = await self._client.get(
                f"/conversations/{conversation_id}/tracker",
                params={"token": self._token(), "include_events": "ALL"},
            )
            response.raise_for_status()
            events = response.json().get("events")
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            logger.warning("could not read a Rasa tracker: %s", type(exc).__name__)
            return None
        return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []

    async def replace_tracker_events(
        self, conversation_id: str, events: list[dict[str, Any]]
    ) -> bool:
        """Sets a conversation's events in Rasa's tracker store; False if Rasa could not be
        reached. (Rasa's Redis store merges them with the stored ones: delete its key first.)"""
        try:
            response = await self._client.put(
                f"/conversations/{conversation_id}/tracker/events",
                params={"token": self._token()},
                json=events,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            logger.warning("could not replace a Rasa tracker: %s", type(exc).__name__)
            return False
        return True

    async def erase_tracker(self, conversation_id: str) -> bool:
        """Replaces a conversation's events with none; False if Rasa could not be reached."""
        return await self.replace_tracker_events(conversation_id, [])

    def _token(self) -> str:
        return self._settings.rasa_token.get_secret_value()

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

    async def active_form(self, conversation_id: str) -> str | None:
        """Returns the form the conversation is in the middle of, or None (also when Rasa is down)."""
        token = self._settings.rasa_token.get_secret_value()
        try:
            response = await self._client.get(
                f"/conversations/{conversation_id}/tracker",
                params={"token": token, "include_events": "NONE"},
                timeout=3,
            )
            response.raise_for_status()
            loop = (response.json().get("active_loop") or {}).get("name")
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        return loop if isinstance(loop, str) and loop else None


def _merge_replies(items: list[dict[str, Any]]) -> list[OutboundReply]:
    """Turns REST channel output into replies; buttons sent alone join the text before them."""
    replies: list[OutboundReply] = []
    for item in items:
        custom = item.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get(COMMAND_KEY), str):
            replies.append(OutboundReply(text="", command=custom[COMMAND_KEY]))
            continue
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
