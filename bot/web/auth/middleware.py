"""Two plain ASGI middlewares: the staff session and CSRF check, and the security headers.

Plain ASGI rather than `@app.middleware("http")`, for the reason given in bot/web/app.py
(a task group per request), and because the CSRF check must read a form body and hand it on.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import parse_qsl

from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.web.auth.responses import forbidden, login_required, unavailable
from bot.web.auth.runtime import LOGIN_CSRF_COOKIE, SESSION_COOKIE, auth_runtime

logger = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# No CSRF token here, on purpose: webhooks prove themselves with a secret or a signature and
# carry no cookie; the resident web chat has no staff session and its own cookie is
# SameSite=Strict, so another site cannot make a browser send it.
CSRF_EXEMPT_PREFIXES = ("/webhooks/", "/api/chat/")
LOGIN_PATH = "/login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_FORM_BYTES = 1024 * 1024

CSRF_MESSAGE = (
    "Yêu cầu bị từ chối vì thiếu mã bảo vệ (CSRF) hoặc mã không đúng. "
    "Có thể trang đã mở quá lâu: hãy tải lại trang rồi thử lại."
)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the already-read body on once, then the client's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None when it is over MAX_FORM_BYTES or the client went away."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _submitted_token(scope: Scope, receive: Receive) -> tuple[str | None, Receive | None]:
    """The CSRF token from the header or the form, and the `receive` to hand on (None: refuse)."""
    request = Request(scope)
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header, receive
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return None, receive
    body = await _read_body(receive)
    if body is None:
        return None, None
    if content_type == "application/x-www-form-urlencoded":
        fields = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        token = next((value for key, value in fields if key == CSRF_FIELD), None)
    else:
        try:
            form = await Request(scope, _replay(body, receive)).form()
        except (HTTPException, MultiPartException):  # a malformed body: no token in it
            return None, _replay(body, receive)
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
        await form.close()
    return token, _replay(body, receive)


class AuthMiddleware:
    """Loads the staff session of the cookie into `request.state.auth_session`, and refuses a
    state-changing request without the session's CSRF token (403) or without a session (to the
    login page). Routes then check the user and the role through bot/web/auth/deps.py."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        runtime = auth_runtime(scope["app"])
        token = request.cookies.get(SESSION_COOKIE)
        path: str = scope["path"]
        try:
            session = await runtime.sessions.load(token) if token else None
        except RedisError:
            logger.warning("session store unreachable", exc_info=True)
            if not path.startswith(CSRF_EXEMPT_PREFIXES):
                await unavailable(request)(scope, receive, send)
                return
            session = None  # a resident's chat or a webhook does not need the staff session
        state = scope.setdefault("state", {})
        state["auth_session"] = session
        state["auth_cookie_stale"] = bool(token) and session is None

        if scope["method"] in UNSAFE_METHODS and not path.startswith(CSRF_EXEMPT_PREFIXES):
            if session is None and path != LOGIN_PATH:
                await login_required(request)(scope, receive, send)
                return
            submitted, receive_next = await _submitted_token(scope, receive)
            if receive_next is None:
                await JSONResponse({"detail": "request body too large"}, status_code=413)(
                    scope, receive, send
                )
                return
            expected = [session.csrf_token] if session else []
            if path == LOGIN_PATH and (login_token := request.cookies.get(LOGIN_CSRF_COOKIE)):
                expected.append(login_token)
            if not submitted or not any(
                secrets.compare_digest(submitted.encode(), e.encode()) for e in expected
            ):
                await forbidden(request, CSRF_MESSAGE, title="Yêu cầu không hợp lệ")(
                    scope, receive, send
                )
                return
            receive = receive_next
        await self.app(scope, receive, send)


# No inline scripts or styles anywhere: every page loads its own files from /static.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's API docs load their script from a CDN; they get the other headers only.
_NO_CSP_PATHS = ("/docs", "/redoc")


class SecurityHeaders:
    """Adds CSP, frame, referrer and content-type headers to every response, and `no-store` to
    every response but static files (pages and the API carry personal data)."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if not path.startswith(_NO_CSP_PATHS):
                    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
                if not path.startswith("/static/"):
                    headers.setdefault("Cache-Control", "no-store")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)
