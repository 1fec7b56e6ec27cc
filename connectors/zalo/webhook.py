"""POST /webhooks/zalo: verifies X-ZEvent-Signature first, then queues the event and answers.

Zalo wants a 200 within 2 seconds or it retries the event; a retried event (same msg_id)
is acknowledged and dropped.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from fastapi import APIRouter, HTTPException, Request, Response

from bot.settings import Settings
from connectors.http import parse_json, read_body
from connectors.zalo import signature
from connectors.zalo.choices import resolve_choice
from connectors.zalo.events import CHANNEL, MalformedEvent, event_timestamp, parse_event

logger = logging.getLogger(__name__)
router = APIRouter(tags=["channels"])


@router.post("/webhooks/zalo")
async def zalo_webhook(request: Request) -> Response:
    """Receives one Zalo OA event."""
    settings: Settings = request.app.state.settings
    if not settings.zalo_enabled or settings.zalo_oa_secret_key is None:
        raise HTTPException(status_code=404, detail="Zalo is not configured")
    header = request.headers.get(signature.HEADER)
    if not header:
        raise HTTPException(status_code=401, detail="signature missing")
    body = await read_body(request)
    data = parse_json(body)  # only to read the signed timestamp; nothing is processed yet
    try:
        timestamp = event_timestamp(data)
    except MalformedEvent as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    if not signature.verify(
        header,
        app_id=settings.zalo_app_id,
        body=body,
        timestamp=timestamp,
        oa_secret_key=settings.zalo_oa_secret_key.get_secret_value(),
    ):
        logger.warning("zalo webhook with a bad signature refused")
        raise HTTPException(status_code=403, detail="signature does not match")
    if str(data.get("app_id", settings.zalo_app_id)) != settings.zalo_app_id:
        raise HTTPException(status_code=403, detail="event for another app")
    if settings.zalo_webhook_max_age_seconds > 0:
        try:
            age = time.time() - int(timestamp) / 1000
        except ValueError as exc:
            raise HTTPException(status_code=400, detail="timestamp is not a number") from exc
        if abs(age) > settings.zalo_webhook_max_age_seconds:
            raise HTTPException(status_code=403, detail="event too old")

    try:
        parsed = parse_event(data)
    except MalformedEvent as exc:
        raise HTTPException(status_code=400, detail=f"not a Zalo event: {exc}") from exc
    job = parsed.job
    if job is None:
        return Response(status_code=200)
    queue = request.app.state.queue
    if job.message is not None and job.message.text:
        payload = await resolve_choice(queue.redis, job.conversation_id, job.message.text)
        if payload is not None:  # "2" answers the second of the numbered choices we sent
            job = dataclasses.replace(job, message=dataclasses.replace(job.message, text=payload))
    try:
        entry = await queue.put_once(CHANNEL, parsed.event_id, job)
    except Exception:
        logger.exception("could not queue a zalo event")
        raise HTTPException(status_code=503, detail="try again") from None  # it is sent again
    if entry is None:
        logger.info("zalo event delivered again; dropped")
    return Response(status_code=200)
