"""The daily report's outreach sections: advisories sent (sent / failed / skipped),
subscribers by province, new unanswered rumour questions — page, XLSX and the Telegram
message (counts only)."""

from __future__ import annotations

import io

import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.advisories.service import create_advisory, fan_out_batch, start_sending, submit
from bot.db.base import utcnow
from bot.outbound.models import OutboundMessage, OutboundStatus
from bot.reports.daily import daily_report, report_text
from bot.rumours.service import record_question
from bot.web.templating import VIETNAM
from tests.advisories.factories import subscribers
from tests.users.factories import login
from tests.workspace.conftest import Wards

RUMOUR = "Tôi là Lan, nghe nói uống nước dừa tươi chữa covid"


def _setup(session: Session, wards: Wards) -> None:
    subscribers(session, 3)  # Hồ Chí Minh
    subscribers(session, 2, channel="zalo", start=10, province="01", ward=None, idle_days=9)
    advisory = create_advisory(
        session=session,
        author=wards.admin,
        title="Chợ đêm",
        text="Từ 18h hôm nay tạm dừng chợ đêm.",
        target_kind="all",
        target_codes=[],
    )
    submit(session=session, advisory=advisory, user=wards.admin, threshold=100)
    start_sending(session=session, advisory=advisory, user=wards.admin)
    assert fan_out_batch(session=session, advisory_id=advisory.id, after_id=0) is None
    session.execute(  # two delivered, one dead
        update(OutboundMessage)
        .where(OutboundMessage.kind == "advisory", OutboundMessage.address != "700003")
        .values(status=OutboundStatus.SENT)
    )
    session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.kind == "advisory", OutboundMessage.address == "700003")
        .values(status=OutboundStatus.DEAD)
    )
    record_question(session=session, text=RUMOUR, channel="telegram")
    record_question(session=session, text="uong nuoc dua tuoi chua covid ko", channel="zalo")


def test_the_outreach_figures_and_the_message(session: Session, wards: Wards) -> None:
    _setup(session, wards)
    report = daily_report(session=session, day=utcnow().astimezone(VIETNAM).date())
    figures = report.outreach
    assert figures is not None
    assert figures.copies == (2, 1, 2)  # the idle Zalo residents: outside the window
    assert [(c, n) for c, _name, n in figures.subscribers_by_province] == [("79", 3), ("01", 2)]
    assert figures.new_rumours == [("Tôi là [tên], nghe nói uống nước dừa tươi chữa covid", 2)]
    text = report_text(report)
    assert "Tin cảnh báo đã gửi: 1 tin; bản tin đã tới 2, lỗi 1, bỏ qua 2" in text
    assert "Người đăng ký nhận tin: 5" in text
    assert "Tin đồn mới chưa có câu trả lời: 1 nhóm, 2 câu hỏi" in text
    assert "nước dừa" not in text  # counts only
    assert "Chợ đêm" not in text


def test_the_page_and_the_xlsx_show_them(web: TestClient, session: Session, wards: Wards) -> None:
    _setup(session, wards)
    login(web, wards.admin.username)
    day = utcnow().astimezone(VIETNAM).date()
    page = web.get(f"/admin/report?date={day}")
    assert page.status_code == 200
    assert "Tin cảnh báo đã gửi trong ngày" in page.text
    assert "Tôi là [tên], nghe nói uống nước dừa tươi chữa covid" in page.text
    book = openpyxl.load_workbook(io.BytesIO(web.get(f"/admin/report.xlsx?date={day}").content))
    sent = list(book["Tin cảnh báo"].iter_rows(values_only=True))
    people = list(book["Người đăng ký"].iter_rows(values_only=True))
    rumours = list(book["Tin đồn mới"].iter_rows(values_only=True))
    book.close()
    assert sent[1][1:] == ("Chợ đêm", 2, 1, 2)
    assert people[1][1] == 3
    assert rumours[1][1] == 2
