"""/admin/report: the daily report as a page and an XLSX (admins)."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.responses import Response

from bot.reports.daily import DailyReport, daily_report, write_report_xlsx, yesterday
from bot.requests.validation import NEED_LABELS
from bot.stats.service import percent
from bot.web.auth.deps import AdminUser
from bot.web.deps import SessionDep
from bot.web.team import XLSX_TYPE, error_page
from bot.web.templating import templates

router = APIRouter(prefix="/admin", tags=["admin"])


def _report(request: Request, db: SessionDep) -> DailyReport | Response:
    raw = request.query_params.get("date", "")
    try:
        day = date.fromisoformat(raw) if raw else yesterday()
    except ValueError:
        return error_page(
            request,
            "Ngày không hợp lệ (dạng NNNN-TT-NN).",
            status_code=400,
            title="Ngày không hợp lệ",
        )
    return daily_report(session=db, day=day)


@router.get("/report")
def report_page(request: Request, user: AdminUser, db: SessionDep) -> Response:
    report = _report(request, db)
    if isinstance(report, Response):
        return report
    return templates.TemplateResponse(
        request,
        "admin/report.html",
        {
            "title": f"Báo cáo ngày {report.day:%d/%m/%Y}",
            "report": report,
            "need_labels": NEED_LABELS,
            "percent": percent,
        },
    )


@router.get("/report.xlsx")
def report_xlsx(request: Request, user: AdminUser, db: SessionDep) -> Response:
    report = _report(request, db)
    if isinstance(report, Response):
        return report
    handle, name = tempfile.mkstemp(prefix="hotline-report-", suffix=".xlsx")
    os.close(handle)
    target = Path(name)
    write_report_xlsx(report, target)
    return FileResponse(
        target,
        media_type=XLSX_TYPE,
        filename=f"bao-cao-{report.day.isoformat()}.xlsx",
        background=BackgroundTask(target.unlink, missing_ok=True),
    )
