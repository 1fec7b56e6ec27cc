"""The web app factory (`uvicorn bot.web.app:create_app --factory`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

import bot.db.models  # noqa: F401  (every model mapped: a page may flush any of them)
from bot.advisories.runtime import scheduler_loop as advisory_scheduler
from bot.channels.registry import build_channels, webhook_routers
from bot.console.sender import delivery_recorder
from bot.conversations.pipeline import ConversationPipeline
from bot.conversations.rasa_client import RasaClient
from bot.delivery.runtime import delivery
from bot.infra.redis import get_redis
from bot.live import LiveBus
from bot.logging import configure_logging
from bot.privacy.runtime import purge_daily
from bot.settings import Settings, get_settings
from bot.web import chat, health, team
from bot.web.admin import dashboard, report
from bot.web.admin.forms import install_management_pages
from bot.web.auth.setup import install_auth
from bot.web.chat_channel import WebChatChannel
from bot.web.console import routes as console_routes
from bot.web.notices import routes as notice_routes
from bot.web.webhook_lane import WebhookLane, post_handlers

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024


class BodySizeLimit:
    """Refuses a declared body over `limit` bytes with 413 before any route runs.

    A plain ASGI middleware: `@app.middleware("http")` (BaseHTTPMiddleware) costs a task group
    per request, which showed in the webhook acknowledgement times under load. Bodies without
    a Content-Length are limited where they are read (the webhooks read at most 64 KB).
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length":
                    if not value.isdigit() or int(value) > self.limit:
                        response = JSONResponse(
                            {"detail": "request body too large"}, status_code=413
                        )
                        await response(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    redis: aioredis.Redis[str] | None = None,
    rasa: RasaClient | None = None,
) -> FastAPI:
    """The web app; tests pass their own settings, Redis and Rasa client."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings is None:
            raise RuntimeError("settings is missing")
        app_redis = redis or get_redis()
        app.state.redis = app_redis
        app.state.rasa = rasa or RasaClient(settings)
        # Live page updates: through Redis pub/sub when Redis is configured, else in process.
        app.state.live = LiveBus(app_redis if settings.redis_url else None)
        app.state.pipeline = ConversationPipeline(
            settings=settings, rasa=app.state.rasa, redis=app_redis, live=app.state.live
        )
        # One outbound path: the workers (inbound jobs, outbound messages) run here unless
        # WORKER_IN_PROCESS=false (then `hotline worker`); so does the daily retention purge.
        stop = asyncio.Event()
        purge = (
            asyncio.create_task(
                purge_daily(
                    settings=settings, redis=app_redis, tracker_store=app.state.rasa, stop=stop
                )
            )
            if settings.worker_in_process
            else None
        )
        # Scheduled advisories are started (and fanned out) by the same in-process worker.
        advisories = (
            asyncio.create_task(advisory_scheduler(stop=stop))
            if settings.worker_in_process
            else None
        )
        try:
            async with delivery(
                settings=settings,
                redis=app_redis,
                pipeline=app.state.pipeline,
                run_worker=settings.worker_in_process,
                channels={
                    **build_channels(settings, app_redis),
                    "web": WebChatChannel(live=app.state.live),
                },
            ) as running:
                app.state.queue = running.queue
                app.state.channels = running.channels
                # The console shows staff messages' delivery state live.
                app.state.delivery_events = running.events
                unsubscribe = running.events.subscribe(delivery_recorder(app.state.live))
                app.state.outbound_wake = running.outbound.wake if running.outbound else None
                try:
                    yield
                finally:
                    unsubscribe()
        finally:
            stop.set()
            if purge is not None:
                await purge
            if advisories is not None:
                await advisories
            await app.state.live.aclose()
        await app.state.rasa.aclose()

    app = FastAPI(title="Citizen help hotline", lifespan=lifespan)
    app.state.settings = settings

    install_auth(app, settings)  # staff sessions, CSRF, security headers, /login
    app.add_middleware(BodySizeLimit, limit=MAX_BODY_BYTES)
    routers = webhook_routers()
    # Added last, so outermost: webhooks skip the page middleware (bot/web/webhook_lane.py).
    app.add_middleware(WebhookLane, handlers=post_handlers(routers))

    app.mount(
        "/static", StaticFiles(directory=str(chat.TEMPLATES_DIR.parent / "static")), name="static"
    )
    app.include_router(health.router)
    app.include_router(chat.router)
    app.include_router(console_routes.router)
    app.include_router(team.router)
    app.include_router(notice_routes.router)
    app.include_router(dashboard.router)
    app.include_router(report.router)
    install_management_pages(app)  # content, teams, audit trail
    for router in routers:
        app.include_router(router)
    return app
