"""The local web chat: a page in Vietnamese and the JSON endpoint it talks to."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Cookie, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from bot.console.service import sent_to_resident_since
from bot.conversations.messages import InboundMessage
from bot.db.session import session_scope
from bot.handoff.models import Author
from bot.web.chat_channel import chat_topic
from bot.web.deps import PipelineDep

router = APIRouter(tags=["web chat"])
TEMPLATES_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

COOKIE = "hotline_chat"
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_\-]{22,64}$")


class ChatMessageIn(BaseModel):
    text: str = Field(
        max_length=20_000, description="What the resident typed or the button payload"
    )
    message_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_\-]{1,64}$", description="Client id, for retries"
    )


class ButtonOut(BaseModel):
    title: str
    payload: str


class ReplyOut(BaseModel):
    text: str
    buttons: list[ButtonOut]


class ChatRepliesOut(BaseModel):
    replies: list[ReplyOut]


def _conversation_key(request: Request, response: Response, value: str | None) -> str:
    """Returns the browser's unguessable chat id, issuing a new one when missing or malformed."""
    if value is None or not _COOKIE_VALUE.match(value):
        value = secrets.token_urlsafe(18)
        response.set_cookie(
            COOKIE,
            value,
            httponly=True,
            samesite="strict",
            max_age=30 * 24 * 3600,
            secure=request.url.scheme == "https",
        )
    return value


@router.get("/", response_class=HTMLResponse)
async def chat_page(
    request: Request, hotline_chat: Annotated[str | None, Cookie()] = None
) -> Response:
    response = templates.TemplateResponse(request, "chat.html", {"title": "Tổng đài hỗ trợ"})
    _conversation_key(request, response, hotline_chat)
    return response


@router.post("/api/chat/messages", response_model=ChatRepliesOut)
async def post_message(
    body: ChatMessageIn,
    request: Request,
    response: Response,
    pipeline: PipelineDep,
    hotline_chat: Annotated[str | None, Cookie()] = None,
) -> ChatRepliesOut:
    """Sends one resident message and returns the bot's replies."""
    key = _conversation_key(request, response, hotline_chat)
    message = InboundMessage(
        conversation_id=f"web:{key}", text=body.text, platform_message_id=body.message_id
    )
    replies = await pipeline.handle(message)
    return ChatRepliesOut(
        replies=[
            ReplyOut(
                text=r.text,
                buttons=[ButtonOut(title=b.title, payload=b.payload) for b in r.buttons],
            )
            for r in replies
        ]
    )


def _missed(conversation_id: str, after_id: int) -> list[dict[str, object]]:
    with session_scope() as session:
        return [
            {
                "type": "message",
                "id": m.id,
                "text": m.text,
                "from_person": m.author == Author.STAFF,
                "buttons": [],
            }
            for m in sent_to_resident_since(
                session=session, conversation_id=conversation_id, after_id=after_id
            )
        ]


@router.get("/api/chat/events")
async def chat_events(
    request: Request, hotline_chat: Annotated[str | None, Cookie()] = None
) -> Response:
    """Server-sent events for this browser's conversation: messages from hotline staff."""
    if hotline_chat is None or not _COOKIE_VALUE.match(hotline_chat):
        return Response(status_code=204)  # no conversation yet: EventSource stops retrying
    conversation_id = f"web:{hotline_chat}"
    subscription = await request.app.state.live.subscribe(chat_topic(conversation_id))
    # A page that reconnects (EventSource sends the last id it saw) gets what it missed.
    last_id = request.headers.get("last-event-id", "")
    missed = (
        await run_in_threadpool(_missed, conversation_id, int(last_id))
        if last_id.isdigit() and len(last_id) < 12
        else []
    )

    def message(event: dict[str, object]) -> dict[str, str]:
        item = {"event": "message", "data": json.dumps(event, ensure_ascii=False)}
        if isinstance(event.get("id"), int):
            item["id"] = str(event["id"])
        return item

    async def stream() -> AsyncIterator[dict[str, str]]:
        try:
            yield {"event": "ready", "data": "{}"}
            for event in missed:
                yield message(event)
            while True:
                event = await subscription.get(timeout=15)
                if event is None:
                    yield {"event": "ping", "data": "{}"}
                else:
                    yield message(event)
        finally:
            subscription.close()

    return EventSourceResponse(stream(), headers={"Cache-Control": "no-store"})
