"""The action server: rasa_sdk's app, served by us on loopback and closed to all but Rasa.

`python -m rasa_sdk` listens on every interface and runs any action for anyone who posts a
tracker, so a made-up tracker with another resident's sender id could read or erase their data.
Here the same app is served on `ACTION_SERVER_HOST` (loopback by default) and every request but
`/health` must carry `Authorization: Bearer <ACTION_SERVER_TOKEN>`, which Rasa sends from the
endpoints file `hotline run` writes. A header rather than Rasa's `?token=` query parameter keeps
the secret out of URLs, which HTTP clients put in their error messages and logs.

Run as `python -m bot.actionserver`; one process (no Sanic worker manager), so stopping or
killing it leaves no worker behind holding the port.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import warnings
from typing import Any
from urllib.parse import urlsplit

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.logging import configure_logging
from bot.settings import Settings, get_settings

logger = logging.getLogger("bot.actionserver")  # also when run as __main__

ACTIONS_PACKAGE = "actions"
HEALTH_PATH = "/health"


def authorization_header(token: str) -> str:
    """Returns the Authorization header value Rasa sends to the action server."""
    return f"Bearer {token}"


def create_action_app(*, token: str, actions_package: str = ACTIONS_PACKAGE) -> Sanic[Any, Any]:
    """Builds rasa_sdk's action app with the actions registered, behind the shared secret."""
    if not token:
        raise ValueError("the action server needs a token (ACTION_SERVER_TOKEN)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from rasa_sdk.endpoint import create_app
        from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package(actions_package)
    # No CORS: only Rasa calls this server, never a browser.
    app: Sanic[Any, Any] = create_app(executor, cors_origins=None)
    expected = authorization_header(token).encode()

    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path == HEALTH_PATH:
            # Open for readiness checks, but says nothing about the server.
            return response.empty(status=200) if request.method in {"GET", "HEAD"} else None
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            logger.warning(
                "action server: refused %s %s (bad or missing token)", request.method, request.path
            )
            return response.json({"error": "missing or wrong token"}, status=401)
        return None

    # Registered before any route runs: a refused request never reaches the executor.
    app.on_request(require_token, priority=1000)
    return app


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: cannot tell
        return False


def serve(settings: Settings) -> None:
    """Serves the action app in this process on the configured interface and port."""
    port = settings.action_server_port or urlsplit(settings.action_server_url).port or 5055
    app = create_action_app(token=settings.action_server_token.get_secret_value())
    host = settings.action_server_host
    if not _is_loopback(host):
        logger.warning(
            "action server listening beyond loopback (%s): only Rasa's token keeps others out, "
            "so firewall the port to Rasa's machine",
            host,
        )
    logger.info("action server listening on %s:%s", host, port)
    app.prepare(
        host=host,
        port=port,
        single_process=True,
        access_log=False,
        motd=False,
    )
    Sanic.serve_single(app)


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    serve(settings)


if __name__ == "__main__":
    main()
