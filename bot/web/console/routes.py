"""Console pages: thin handlers over bot/console services; the edge commits, then publishes."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from bot.console.content import canned_replies
from bot.console.context import change_request_status, open_aid_request, resident_context
from bot.console.gate import CONSOLE_TOPIC, console_event
from bot.console.sender import queue_to_resident
from bot.console.service import (
    OUTCOME_LABELS,
    REASON_LABELS,
    TAB_LABELS,
    Actor,
    ConsoleError,
    Tab,
    add_note,
    as_utc,
    claim,
    hand_back,
    list_queue,
    queue_counts,
    release,
    staff_reply,
    transfer,
    view_conversation,
    waiting_minutes,
)
from bot.content.service import ContentError
from bot.conversations.rasa_client import RasaUnavailable
from bot.db.base import utcnow
from bot.handoff.models import HandoffOutcome, HandoffRequest
from bot.requests.validation import NEED_LABELS, VULNERABLE_LABELS
from bot.users.models import Role, User
from bot.web.auth.deps import AccessDenied
from bot.web.console.deps import ConsoleActor, StreamingActor, actor_for
from bot.web.deps import SessionDep
from bot.web.templating import templates

logger = logging.getLogger(__name__)
_T = TypeVar("_T")
router = APIRouter(prefix="/console", tags=["console"])

PING_SECONDS = 15
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
DENIED = "Cuộc trò chuyện này không thuộc phường/xã của tổ bạn."
STAFF_ONLY = "Chỉ nhân viên tổng đài mới làm được việc này."
DELIVERY_LABELS = {
    "pending": "đang gửi",
    "sent": "đã gửi",
    "failed": "gửi không được",
    "outside_window": "ngoài thời hạn trả lời của Zalo",
    "unreachable": "người dân đã chặn hoặc rời kênh",
}


def local_time(moment: datetime) -> str:
    """A stored (UTC) time as staff read it: Vietnam's time, 14:05 27/11."""
    return as_utc(moment).astimezone(VIETNAM).strftime("%H:%M %d/%m")


# Helpers every console template may call.
templates.env.globals.update(as_utc=as_utc, waiting_minutes=waiting_minutes, local_time=local_time)


def _tab(value: str | None) -> Tab:
    try:
        return Tab(value or Tab.WAITING)
    except ValueError:
        return Tab.WAITING


def _queue_context(session: SessionDep, actor: Actor, tab: Tab) -> dict[str, Any]:
    return {
        "tab": tab,
        "tabs": TAB_LABELS,
        "counts": queue_counts(session=session, actor=actor),
        "rows": list_queue(session=session, tab=tab, actor=actor),
        "reasons": REASON_LABELS,
        "outcomes": OUTCOME_LABELS,
        "now": utcnow(),
    }


@router.get("", response_class=HTMLResponse)
def queue_page(
    request: Request, actor: ConsoleActor, session: SessionDep, tab: str | None = None
) -> Response:
    """The queue: Chờ / Của tôi / Đang mở / Đã đóng."""
    context = _queue_context(session, actor, _tab(tab))
    response = templates.TemplateResponse(
        request, "console/queue.html", {"title": "Hàng chờ tổng đài", **context}
    )
    session.commit()  # rendered inside the transaction: nothing holds SQLite's lock afterwards
    return response


@router.get("/queue", response_class=HTMLResponse)
def queue_fragment(
    request: Request, actor: ConsoleActor, session: SessionDep, tab: str | None = None
) -> Response:
    """The list of one tab, re-fetched by the page on each live event."""
    context = _queue_context(session, actor, _tab(tab))
    response = templates.TemplateResponse(request, "console/_queue.html", context)
    session.commit()
    return response


@router.get("/events")
async def events(request: Request, actor: StreamingActor) -> EventSourceResponse:
    """Server-sent events of the queue (ids and labels only); a ping every 15 s."""
    live = request.app.state.live
    subscription = await live.subscribe(CONSOLE_TOPIC)

    async def stream() -> AsyncIterator[dict[str, str]]:
        try:
            yield {"event": "ready", "data": "{}"}
            while True:
                event = await subscription.get(timeout=PING_SECONDS)
                if event is None:
                    yield {"event": "ping", "data": "{}"}
                else:
                    yield {"event": str(event.get("type", "change")), "data": json.dumps(event)}
        finally:
            subscription.close()

    return EventSourceResponse(stream(), headers={"Cache-Control": "no-store"})


def _staff(session: SessionDep, actor: Actor) -> list[tuple[int, str]]:
    from sqlalchemy import select

    users = session.scalars(
        select(User)
        .where(User.role.in_([Role.ADMIN, Role.STAFF]), User.disabled.is_(False))
        .order_by(User.display_name)
    )
    return [(u.id, u.display_name) for u in users if u.id != actor.id]


