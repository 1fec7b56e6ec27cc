"""POST /webhooks/telegram: checks the secret token first, then queues the update and answers.

Telegram sends the secret given to setWebhook in `X-Telegram-Bot-Api-Secret-Token`; a request
without it (401) or with another (403) is refused before its body is read.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging

from fastapi import APIRouter, HTTPException, Request, Response

from bot.delivery.queue import JobQueue
from bot.settings import Settings
from connectors.http import parse_json, read_body
from connectors.telegram.channel import resolve_long_payload
from connectors.telegram.parse import CHANNEL, MalformedUpdate, ParsedUpdate, parse_update

logger = logging.getLogger(__name__)
router = APIRouter(tags=["channels"])
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 — a name, not a secret


@router.post("/webhooks/telegram")
async def telegram_webhook(request: Request) -> Response:
    """Receives one Telegram update."""
    settings: Settings = request.app.state.settings
    if not settings.telegram_enabled or settings.telegram_webhook_secret is None:
        raise HTTPException(status_code=404, detail="Telegram is not configured")
    given = request.headers.get(SECRET_HEADER)
    if not given:
        raise HTTPException(status_code=401, detail="secret token missing")
    expected = settings.telegram_webhook_secret.get_secret_value()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        logger.warning("telegram webhook with a wrong secret token refused")
        raise HTTPException(status_code=403, detail="secret token does not match")

    data = parse_json(await read_body(request))
    try:
        parsed = parse_update(data, bot_username=settings.telegram_bot_username)
    except MalformedUpdate as exc:
        raise HTTPException(status_code=400, detail=f"not a Telegram update: {exc}") from exc
    return await queue_update(request.app.state.queue, parsed)


async def queue_update(queue: JobQueue, parsed: ParsedUpdate) -> Response:
    """Queues a parsed update once (a repeated update_id is acknowledged and dropped)."""
    job = parsed.job
    if job is None:
        return Response(status_code=200)
    if parsed.long_payload_digest is not None and job.message is not None:
        payload = await resolve_long_payload(queue.redis, parsed.long_payload_digest)
        job = dataclasses.replace(job, message=dataclasses.replace(job.message, text=payload or ""))
    try:
        entry = await queue.put_once(CHANNEL, str(parsed.update_id), job)
    except Exception:
        logger.exception("could not queue a telegram update")
        raise HTTPException(status_code=503, detail="try again") from None  # it is sent again
    if entry is None:
        logger.info("telegram update delivered again; dropped")
    return Response(status_code=200)
