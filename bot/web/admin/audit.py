"""/admin/audit: the audit trail with filters, newest first, and its CSV export (audited).

The trail holds ids, codes and counts, never message text or residents' details, so the page
shows it as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from starlette.responses import Response

from bot.audit.models import AuditEvent
from bot.audit.service import AuditFilters, audit_page, audit_rows, record_audit
from bot.db.base import utcnow
from bot.db.session import session_scope
from bot.exports.service import csv_chunks, neutralise
from bot.users.models import User
from bot.users.service import audit_actor, get_user_by_username
from bot.web.auth.deps import AdminUser
from bot.web.deps import SessionDep
from bot.web.templating import templates, vn_time

router = APIRouter(prefix="/admin", tags=["admin"])

CSV_HEADERS = (
    "Mã",
    "Thời gian",
    "Người thực hiện",
    "Tên",
    "Thao tác",
    "Đối tượng",
    "Mã đối tượng",
    "Chi tiết",
)


class BadFilter(ValueError):
    pass


def _day(raw: str, label: str) -> date | None:
    if not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise BadFilter(f"{label} không hợp lệ (dạng năm-tháng-ngày).") from None


def parse_filters(db: SessionDep, params: dict[str, str]) -> AuditFilters:
    """The page's filters from the query string; BadFilter says which one is wrong."""
    actor = params.get("actor", "").strip()[:64] or None
    if actor and ":" not in actor and actor not in ("system", "resident", "cli", "test"):
        # A username typed in the box: the trail names accounts "user:<id>".
        account = get_user_by_username(session=db, username=actor.lower())
        actor = audit_actor(account) if account else actor
    raw_id = params.get("entity_id", "").strip()
    if raw_id and not raw_id.isdigit():
        raise BadFilter("Mã đối tượng phải là một số.")
    day_from = _day(params.get("from", ""), "Từ ngày")
    day_to = _day(params.get("to", ""), "Đến ngày")
    if day_from and day_to and day_from > day_to:
        raise BadFilter("“Từ ngày” phải trước “Đến ngày”.")
    return AuditFilters(
        actor=actor,
        action=params.get("action", "").strip()[:48] or None,
        entity=params.get("entity", "").strip()[:32] or None,
        entity_id=int(raw_id) if raw_id else None,
        day_from=day_from,
        day_to=day_to,
    )


def _names(db: SessionDep, events: list[AuditEvent]) -> dict[str, str]:
    """ "user:12" → "Nguyễn Văn A (an.nguyen)" for the accounts on the page."""
    ids = {
        int(e.actor.split(":", 1)[1])
        for e in events
        if e.actor.startswith("user:") and e.actor.split(":", 1)[1].isdigit()
    }
    if not ids:
        return {}
    rows = db.execute(select(User.id, User.display_name, User.username).where(User.id.in_(ids)))
    return {f"user:{uid}": f"{name} ({username})" for uid, name, username in rows}


def _detail(detail: dict[str, object] | None) -> str:
    return json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)


@router.get("/audit")
def audit_trail(request: Request, user: AdminUser, db: SessionDep) -> Response:
    params = dict(request.query_params)
    try:
        filters = parse_filters(db, params)
    except BadFilter as exc:
        return templates.TemplateResponse(
            request,
            "admin/audit.html",
            {
                "title": "Nhật ký thao tác",
                "error": str(exc),
                "events": [],
                "params": params,
                "names": {},
                "next_before": None,
                "detail": _detail,
                "export_query": "",
            },
            status_code=400,
        )
    raw_before = params.get("before", "")
    before = int(raw_before) if raw_before.isdigit() else None
    events, next_before = audit_page(session=db, filters=filters, before=before)
    args = filters.query_args()
    return templates.TemplateResponse(
        request,
        "admin/audit.html",
        {
            "title": "Nhật ký thao tác",
            "error": None,
            "events": events,
            "params": params,
            "names": _names(db, events),
            "next_before": next_before,
            "next_query": urlencode({**args, "before": next_before}) if next_before else "",
            "first_query": urlencode(args) if before else "",
            "export_query": urlencode(args),
            "detail": _detail,
        },
    )


@router.get("/audit.csv")
def audit_export(request: Request, user: AdminUser, db: SessionDep) -> Response:
    try:
        filters = parse_filters(db, dict(request.query_params))
    except BadFilter as exc:
        return templates.TemplateResponse(
            request,
            "error.html",
            {"title": "Bộ lọc không hợp lệ", "message": str(exc)},
            status_code=400,
        )
    record_audit(
        session=db,
        actor=audit_actor(user),
        action="audit.exported",
        entity="audit_event",
        entity_id=None,
        detail={"format": "csv", "filters": filters.query_args()},
    )
    db.commit()

    def rows() -> Iterator[list[str]]:
        # Its own session: the response streams after the request's session has closed.
        with session_scope() as stream_db:
            names: dict[str, str] = {}
            for event in audit_rows(session=stream_db, filters=filters):
                if event.actor.startswith("user:") and event.actor not in names:
                    names |= _names(stream_db, [event])
                yield [
                    str(event.id),
                    vn_time(event.created_at, "%Y-%m-%d %H:%M:%S"),
                    neutralise(event.actor),
                    neutralise(names.get(event.actor, "")),
                    neutralise(event.action),
                    neutralise(event.entity),
                    "" if event.entity_id is None else str(event.entity_id),
                    neutralise(_detail(event.detail)),
                ]

    filename = f"nhat-ky-{vn_time(utcnow(), '%Y%m%d-%H%M')}.csv"
    return StreamingResponse(
        csv_chunks(rows(), CSV_HEADERS),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
