"""The web app factory (`uvicorn bot.web.app:create_app --factory`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from bot.conversations.pipeline import ConversationPipeline
from bot.conversations.rasa_client import RasaClient
from bot.infra.redis import get_redis
from bot.logging import configure_logging
from bot.outbox.worker import run_worker
from bot.settings import get_settings
from bot.web import chat, health

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.rasa = RasaClient(settings)
        app.state.pipeline = ConversationPipeline(
            settings=settings, rasa=app.state.rasa, redis=get_redis()
        )
        stop = asyncio.Event()
        worker = (
            asyncio.create_task(run_worker(settings=settings, stop=stop))
            if settings.outbox_worker_in_web
            else None
        )
        yield
        stop.set()
        if worker is not None:
            await worker
        await app.state.rasa.aclose()

    app = FastAPI(title="Citizen help hotline", lifespan=lifespan)

    @app.middleware("http")
    async def limit_body_size(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return JSONResponse({"detail": "request body too large"}, status_code=413)
        return await call_next(request)

    app.mount(
        "/static", StaticFiles(directory=str(chat.TEMPLATES_DIR.parent / "static")), name="static"
    )
    app.include_router(health.router)
    app.include_router(chat.router)
    return app
