"""Helpers shared by the webhook routes."""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request

# Platform events are a few KB; anything much larger is not one of them.
MAX_WEBHOOK_BYTES = 64 * 1024


async def read_body(request: Request, limit: int = MAX_WEBHOOK_BYTES) -> bytes:
    """Reads the raw body, refusing more than `limit` bytes even without a Content-Length."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(status_code=413, detail="request body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """Parses a JSON body, or answers 400."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(status_code=400, detail="body is not valid JSON") from exc
