"""/admin/advisories: compose with preview and reach, approve, send, cancel, live progress."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.responses import Response

from bot.advisories.models import Advisory
from bot.advisories.runtime import run_fan_out
from bot.advisories.service import (
    MAX_BUTTONS,
    MAX_TEXT_CHARS,
    AdvisoryError,
    approve,
    button_topics,
    cancel,
    check_buttons,
    check_content,
    create_advisory,
    get_advisory,
    list_advisories,
    reach,
    report,
    start_sending,
    submit,
)
from bot.users.models import User
from bot.web.auth.deps import AccessDenied, AdminUser
from bot.web.deps import SessionDep
from bot.web.templating import templates

router = APIRouter(prefix="/admin/advisories", tags=["admin"])
VIETNAM = timezone(timedelta(hours=7))
STATUS_LABELS = {
    "draft": "Nháp",
    "pending_approval": "Chờ quản trị viên thứ hai duyệt",
    "approved": "Đã duyệt, chưa gửi",
    "scheduled": "Đã hẹn giờ",
    "sending": "Đang gửi",
    "sent": "Đã gửi",
    "cancelled": "Đã hủy",
}


def _codes(raw: str) -> list[str]:
    return [c for c in raw.replace(",", " ").split() if c][:500]


def _send_at(raw: str) -> datetime | None:
    if not raw.strip():
        return None
    try:
        return datetime.fromisoformat(raw.strip()).replace(tzinfo=VIETNAM).astimezone(UTC)
    except ValueError:
        raise AdvisoryError("Giờ gửi không hợp lệ (ngày và giờ, giờ Việt Nam).") from None


def _compose(
    request: Request, db: SessionDep, form: dict[str, object], **extra: object
) -> Response:
    status_code = 400 if extra.get("error") else 200
    return templates.TemplateResponse(
        request,
        "admin/advisory_compose.html",
        {
            "title": "Soạn tin cảnh báo",
            "form": form,
            "max_chars": MAX_TEXT_CHARS,
            "topics": button_topics(),
            "max_buttons": MAX_BUTTONS,
            **extra,
        },
        status_code=status_code,
    )


def _advisory(db: SessionDep, advisory_id: int) -> Advisory:
    advisory = get_advisory(session=db, advisory_id=advisory_id)
    if advisory is None:
        raise AccessDenied("Không có tin này.")
    return advisory


@router.get("")
def advisories_page(request: Request, user: AdminUser, db: SessionDep) -> Response:
    return templates.TemplateResponse(
        request,
        "admin/advisories.html",
        {
            "title": "Tin cảnh báo",
            "advisories": list_advisories(session=db),
            "labels": STATUS_LABELS,
        },
    )


@router.get("/new")
def advisory_new(request: Request, user: AdminUser, db: SessionDep) -> Response:
    return _compose(request, db, {"target_kind": "all", "buttons": []})


@router.post("/new")
def advisory_compose(
    request: Request,
    user: AdminUser,
    db: SessionDep,
    action: Annotated[str, Form()] = "preview",
    title: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    target_kind: Annotated[str, Form()] = "all",
    target_codes: Annotated[str, Form()] = "",
    send_at: Annotated[str, Form()] = "",
    buttons: Annotated[list[str] | None, Form()] = None,
) -> Response:
    topics = buttons or []
    form: dict[str, object] = {
        "title": title,
        "text": text,
        "target_kind": target_kind,
        "target_codes": target_codes,
        "send_at": send_at,
        "buttons": topics,
    }
    codes = _codes(target_codes) if target_kind != "all" else []
    try:
        check_content(title=title, text=text, target_kind=target_kind, target_codes=codes)
        chosen = check_buttons(topics)
        when = _send_at(send_at)
        if action != "submit":
            counts = reach(session=db, target_kind=target_kind, target_codes=codes)
            return _compose(
                request,
                db,
                form,
                preview=text.strip(),
                preview_buttons=chosen,
                reach=counts,
                total=sum(counts.values()),
            )
        advisory = create_advisory(
            session=db,
            author=user,
            title=title,
            text=text,
            target_kind=target_kind,
            target_codes=codes,
            topics=topics,
        )
        threshold = request.app.state.settings.advisory_approval_threshold
        submit(session=db, advisory=advisory, user=user, threshold=threshold, send_at=when)
    except AdvisoryError as exc:
        return _compose(request, db, form, error=str(exc))
    db.commit()
    return RedirectResponse(f"/admin/advisories/{advisory.id}", status_code=303)


@router.get("/{advisory_id}")
def advisory_page(
    request: Request, advisory_id: int, user: AdminUser, db: SessionDep, error: str | None = None
) -> Response:
    advisory = _advisory(db, advisory_id)
    return templates.TemplateResponse(
        request,
        "admin/advisory.html",
        {
            "title": advisory.title,
            "advisory": advisory,
            "label": STATUS_LABELS.get(advisory.status, advisory.status),
            "report": report(session=db, advisory_id=advisory.id),
            "reach": reach(
                session=db, target_kind=advisory.target_kind, target_codes=advisory.target_codes
            ),
            "error": error,
        },
        status_code=400 if error else 200,
    )


@router.get("/{advisory_id}/progress")
def advisory_progress(advisory_id: int, user: AdminUser, db: SessionDep) -> Response:
    result = report(session=db, advisory_id=_advisory(db, advisory_id).id)
    return JSONResponse(
        {
            "status": result.status,
            "label": STATUS_LABELS.get(result.status, result.status),
            "reach": result.reach_total,
            "queued": result.queued,
            "sent": result.sent,
            "failed": result.failed,
            "pending": result.pending,
            "skipped": result.skipped,
        }
    )


def _step(
    request: Request,
    advisory_id: int,
    user: User,
    db: SessionDep,
    step: Callable[[Advisory], object],
) -> Response:
    """Runs one step on an advisory; a refusal is shown on its page (and its audit kept)."""
    advisory = _advisory(db, advisory_id)
    try:
        step(advisory)
    except AdvisoryError as exc:
        db.commit()  # e.g. the author's refused approval stays in the audit trail
        return advisory_page(request, advisory_id, user, db, error=str(exc))
    db.commit()
    return RedirectResponse(f"/admin/advisories/{advisory_id}", status_code=303)


@router.post("/{advisory_id}/approve")
def advisory_approve(
    request: Request, advisory_id: int, user: AdminUser, db: SessionDep
) -> Response:
    return _step(
        request, advisory_id, user, db, lambda a: approve(session=db, advisory=a, approver=user)
    )


@router.post("/{advisory_id}/send")
def advisory_send(
    request: Request, advisory_id: int, user: AdminUser, db: SessionDep, background: BackgroundTasks
) -> Response:
    response = _step(
        request, advisory_id, user, db, lambda a: start_sending(session=db, advisory=a, user=user)
    )
    if response.status_code == 303:  # the fan-out runs after the response, batch by batch
        background.add_task(run_fan_out, advisory_id=advisory_id)
    return response


@router.post("/{advisory_id}/cancel")
def advisory_cancel(
    request: Request, advisory_id: int, user: AdminUser, db: SessionDep
) -> Response:
    return _step(
        request, advisory_id, user, db, lambda a: cancel(session=db, advisory=a, user=user)
    )
