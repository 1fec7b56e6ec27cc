"""Liveness (/healthz) and readiness (/readyz: database, Rasa, action server)."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from bot.conversations.rasa_client import RasaUnavailable
from bot.db.session import get_engine
from bot.settings import get_settings

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 — any driver error means "not ready"
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        status = await request.app.state.rasa.status()
        checks["rasa"] = "ok" if status.get("model_file") else "error: no model loaded"
    except RasaUnavailable as exc:
        checks["rasa"] = f"error: {exc}"
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            response = await client.get(f"{get_settings().action_server_url}/health")
        checks["action_server"] = "ok" if response.status_code == 200 else "error: unhealthy"
    except httpx.HTTPError as exc:
        checks["action_server"] = f"error: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
