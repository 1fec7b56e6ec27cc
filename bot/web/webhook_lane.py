"""Platform webhooks straight to their handlers, ahead of the page middleware and routing.

A delivery from Telegram or Zalo carries no cookie and proves itself with a secret or a
signature, so the staff-session lookup, the CSRF check, the page security headers and
FastAPI's matching against every page's route do nothing for it but cost time. Measured, they
were a large share of an acknowledgement (see README, "Figures (scripts/bench_webhooks.py)").
The routes stay registered in the app as well (OpenAPI, and any method but POST).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]


def post_handlers(routers: list[APIRouter]) -> dict[str, Handler]:
    """Path → endpoint of every POST route of these routers (they take only the request)."""
    return {
        route.path: route.endpoint
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and "POST" in (route.methods or set())
    }


class WebhookLane:
    """Sends POSTs to the given paths to their handler; everything else to the app."""

    def __init__(self, app: ASGIApp, *, handlers: dict[str, Handler]) -> None:
        self.app = app
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = (
            self.handlers.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if handler is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except HTTPException as exc:  # the same answer FastAPI's own handler gives
            response = await http_exception_handler(request, exc)
        await response(scope, receive, send)
