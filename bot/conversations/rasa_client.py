"""Talks to the Rasa servers over HTTP (REST channel for turns, HTTP API with the token).

With several servers (RASA_URLS, all on Redis tracker and lock stores) each conversation has
its own order of servers (rendezvous hashing: adding or removing a server moves only the
conversations that server takes or had); it goes to the first one that accepts a connection.
A server that refuses one is skipped for RASA_DOWN_SECONDS, and its conversations go to their
next server meanwhile, where the tracker in Redis carries on the form with its slots. With
ACTION_SERVER_URLS (each Rasa server's own action server, in the same order) a turn also skips
a server whose action server is down. Only a refused connection moves a turn: an answer that fails later may have been processed, and
sending it again elsewhere would make the resident say it twice.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
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


# A machine that is gone does not refuse: it does not answer. Give up connecting soon.
CONNECT_TIMEOUT_SECONDS = 3.0


def server_order(servers: list[str], conversation_id: str) -> list[str]:
    """The servers in the order a conversation tries them (highest rendezvous weight first)."""

    def weight(server: str) -> bytes:
        return hashlib.blake2b(f"{server}\n{conversation_id}".encode(), digest_size=8).digest()

    return sorted(servers, key=weight, reverse=True)


class RasaClient:
    """One pooled HTTP client per process, created by the edge that owns its lifetime."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self._servers = settings.rasa_servers
        # ACTION_SERVER_URLS: the action server each Rasa server calls (one pair per machine).
        self._paired_actions = dict(zip(self._servers, settings.action_server_urls, strict=False))
        self._down_until: dict[str, float] = {}
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(
                settings.rasa_timeout_seconds,
                connect=min(CONNECT_TIMEOUT_SECONDS, settings.rasa_timeout_seconds),
            ),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
        )
        self._action_server_ok_until: dict[str, float] = {}  # per action server

    async def aclose(self) -> None:
        await self._client.aclose()

    def servers_for(self, conversation_id: str) -> list[str]:
        """The order to try the servers in: the conversation's own, those seen down last."""
        now = time.monotonic()
        order = server_order(self._servers, conversation_id)
        up = [server for server in order if self._down_until.get(server, 0.0) <= now]
        return up + [server for server in order if server not in up]

    def _mark_down(self, server: str, reason: str) -> None:
        if self._down_until.get(server, 0.0) <= time.monotonic():
            logger.warning("rasa server %s unavailable (%s)", server, reason)
        self._down_until[server] = time.monotonic() + self._settings.rasa_down_seconds

    async def _request(
        self,
        method: str,
        path: str,
        *,
        conversation_id: str = "",
        before: Callable[[str], Awaitable[None]] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Sends to the conversation's first server that takes the connection (and whose
        `before` check passes).

        Raises the last failure when none does; errors after connecting are not retried.
        """
        failure: Exception | None = None
        for server in self.servers_for(conversation_id):
            try:
                if before is not None:
                    await before(server)
                response = await self._client.request(method, f"{server}{path}", **kwargs)
            except RasaUnavailable as exc:
                self._mark_down(server, str(exc))
                failure = exc
                continue
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing reached it: safe to send to the next one.
                self._mark_down(server, type(exc).__name__)
                failure = exc
                continue
            self._down_until.pop(server, None)
            return response
        if failure is None:
            raise RuntimeError("no Rasa server configured")
        raise failure

    async def send(
        self, *, conversation_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[OutboundReply]:
        """Sends one resident message through the REST channel and returns the bot's replies."""
        before = None
        if self._paired_actions:  # each server's own action server, checked before its turn
            before = self._check_paired_action_server
        else:  # one action server for all: down, no other server would do better
            await self._check_action_server(self._settings.action_server_url)
        body = {"sender": conversation_id, "message": text, "metadata": metadata or {}}
        try:
            response = await self._request(
                "POST",
                "/webhooks/rest/webhook",
                conversation_id=conversation_id,
                before=before,
                json=body,
            )
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

    async def _check_paired_action_server(self, server: str) -> None:
        await self._check_action_server(self._paired_actions[server])

    async def _check_action_server(self, action_server_url: str) -> None:
        """Raises RasaUnavailable while the action server is down (e.g. being restarted).

        Rasa itself carries on when an action call fails: it drops the action's events and
        answers with whatever else it has, often nothing. Asking first turns that into the
        "busy" reply (or, with paired servers, the next Rasa server), and keeps the half-run
        turn out of the resident's conversation.
        """
        # Under load, one answer serves the turns of the next moment: at 50 conversations that
        # is most of them, and the action server spends its core on actions instead. A crash
        # in that moment still gives the "busy" reply: Rasa then answers with nothing.
        if time.monotonic() < self._action_server_ok_until.get(action_server_url, 0.0):
            return
        url = f"{action_server_url.rstrip('/')}/health"
        try:
            response = await self._client.get(url, timeout=2)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"action server: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"action server: HTTP {response.status_code}")
        self._action_server_ok_until[action_server_url] = (
            time.monotonic() + ACTION_SERVER_CHECK_SECONDS
        )

    async def tracker_events(self, conversation_id: str) -> list[dict[str, Any]] | None:
        """Every event Rasa keeps for a conversation (all sessions), or None if unreachable."""
        try:
            response = await self._request(
                "GET",
                f"/conversations/{conversation_id}/tracker",
                conversation_id=conversation_id,
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
        """Sets a conversation's events in Rasa's tracker store (the whole log, every session);
        False if Rasa could not be reached."""
        try:
            response = await self._request(
                "PUT",
                f"/conversations/{conversation_id}/tracker/events",
                conversation_id=conversation_id,
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
            response = await self._request(
                "POST",
                f"/conversations/{conversation_id}/tracker/events",
                conversation_id=conversation_id,
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
            response = await self._request("GET", "/status", params={"token": token}, timeout=3)
            response.raise_for_status()
            return dict(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailable(type(exc).__name__) from exc

    async def active_form(self, conversation_id: str) -> str | None:
        """Returns the form the conversation is in the middle of, or None (also when Rasa is down)."""
        token = self._settings.rasa_token.get_secret_value()
        try:
            response = await self._request(
                "GET",
                f"/conversations/{conversation_id}/tracker",
                conversation_id=conversation_id,
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
