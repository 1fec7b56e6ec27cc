"""The management pages in a real Chromium: an admin edits an FAQ answer (preview, save) and a
fresh process answers with the new text without retraining; a ward is picked with the typeahead
and without JavaScript; the audit trail shows who changed what."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bot.settings import PROJECT_ROOT
from bot.users.models import Role
from tests.browser.conftest import WebServer
from tests.browser.support import create_account, new_page, sign_in
from tests.browser.test_team_workspace import screenshot_dir
from tests.requests.factories import make_team

pytestmark = pytest.mark.browser

NEW_ANSWER = (
    "Bạn có thể làm xét nghiệm tại trạm y tế phường/xã nơi bạn cư trú.\n"
    "Nếu khó thở, hãy gọi ngay {hotlines.emergency.number}."
)


def _answer_in_a_fresh_process(server: WebServer, topic: str) -> str:
    """What the bot would answer, asked from a new Python process (as the action server is)."""
    code = f"from bot.content.service import faq_answer; print(faq_answer({topic!r}).text)"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env |= {"ENV": "test", "DATABASE_URL": server.database_url}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_an_admin_edits_an_answer_and_the_bot_uses_it_without_retraining(
    page: Page, web_server: WebServer, tmp_path: Path
) -> None:
    before = _answer_in_a_fresh_process(web_server, "ask_testing")
    username, password = create_account(web_server, role=Role.ADMIN, display_name="Phạm Thu Hà")
    sign_in(page, username, password)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/admin/content")
    page.get_by_role("link", name="ask_testing").click()
    page.get_by_label("Câu trả lời").fill(NEW_ANSWER)
    page.get_by_role("button", name="Xem trước").click()
    preview = page.locator("#preview-text")
    expect(preview).to_contain_text("Nếu khó thở, hãy gọi ngay 115.")
    page.get_by_label("Ghi chú cho lần sửa này").fill("Rút gọn theo hướng dẫn mới")
    page.screenshot(path=str(screenshot_dir(tmp_path) / "admin-content.png"), full_page=True)
    page.get_by_role("button", name="Lưu").click()
    expect(page.get_by_role("status")).to_contain_text("Đã lưu")

    after = _answer_in_a_fresh_process(web_server, "ask_testing")
    assert after != before
    assert after == NEW_ANSWER.replace("{hotlines.emergency.number}", "115")

    page.get_by_role("link", name="Lịch sử thay đổi").click()
    expect(page.locator(".history-line").first).to_contain_text("Phạm Thu Hà")
    expect(page.locator(".history-line").first).to_contain_text("Rút gọn theo hướng dẫn mới")

    page.goto("/admin/audit?action=content.edited")
    expect(page.locator("table.audit tbody tr").first).to_contain_text("Phạm Thu Hà")
    expect(page.locator("table.audit tbody tr").first).to_contain_text("ask_testing")
    page.screenshot(path=str(screenshot_dir(tmp_path) / "admin-audit.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Tải CSV danh sách đã lọc").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert "content.edited" in saved.read_text(encoding="utf-8-sig")


def test_an_admin_picks_wards_as_they_type_and_without_javascript(
    page: Page, browser: Browser, web_server: WebServer, tmp_path: Path
) -> None:
    username, password = create_account(web_server, role=Role.ADMIN)
    engine = create_engine(web_server.database_url)
    try:
        with Session(engine) as session, session.begin():
            make_team(session, slug="browser-khac")
    finally:
        engine.dispose()
    create_account(web_server, role=Role.TEAM, teams=["browser-khac"], display_name="Lê Thị Hoa")
    sign_in(page, username, password)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/admin/teams")
    page.get_by_label("Tên tổ").fill("Tổ hỗ trợ phường Bến Thành")
    page.get_by_label("Mã tổ").fill("browser-ben-thanh")
    page.get_by_role("button", name="Tạo tổ").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tổ hỗ trợ phường Bến Thành")
    team_url = page.url.split("?")[0]

    # The first search builds the ward index in the server (a second or more on a busy machine).
    warm = page.request.get("/admin/wards/search?q=ben+thanh", timeout=60_000)
    assert warm.ok, warm.status
    page.get_by_label("Tìm phường/xã").press_sequentially("phuong ben thanh", delay=20)
    result = page.locator("#ward-results li", has_text="Phường Bến Thành")
    expect(result).to_be_visible()
    result.get_by_role("button", name="Thêm").click()
    expect(page.locator("table.team-wards")).to_contain_text("Phường Bến Thành")

    page.get_by_label("Thêm thành viên").select_option(
        label=page.locator("#m-user option").first.inner_text()
    )
    page.get_by_role("button", name="Thêm vào tổ").click()
    expect(page.locator("ul.members")).to_contain_text("Lê Thị Hoa")
    page.get_by_label("Tìm phường/xã").fill("sai gon ho chi minh")
    expect(page.locator("#ward-results li", has_text="Phường Sài Gòn")).to_be_visible()
    page.screenshot(path=str(screenshot_dir(tmp_path) / "admin-teams.png"), full_page=True)

    # The same picker as a plain form, for a browser without JavaScript.
    context = browser.new_context(base_url=web_server.web_url, java_script_enabled=False)
    try:
        plain = context.new_page()
        sign_in(plain, username, password)
        plain.goto(team_url)
        plain.get_by_label("Tìm phường/xã").fill("Phường Sài Gòn")
        plain.get_by_role("button", name="Tìm", exact=True).click()
        row = plain.locator("#ward-results li", has_text="Phường Sài Gòn").first
        row.get_by_role("button", name="Thêm").click()
        expect(plain.locator("table.team-wards")).to_contain_text("Phường Sài Gòn")
    finally:
        context.close()
    page.goto("/admin/teams")
    expect(page.locator("table.teams tr", has_text="Tổ hỗ trợ phường Bến Thành")).to_contain_text(
        "2"
    )


def test_a_team_member_cannot_open_the_management_pages(
    browser: Browser, web_server: WebServer
) -> None:
    username, password = create_account(web_server, role=Role.STAFF)
    with new_page(browser, web_server.web_url) as page:
        sign_in(page, username, password)
        for path in ("/admin/content", "/admin/teams", "/admin/audit"):
            response = page.goto(path)
            assert response is not None
            assert response.status == 403
