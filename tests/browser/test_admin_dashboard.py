"""The admin dashboard in a real Chromium: the charts are drawn (pixels, not just canvases),
a figure opens its list, and the filtered list exports as an XLSX that openpyxl reads."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bot.demo.seed import seed_demo
from bot.users.models import Role
from tests.browser.conftest import WebServer
from tests.browser.support import create_account, sign_in
from tests.browser.test_team_workspace import screenshot_dir

pytestmark = pytest.mark.browser

# Counts the canvas's pixels that are not transparent: a chart drew something.
DRAWN_PIXELS = """(id) => {
  const canvas = document.getElementById(id);
  const ctx = canvas.getContext("2d");
  const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = 0;
  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) drawn++; }
  return drawn;
}"""


@pytest.fixture(scope="module")
def demo(web_server: WebServer) -> WebServer:
    engine = create_engine(web_server.database_url)
    try:
        with Session(engine) as session, session.begin():
            seed_demo(session=session, requests=1500, days=45, seed=11)
    finally:
        engine.dispose()
    return web_server


def test_an_admin_sees_the_charts_drawn_and_opens_a_figures_list(
    page: Page, demo: WebServer, tmp_path: Path
) -> None:
    username, password = create_account(demo, role=Role.ADMIN, display_name="Nguyễn Minh Quân")
    sign_in(page, username, password)
    page.goto("/admin")
    expect(page.get_by_role("heading", name="Bảng điều khiển")).to_be_visible()
    for chart in (
        "chart-by-day",
        "chart-by-province",
        "chart-by-need",
        "chart-by-status",
        "chart-backlog",
        "chart-handoffs",
    ):
        page.wait_for_function("(id) => document.getElementById(id).chart !== undefined", arg=chart)
        assert page.evaluate(DRAWN_PIXELS, chart) > 500, chart
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(screenshot_dir(tmp_path) / "admin-dashboard.png"), full_page=True)

    page.get_by_role("link", name=re.compile("Đang mở")).click()
    expect(page).to_have_url(re.compile(r"/team\?.*status=open"))
    expect(page.locator("table.requests tbody tr").first).to_contain_text("-")
    listed = int(re.sub(r"\D", "", page.get_by_text("yêu cầu khớp bộ lọc").inner_text()))

    with page.expect_download() as download:
        page.get_by_role("link", name="Excel (XLSX)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".xlsx"
    book = openpyxl.load_workbook(saved, read_only=True)
    try:
        sheet = book.active
        assert sheet is not None
        rows = list(sheet.iter_rows(values_only=True))
    finally:
        book.close()
    assert rows[0][0] == "Mã yêu cầu"
    assert len(rows) - 1 == listed > 0
    assert {row[2] for row in rows[1:]} <= {"mới tiếp nhận", "đã chuyển tổ hỗ trợ", "đang xử lý"}
