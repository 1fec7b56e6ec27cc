"""/team: the ward teams' workspace (Vietnamese pages). Thin: the rules, the scope and the
audit live in bot/requests/workspace.py."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.responses import Response

from bot.db.base import utcnow
from bot.db.session import session_scope
from bot.exports.service import (
    csv_chunks,
    export_filename,
    export_rows,
    record_export,
    write_xlsx,
)
from bot.places.wards import get_ward, province_name
from bot.requests.codes import format_ref
from bot.requests.models import AidRequest, RequestStatus
from bot.requests.priority import PRIORITY_LABELS
from bot.requests.service import STATUS_LABELS
from bot.requests.validation import NEED_LABELS, VULNERABLE_LABELS
from bot.requests.workspace import (
    AGE_CHOICES,
    COUNT_CAP,
    ChangeRefused,
    InvalidFilter,
    OutOfScope,
    RequestFilters,
    actor_names,
    add_note,
    allowed_changes,
    assign,
    assignable_users,
    change_status,
    check_scope,
    find_request,
    is_overdue,
    list_requests,
    overdue_hours,
    parse_filters,
    record_contact_view,
)
from bot.users.models import User
from bot.users.service import ward_scope
from bot.web.auth.deps import TeamUser
from bot.web.auth.responses import forbidden
from bot.web.deps import SessionDep
from bot.web.templating import templates

router = APIRouter(prefix="/team", tags=["team"])

AGE_LABELS = {"24h": "quá 24 giờ", "3d": "quá 3 ngày", "7d": "quá 7 ngày", "30d": "quá 30 ngày"}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOT_FOUND = "Không tìm thấy yêu cầu này trong địa bàn của bạn."
OUT_OF_SCOPE = "Địa bàn này không thuộc phạm vi tổ của bạn."


def ward_label(code: str) -> str:
    ward = get_ward(code)
    return ward.label if ward else code


def labels() -> dict[str, Any]:
    """The Vietnamese names every workspace page shows."""
    return {
        "status_labels": {str(k): v for k, v in STATUS_LABELS.items()},
        "need_labels": NEED_LABELS,
        "vulnerable_labels": VULNERABLE_LABELS,
        "priority_labels": PRIORITY_LABELS,
        "age_labels": AGE_LABELS,
        "ward_label": ward_label,
        "province_name": province_name,
        "format_ref": format_ref,
    }


def error_page(request: Request, message: str, *, status_code: int, title: str) -> Response:
    return templates.TemplateResponse(
        request, "error.html", {"title": title, "message": message}, status_code=status_code
    )


def filters_or_error(request: Request) -> RequestFilters | Response:
    """The list's filters, or a 400 page naming the wrong one."""
    try:
        return parse_filters(dict(request.query_params))
    except InvalidFilter as exc:
        return error_page(
            request,
            f"Bộ lọc không hợp lệ ({exc}). Vui lòng chọn lại từ danh sách.",
            status_code=400,
            title="Bộ lọc không hợp lệ",
        )


def _ward_choices(user: User) -> list[tuple[str, str]]:
    wards = ward_scope(user)
    if wards is None:
        return []
    return sorted(((code, ward_label(code)) for code in wards), key=lambda pair: pair[1])


@router.get("")
def team_list(request: Request, user: TeamUser, db: SessionDep, page: str = "1") -> Response:
    filters = filters_or_error(request)
    if isinstance(filters, Response):
        return filters
    number = int(page) if page.isdigit() and len(page) < 6 else 1
    try:
        result = list_requests(
            session=db, user=user, filters=filters, page=max(number, 1), path="/team"
        )
    except OutOfScope:
        return forbidden(request, OUT_OF_SCOPE)
    now = utcnow()
    limits = overdue_hours()
    query = filters.as_query()
    return templates.TemplateResponse(
        request,
        "team/list.html",
        {
            "title": "Yêu cầu hỗ trợ của địa bàn",
            "result": result,
            "filters": filters,
            "overdue": {r.id: is_overdue(r, now, limits) for r in result.items},
            "wards": _ward_choices(user),
            "all_wards": ward_scope(user) is None,
            "age_choices": AGE_CHOICES,
            "statuses": list(RequestStatus),
            "query": urlencode(query),
            "page_link": lambda n: "?" + urlencode({**query, "page": n}),
            "count_cap": COUNT_CAP,
            **labels(),
        },
    )


