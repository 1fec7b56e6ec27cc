"""/admin/rumours: the rumour inbox — groups of unmatched questions, newest first, and the
answer form (which makes the answer rumour content and tells residents who asked)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from bot.rumours.service import (
    MAX_ANSWER,
    VERDICT_LABELS,
    RumourError,
    answer_group,
    get_group,
    list_groups,
)
from bot.web.auth.deps import AccessDenied, AdminUser
from bot.web.deps import SessionDep
from bot.web.templating import templates

router = APIRouter(prefix="/admin/rumours", tags=["admin"])
STATUSES = {"open": "Chưa trả lời", "answered": "Đã trả lời", "all": "Tất cả"}


@router.get("")
def rumours_page(
    request: Request, user: AdminUser, db: SessionDep, status: str = "open"
) -> Response:
    status = status if status in STATUSES else "open"
    return templates.TemplateResponse(
        request,
        "admin/rumours.html",
        {
            "title": "Hộp thư tin đồn",
            "groups": list_groups(session=db, status=status),
            "status": status,
            "statuses": STATUSES,
            "verdicts": VERDICT_LABELS,
        },
    )


def _group_page(
    request: Request,
    db: SessionDep,
    group_id: int,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    told: int | None = None,
) -> Response:
    view = get_group(session=db, group_id=group_id)
    if view is None:
        raise AccessDenied("Không có nhóm câu hỏi này.")
    group = view.group
    return templates.TemplateResponse(
        request,
        "admin/rumour.html",
        {
            "title": "Trả lời tin đồn",
            "view": view,
            "form": form or {"verdict": group.verdict or "", "answer": group.answer or ""},
            "verdicts": VERDICT_LABELS,
            "max_chars": MAX_ANSWER,
            "error": error,
            "told": told,
        },
        status_code=400 if error else 200,
    )


@router.get("/{group_id}")
def rumour_page(
    request: Request, group_id: int, user: AdminUser, db: SessionDep, told: int | None = None
) -> Response:
    return _group_page(request, db, group_id, told=told)


@router.post("/{group_id}/answer")
def rumour_answer(
    request: Request,
    group_id: int,
    user: AdminUser,
    db: SessionDep,
    verdict: Annotated[str, Form()] = "",
    answer: Annotated[str, Form()] = "",
) -> Response:
    try:
        told = answer_group(
            session=db, group_id=group_id, user=user, verdict=verdict, answer=answer
        )
    except RumourError as exc:
        return _group_page(
            request, db, group_id, form={"verdict": verdict, "answer": answer}, error=str(exc)
        )
    db.commit()
    return RedirectResponse(f"/admin/rumours/{group_id}?told={told}", status_code=303)
