"""The daily report: its figures for one day, the Telegram message through the outbound path
(counts only), the CLI, the page and the XLSX."""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from bot.cli import app
from bot.db.base import utcnow
from bot.outbound.models import OutboundMessage
from bot.reports.daily import daily_report, report_text, send_report, yesterday
from bot.requests.workspace import change_status
from bot.settings import get_settings
from bot.web.templating import VIETNAM
from tests.requests.factories import BEN_THANH, HOAN_KIEM
from tests.users.factories import login
from tests.workspace.conftest import Wards, make_request


def _today() -> object:
    return utcnow().astimezone(VIETNAM).date()


def test_the_days_figures(session: Session, wards: Wards) -> None:
    today = _today()
    a = make_request(session, ward=BEN_THANH, days_without_food=3)
    make_request(session, ward=HOAN_KIEM, needs=["medicine"])
    old = make_request(session, ward=HOAN_KIEM, hours_old=24 * 5, needs=["money"])  # overdue
    change_status(session=session, user=wards.admin, request=a, status="resolved", note="")
    report = daily_report(session=session, day=today)  # type: ignore[arg-type]
    assert report.board.totals["total"] == 2
    assert report.board.totals["emergencies"] == 1
    assert report.resolved == 1
    assert report.overdue == 1
    assert report.overdue_by_province[0][0] == old.province_code
    text = report_text(report)
    assert f"Báo cáo ngày {today:%d/%m/%Y}" in text  # type: ignore[str-format]
    assert "Yêu cầu mới: 2 (khẩn cấp: 1)" in text
    assert "Đang quá hạn: 1" in text
    assert a.phone not in text
    assert a.address_detail not in text
    empty = daily_report(session=session, day=today - timedelta(days=30))  # type: ignore[operator]
    assert empty.board.totals["total"] == 0
    assert "Yêu cầu mới: 0" in report_text(empty)


def test_the_report_goes_to_the_admins_group_once_per_day(
    session: Session, wards: Wards, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_request(session, ward=BEN_THANH)
    report = daily_report(session=session, day=yesterday())
    assert send_report(session=session, report=report, actor="test") is None  # no group set
    monkeypatch.setenv("REPORT_TELEGRAM_CHAT_ID", "-100999")
    get_settings.cache_clear()
    try:
        first = send_report(session=session, report=report, actor="test")
        again = send_report(session=session, report=report, actor="test")
    finally:
        monkeypatch.delenv("REPORT_TELEGRAM_CHAT_ID")
        get_settings.cache_clear()
    assert first is not None
    assert again is not None
    assert first.id == again.id
    assert (first.channel, first.address, first.kind, first.status) == (
        "telegram",
        "-100999",
        "daily_report",
        "pending",
    )
    assert session.scalars(
        select(OutboundMessage).where(OutboundMessage.kind == "daily_report")
    ).all() == [first]


def test_the_cli_prints_the_report_and_refuses_a_bad_date(session: Session, wards: Wards) -> None:
    make_request(session, ward=BEN_THANH)
    runner = CliRunner()
    result = runner.invoke(app, ["report", "daily", "--date", str(_today())])
    assert result.exit_code == 0, result.output
    assert "Yêu cầu mới: 1" in result.output
    assert runner.invoke(app, ["report", "daily", "--date", "hôm qua"]).exit_code != 0
    unsent = runner.invoke(app, ["report", "daily", "--send"])
    assert unsent.exit_code == 1
    assert "REPORT_TELEGRAM_CHAT_ID" in unsent.output


def test_the_report_page_and_xlsx_are_for_admins(
    web: TestClient, session: Session, wards: Wards
) -> None:
    make_request(session, ward=BEN_THANH)
    login(web, wards.admin.username)
    page = web.get(f"/admin/report?date={_today()}")
    assert page.status_code == 200
    assert "Báo cáo ngày" in page.text
    assert web.get("/admin/report?date=2026-02-30").status_code == 400
    book = openpyxl.load_workbook(
        io.BytesIO(web.get(f"/admin/report.xlsx?date={_today()}").content)
    )
    summary = {row[0]: row[1] for row in book["Tóm tắt"].iter_rows(values_only=True)}
    book.close()
    assert summary["Yêu cầu mới"] == 1
    web.cookies.clear()
    login(web, wards.member.username)
    assert web.get("/admin/report").status_code == 403