def _detail(
    request: Request, db: SessionDep, user: User, item: AidRequest, *, error: str | None = None
) -> Response:
    record_contact_view(session=db, user=user, request=item)
    names = actor_names(session=db, actors={h.actor for h in item.history})
    assignee = db.get(User, item.assignee_id) if item.assignee_id else None
    return templates.TemplateResponse(
        request,
        "team/detail.html",
        {
            "title": f"Yêu cầu {format_ref(item.ref_code)}",
            "item": item,
            "overdue": is_overdue(item, utcnow()),
            "history": list(reversed(item.history)),
            "names": names,
            "assignee": assignee,
            "members": assignable_users(session=db, request=item),
            "changes": allowed_changes(item),
            "error": error,
            **labels(),
        },
        status_code=400 if error else 200,
    )


def _find(request: Request, db: SessionDep, user: User, code: str) -> AidRequest | Response:
    item = find_request(session=db, user=user, ref_code=code, path=request.url.path)
    if item is None:
        return error_page(request, NOT_FOUND, status_code=404, title="Không tìm thấy")
    return item


def _export_filters(request: Request, db: SessionDep, user: User) -> RequestFilters | Response:
    filters = filters_or_error(request)
    if isinstance(filters, Response):
        return filters
    try:
        check_scope(session=db, user=user, filters=filters, path=request.url.path)
    except OutOfScope:
        return forbidden(request, OUT_OF_SCOPE)
    return filters


@router.get("/export.csv")
def team_export_csv(request: Request, user: TeamUser, db: SessionDep) -> Response:
    filters = _export_filters(request, db, user)
    if isinstance(filters, Response):
        return filters
    record_export(session=db, user=user, filters=filters, kind="csv")
    user_id, path = user.id, request.url.path

    def chunks() -> Iterator[bytes]:
        # Streamed after this handler returns: its own session, the same scope.
        with session_scope() as session:
            viewer = session.get(User, user_id)
            if viewer is None:
                raise RuntimeError("viewer is missing")
            rows = export_rows(session=session, user=viewer, filters=filters, path=path)
            yield from csv_chunks(rows)

    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{export_filename("csv")}"'},
    )


@router.get("/export.xlsx")
def team_export_xlsx(request: Request, user: TeamUser, db: SessionDep) -> Response:
    filters = _export_filters(request, db, user)
    if isinstance(filters, Response):
        return filters
    handle, name = tempfile.mkstemp(prefix="hotline-export-", suffix=".xlsx")
    os.close(handle)
    target = Path(name)
    try:
        rows = export_rows(session=db, user=user, filters=filters, path=request.url.path)
        count = write_xlsx(rows, target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    record_export(session=db, user=user, filters=filters, kind="xlsx", rows=count)
    return FileResponse(
        target,
        media_type=XLSX_TYPE,
        filename=export_filename("xlsx"),
        background=BackgroundTask(target.unlink, missing_ok=True),
    )


@router.get("/requests/{code}")
def team_detail(request: Request, code: str, user: TeamUser, db: SessionDep) -> Response:
    item = _find(request, db, user, code)
    if isinstance(item, Response):
        return item
    return _detail(request, db, user, item)


def _change(
    request: Request,
    db: SessionDep,
    user: User,
    code: str,
    apply: Callable[[AidRequest], object],
) -> Response:
    """Runs one workspace change on a request the user may see: back to its page, or the page
    again with the reason it was refused (400), or 404 (audited) outside their wards."""
    item = _find(request, db, user, code)
    if isinstance(item, Response):
        return item
    try:
        apply(item)
    except ChangeRefused as exc:
        return _detail(request, db, user, item, error=str(exc))
    return RedirectResponse(f"/team/requests/{item.ref_code}", status_code=303)


@router.post("/requests/{code}/status")
def team_change_status(
    request: Request,
    code: str,
    user: TeamUser,
    db: SessionDep,
    status: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _change(
        request,
        db,
        user,
        code,
        lambda item: change_status(session=db, user=user, request=item, status=status, note=note),
    )


def _assignee_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 9:
        raise ChangeRefused("Vui lòng chọn người nhận việc.")
    return int(raw)


@router.post("/requests/{code}/assign")
def team_assign(
    request: Request,
    code: str,
    user: TeamUser,
    db: SessionDep,
    assignee: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    return _change(
        request,
        db,
        user,
        code,
        lambda item: assign(
            session=db, user=user, request=item, assignee_id=_assignee_id(assignee)
        ),
    )


@router.post("/requests/{code}/notes")
def team_note(
    request: Request,
    code: str,
    user: TeamUser,
    db: SessionDep,
    text: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _change(
        request,
        db,
        user,
        code,
        lambda item: add_note(session=db, user=user, request=item, text=text),
    )
