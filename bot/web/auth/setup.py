"""Wires staff sign-in into the web app: middlewares, error pages and the sign-in routes."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from redis.exceptions import RedisError
from starlette.responses import Response

from bot.settings import Settings
from bot.web.admin import advisories as admin_advisories
from bot.web.admin import rumours as admin_rumours
from bot.web.admin import users as admin_users
from bot.web.auth import routes
from bot.web.auth.deps import (
    PASSWORD_PATH,
    AccessDenied,
    LoginRequired,
    PasswordChangeRequired,
)
from bot.web.auth.middleware import AuthMiddleware, SecurityHeaders
from bot.web.auth.responses import forbidden, login_required, unavailable, wants_json

logger = logging.getLogger(__name__)


def install_auth(app: FastAPI, settings: Settings) -> None:
    """Adds the session/CSRF and security-header middlewares, the handlers and the routes."""
    app.add_middleware(AuthMiddleware)
    app.add_middleware(SecurityHeaders, hsts=settings.secure_cookies)

    async def on_login_required(request: Request, exc: Exception) -> Response:
        return login_required(request)

    async def on_password_change(request: Request, exc: Exception) -> Response:
        if wants_json(request):
            return forbidden(request, "Cần đổi mật khẩu trước khi tiếp tục.")
        return RedirectResponse(PASSWORD_PATH, status_code=303)

    async def on_access_denied(request: Request, exc: Exception) -> Response:
        message = exc.message if isinstance(exc, AccessDenied) else str(exc)
        return forbidden(request, message)

    async def on_redis_down(request: Request, exc: Exception) -> Response:
        logger.warning("Redis unreachable during %s", request.url.path, exc_info=exc)
        return unavailable(request)

    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(RedisError, on_redis_down)
    app.add_exception_handler(PasswordChangeRequired, on_password_change)
    app.add_exception_handler(AccessDenied, on_access_denied)
    app.include_router(routes.router)
    app.include_router(admin_users.router)
    app.include_router(admin_advisories.router)
    app.include_router(admin_rumours.router)