def _conversation_page(
    request: Request,
    session: SessionDep,
    actor: Actor,
    handoff_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    try:
        handoff, thread = view_conversation(session=session, handoff_id=handoff_id, actor=actor)
    except PermissionError as exc:
        session.rollback()
        raise AccessDenied(DENIED) from exc
    except ConsoleError as exc:
        session.rollback()
        return templates.TemplateResponse(
            request,
            "error.html",
            {"title": "Không tìm thấy", "message": str(exc)},
            status_code=404,
        )
    try:
        canned = canned_replies()
    except ContentError:
        logger.exception("canned_replies.yml is unusable")
        canned = []
    context = {
        "title": "Cuộc trò chuyện",
        "handoff": handoff,
        "thread": thread,
        "resident": resident_context(session=session, handoff=handoff, actor=actor),
        "actor": actor,
        "staff": _staff(session, actor) if actor.role != Role.TEAM else [],
        "canned": canned,
        "reasons": REASON_LABELS,
        "outcomes": OUTCOME_LABELS,
        "delivery_labels": DELIVERY_LABELS,
        "needs": NEED_LABELS,
        "vulnerable": VULNERABLE_LABELS,
        "error": error,
        "now": utcnow(),
    }
    response = templates.TemplateResponse(
        request, "console/conversation.html", context, status_code=status_code
    )
    session.commit()  # the view's audit line
    return response


@router.get("/c/{handoff_id}", response_class=HTMLResponse)
def conversation_page(
    request: Request, handoff_id: int, actor: ConsoleActor, session: SessionDep
) -> Response:
    """One conversation: the thread, the resident's context and the actions."""
    return _conversation_page(request, session, actor, handoff_id)


@router.get("/c/{handoff_id}/thread", response_class=HTMLResponse)
def thread_fragment(
    request: Request, handoff_id: int, actor: ConsoleActor, session: SessionDep
) -> Response:
    """The thread alone, re-fetched by the page on a live event about this conversation."""
    try:
        handoff, thread = view_conversation(session=session, handoff_id=handoff_id, actor=actor)
    except PermissionError as exc:
        session.rollback()
        raise AccessDenied(DENIED) from exc
    except ConsoleError as exc:
        session.rollback()
        return HTMLResponse(str(exc), status_code=404)
    response = templates.TemplateResponse(
        request,
        "console/_thread.html",
        {"handoff": handoff, "thread": thread, "delivery_labels": DELIVERY_LABELS},
    )
    session.commit()
    return response


async def _after(request: Request, event: dict[str, object], handoff_id: int) -> RedirectResponse:
    await request.app.state.live.publish(CONSOLE_TOPIC, event)
    return RedirectResponse(f"/console/c/{handoff_id}", status_code=303)


class _Failed(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


async def _run(
    request: Request,
    session: SessionDep,
    actor: Actor,
    handoff_id: int,
    work: Callable[[], _T],
) -> _T:
    """Runs a console action and commits, in a worker thread: the database (SQLite waits for
    its lock) never blocks the event loop. A refused action renders the page with the reason
    (409) or raises 403; the caller publishes and redirects after the commit."""

    def run() -> _T:
        try:
            result = work()
            session.commit()
            return result
        except PermissionError as exc:
            session.rollback()
            raise AccessDenied(STAFF_ONLY if actor.wards is None else DENIED) from exc
        except ConsoleError as exc:
            session.rollback()
            raise _Failed(
                _conversation_page(
                    request, session, actor, handoff_id, error=str(exc), status_code=409
                )
            ) from exc

    return await run_in_threadpool(run)


def _wake_outbound(request: Request) -> None:
    """Sends a just-queued message now when this process runs the outbound worker (else the
    worker process finds it at its next poll)."""
    wake = getattr(request.app.state, "outbound_wake", None)
    if wake is not None:
        wake()


async def _owner_change(
    request: Request,
    session: SessionDep,
    actor: Actor,
    handoff_id: int,
    kind: str,
    change: Callable[..., HandoffRequest],
) -> Response:
    try:
        event = await _run(
            request,
            session,
            actor,
            handoff_id,
            lambda: console_event(
                kind, change(session=session, handoff_id=handoff_id, actor=actor)
            ),
        )
    except _Failed as failed:
        return failed.response
    return await _after(request, event, handoff_id)


@router.post("/c/{handoff_id}/claim")
async def claim_action(
    request: Request, handoff_id: int, actor: ConsoleActor, session: SessionDep
) -> Response:
    """Takes a waiting conversation (one owner even when two staff click at once)."""
    return await _owner_change(request, session, actor, handoff_id, "claimed", claim)


@router.post("/c/{handoff_id}/release")
async def release_action(
    request: Request, handoff_id: int, actor: ConsoleActor, session: SessionDep
) -> Response:
    """Puts the conversation back in the queue."""
    return await _owner_change(request, session, actor, handoff_id, "released", release)


@router.post("/c/{handoff_id}/transfer")
async def transfer_action(
    request: Request,
    handoff_id: int,
    actor: ConsoleActor,
    session: SessionDep,
    to_user_id: Annotated[str, Form()] = "",
) -> Response:

    def work() -> dict[str, object]:
        colleague = session.get(User, int(to_user_id)) if to_user_id.isdigit() else None
        if colleague is None or colleague.disabled:
            raise ConsoleError("Bạn hãy chọn một đồng nghiệp để chuyển.")
        handoff = transfer(
            session=session, handoff_id=handoff_id, actor=actor, to=actor_for(colleague)
        )
        return console_event("transferred", handoff)

    try:
        event = await _run(request, session, actor, handoff_id, work)
    except _Failed as failed:
        return failed.response
    return await _after(request, event, handoff_id)


@router.post("/c/{handoff_id}/reply")
async def reply_action(
    request: Request,
    handoff_id: int,
    actor: ConsoleActor,
    session: SessionDep,
    text: Annotated[str, Form()] = "",
) -> Response:
    """Sends a staff message to the resident's own channel."""

    def work() -> dict[str, object]:
        handoff, message = staff_reply(
            session=session, handoff_id=handoff_id, actor=actor, text=text
        )
        # Queued in the same transaction as the transcript line: both or neither.
        queue_to_resident(
            session=session,
            conversation_id=handoff.resident.conversation_id,
            message_id=message.id,
            text=message.text,
        )
        return console_event("reply", handoff)

    try:
        event = await _run(request, session, actor, handoff_id, work)
    except _Failed as failed:
        return failed.response
    _wake_outbound(request)
    return await _after(request, event, handoff_id)


@router.post("/c/{handoff_id}/note")
async def note_action(
    request: Request,
    handoff_id: int,
    actor: ConsoleActor,
    session: SessionDep,
    text: Annotated[str, Form()] = "",
) -> Response:
    """Adds a private note (staff only, never sent)."""
    try:
        await _run(
            request,
            session,
            actor,
            handoff_id,
            lambda: add_note(session=session, handoff_id=handoff_id, actor=actor, text=text).id,
        )
    except _Failed as failed:
        return failed.response
    return RedirectResponse(f"/console/c/{handoff_id}", status_code=303)


@router.post("/c/{handoff_id}/hand-back")
async def hand_back_action(
    request: Request,
    handoff_id: int,
    actor: ConsoleActor,
    session: SessionDep,
    outcome: Annotated[str, Form()] = "",
) -> Response:
    """Gives the conversation back to the bot with an outcome; the resident is told."""

    def work() -> tuple[dict[str, object], str]:
        try:
            chosen = HandoffOutcome(outcome)
        except ValueError as exc:
            raise ConsoleError("Bạn hãy chọn kết quả của cuộc trò chuyện.") from exc
        handoff, notice = hand_back(
            session=session, handoff_id=handoff_id, actor=actor, outcome=chosen
        )
        conversation_id = handoff.resident.conversation_id
        queue_to_resident(
            session=session,
            conversation_id=conversation_id,
            message_id=notice.id,
            text=notice.text,
            staff=False,
        )
        return console_event("closed", handoff), conversation_id

    try:
        event, conversation_id = await _run(request, session, actor, handoff_id, work)
    except _Failed as failed:
        return failed.response
    try:  # no stale form, no pending action: the next message starts a fresh dialogue
        await request.app.state.rasa.reset_dialogue(conversation_id=conversation_id)
    except RasaUnavailable as exc:
        logger.warning("could not reset the dialogue after a hand-back: %s", exc)
    _wake_outbound(request)
    return await _after(request, event, handoff_id)


@router.post("/c/{handoff_id}/aid-request")
async def aid_request_action(
    request: Request,
    handoff_id: int,
    actor: ConsoleActor,
    session: SessionDep,
    needs: Annotated[list[str] | None, Form()] = None,
    vulnerable: Annotated[list[str] | None, Form()] = None,
    description: Annotated[str, Form(max_length=5000)] = "",
    household_size: Annotated[str, Form()] = "",
    ward_code: Annotated[str, Form(max_length=16)] = "",
    address_detail: Annotated[str, Form(max_length=2000)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Opens an aid request for the resident (the chat form's service)."""

    def work() -> int:
        if not household_size.isdigit() or not 1 <= int(household_size) <= 50:
            raise ConsoleError("Số người trong hộ phải từ 1 đến 50.")
        return open_aid_request(
            session=session,
            handoff_id=handoff_id,
            actor=actor,
            needs=needs or [],
            description=description,
            household_size=int(household_size),
            vulnerable=vulnerable or [],
            ward_code=ward_code,
            address_detail=address_detail,
            phone=phone,
        ).id

    try:
        await _run(request, session, actor, handoff_id, work)
    except _Failed as failed:
        return failed.response
    return RedirectResponse(f"/console/c/{handoff_id}", status_code=303)


@router.post("/c/{handoff_id}/request-status")
async def request_status_action(
    request: Request,
    handoff_id: int,
    actor: ConsoleActor,
    session: SessionDep,
    code: Annotated[str, Form(max_length=16)] = "",
    status: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Moves one of the resident's aid requests along its workflow."""
    try:
        await _run(
            request,
            session,
            actor,
            handoff_id,
            lambda: (
                change_request_status(
                    session=session, handoff_id=handoff_id, actor=actor, code=code, status=status
                ).id
            ),
        )
    except _Failed as failed:
        return failed.response
    return RedirectResponse(f"/console/c/{handoff_id}", status_code=303)
