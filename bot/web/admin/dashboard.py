"""/admin: the dashboard (admins). Thin: the figures come from bot/dashboard/service.py,
through the workspace's one scope."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from bot.dashboard.service import Dashboard, build_dashboard
from bot.requests.service import STATUS_LABELS
from bot.requests.validation import NEED_LABELS
from bot.requests.workspace import OutOfScope, RequestFilters
from bot.web.auth.deps import AdminUser
from bot.web.auth.responses import forbidden
from bot.web.deps import SessionDep
from bot.web.stats import dashboard_context
from bot.web.team import OUT_OF_SCOPE, filters_or_error
from bot.web.templating import templates

router = APIRouter(prefix="/admin", tags=["admin"])


def _list_link(filters: RequestFilters, **narrower: str) -> str:
    """The workspace list behind a figure: the dashboard's filters and the figure's own."""
    return "/team?" + urlencode({**filters.as_query(), **narrower})


def chart_data(board: Dashboard, filters: RequestFilters) -> dict[str, Any]:
    """What dashboard.js draws, with the list link of every bar and point."""
    statuses = {str(k): v for k, v in STATUS_LABELS.items()}
    return {
        "byDay": {
            "labels": [d for d, _n, _e in board.by_day],
            "requests": [n for _d, n, _e in board.by_day],
            "emergencies": [e for _d, _n, e in board.by_day],
            "links": [_list_link(filters, **{"from": d, "to": d}) for d, _n, _e in board.by_day],
        },
        "byProvince": {
            "labels": [name for _c, name, _n in board.by_province[:15]],
            "values": [n for _c, _name, n in board.by_province[:15]],
            "links": [_list_link(filters, province=c) for c, _name, _n in board.by_province[:15]],
        },
        "byNeed": {
            "labels": [NEED_LABELS.get(k, k) for k, _n in board.by_need],
            "values": [n for _k, n in board.by_need],
            "links": [_list_link(filters, need=k) for k, _n in board.by_need],
        },
        "byStatus": {
            "labels": [statuses.get(k, k) for k, _n in board.by_status],
            "values": [n for _k, n in board.by_status],
            "links": [_list_link(filters, status=k) for k, _n in board.by_status],
        },
        "backlog": {
            "labels": [label for label, _n in board.backlog],
            "values": [n for _label, n in board.backlog],
            "links": [
                _list_link(filters, status="open", **({"age": age} if age else {}))
                for age in ("", "24h", "3d", "7d", "30d")
            ],
        },
        "handoffs": {
            "labels": [d for d, *_rest in board.handoffs_by_day],
            "total": [n for _d, n, _e, _m in board.handoffs_by_day],
            "emergencies": [e for _d, _n, e, _m in board.handoffs_by_day],
            "misunderstood": [m for _d, _n, _e, m in board.handoffs_by_day],
        },
    }


@router.get("")
def dashboard(request: Request, user: AdminUser, db: SessionDep) -> Response:
    filters = filters_or_error(request)
    if isinstance(filters, Response):
        return filters
    try:
        board = build_dashboard(session=db, user=user, filters=filters)
    except OutOfScope:
        return forbidden(request, OUT_OF_SCOPE)
    shown = RequestFilters(
        **{**filters.__dict__, "created_from": board.first_day, "created_to": board.last_day}
    )
    return templates.TemplateResponse(
        request,
        "admin/dashboard.html",
        {
            "title": "Bảng điều khiển",
            "board": board,
            "filters": shown,
            "list_link": lambda **narrower: _list_link(shown, **narrower),
            # Inside a <script> block: no "</" may close it early.
            "chart_json": json.dumps(chart_data(board, shown), ensure_ascii=False).replace(
                "</", "<\\/"
            ),
            **dashboard_context(session=db, user=user, filters=shown),
        },
    )
