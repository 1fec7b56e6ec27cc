"""Staff sign-in in a real Chromium: the pages people click through, and what they must refuse."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.settings import PROJECT_ROOT
from bot.users.models import Role
from tests.browser.conftest import LOGIN_MAX_FAILURES, WebServer
from tests.browser.support import PASSWORD, create_account, new_page, sign_in

pytestmark = pytest.mark.browser

SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"


def test_the_login_page_in_vietnamese_and_its_screenshot(page: Page, tmp_path: Path) -> None:
    page.goto("/login")
    expect(page).to_have_title(re.compile("Đăng nhập"))
    expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    expect(page.get_by_label("Tên đăng nhập")).to_be_focused()
    # HOTLINE_UPDATE_SCREENSHOTS=1 refreshes the picture in the README.
    target = SCREENSHOTS if os.environ.get("HOTLINE_UPDATE_SCREENSHOTS") else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 900, "height": 560})
    page.screenshot(path=str(target / "login.png"))
    assert (target / "login.png").stat().st_size > 5_000


def test_first_sign_in_with_a_one_time_password_forces_a_new_one(
    page: Page, web_server: WebServer
) -> None:
    username, one_time = create_account(
        web_server, role=Role.ADMIN, display_name="Trần Văn Quản", password=None
    )
    sign_in(page, username, one_time)
    expect(page).to_have_url(re.compile("/account/password$"))
    expect(page.get_by_text("Bạn đang dùng mật khẩu một lần")).to_be_visible()
    page.goto("/admin")  # every page leads back to the password form
    expect(page).to_have_url(re.compile("/account/password$"))
    page.get_by_label("Mật khẩu hiện tại").fill(one_time)
    page.get_by_label("Mật khẩu mới (ít nhất 10 ký tự)").fill("Mat-khau-rieng-cua-toi")
    page.get_by_label("Nhập lại mật khẩu mới").fill("Mat-khau-rieng-cua-toi")
    page.get_by_role("button", name="Lưu mật khẩu").click()
    expect(page).to_have_url(re.compile("/admin$"))
    header = page.locator("header.topbar")
    expect(header).to_contain_text("Trần Văn Quản")
    expect(header).to_contain_text("Quản trị viên")
    for link in ("Tổng đài", "Phường/xã", "Quản trị"):
        expect(header.get_by_role("link", name=link, exact=True)).to_be_visible()
    header.get_by_role("button", name="Đăng xuất").click()
    expect(page).to_have_url(re.compile("/login$"))
    page.goto("/admin")
    expect(page).to_have_url(re.compile(r"/login\?next=/admin$"))


def test_wrong_password_says_so_without_saying_which(page: Page, web_server: WebServer) -> None:
    username, _ = create_account(web_server)
    sign_in(page, username, "not-my-password")
    expect(page.get_by_role("alert")).to_have_text("Tên đăng nhập hoặc mật khẩu không đúng.")
    expect(page.get_by_label("Tên đăng nhập")).to_have_value(username)
    sign_in(page, "nobody-of-that-name", "not-my-password")
    expect(page.get_by_role("alert")).to_have_text("Tên đăng nhập hoặc mật khẩu không đúng.")


def test_lock_out_after_repeated_failures(page: Page, web_server: WebServer) -> None:
    username, _ = create_account(web_server)
    for _ in range(LOGIN_MAX_FAILURES - 1):
        sign_in(page, username, "wrong-password-x")
        expect(page.get_by_role("alert")).to_contain_text("không đúng")
    sign_in(page, username, "wrong-password-x")
    expect(page.get_by_role("alert")).to_contain_text("tạm thời bị khóa")
    sign_in(page, username, PASSWORD)  # the right password, too late
    expect(page.get_by_role("alert")).to_contain_text("Vui lòng thử lại sau 15 phút")
    expect(page).to_have_url(re.compile("/login$"))


def test_not_signed_in_gets_the_login_page_and_comes_back(
    page: Page, web_server: WebServer
) -> None:
    page.goto("/admin/users")
    expect(page).to_have_url(re.compile(r"/login\?next=/admin/users$"))
    username, _ = create_account(web_server, role=Role.ADMIN)
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page).to_have_url(re.compile("/admin/users$"))
    expect(page.get_by_role("heading", name="Người dùng")).to_be_visible()


def test_a_form_posted_without_its_csrf_token_gets_403(page: Page, web_server: WebServer) -> None:
    username, _ = create_account(web_server)
    sign_in(page, username)
    expect(page).to_have_url(re.compile("/console$"))  # a staff member's home
    page.goto("/account")
    expect(page.get_by_role("heading", name="Tài khoản")).to_be_visible()
    page.locator('form[action="/logout"] input[name="csrf_token"]').evaluate("e => e.remove()")
    with page.expect_response(re.compile("/logout$")) as posted:
        page.get_by_role("button", name="Đăng xuất").click()
    assert posted.value.status == 403
    expect(page.get_by_role("heading", name="Yêu cầu không hợp lệ")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("mã bảo vệ (CSRF)")
    page.goto("/account")  # nothing happened: still signed in
    expect(page.get_by_role("heading", name="Tài khoản")).to_be_visible()


def test_forged_and_ended_session_cookies_get_the_login_page(
    page: Page, web_server: WebServer
) -> None:
    page.context.add_cookies(
        [{"name": "hotline_session", "value": "forged-" + "x" * 36, "url": web_server.web_url}]
    )
    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/login\?next=/account$"))
    expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()

    username, _ = create_account(web_server)
    sign_in(page, username)
    old = next(c for c in page.context.cookies() if c["name"] == "hotline_session")
    page.get_by_role("button", name="Đăng xuất").click()
    expect(page).to_have_url(re.compile("/login$"))
    # The server no longer has that session, exactly as after a time-out: back to the form.
    page.context.add_cookies([{**old}])  # type: ignore[list-item]
    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/login\?next=/account$"))


def test_disabling_a_user_ends_their_open_session(browser: Browser, web_server: WebServer) -> None:
    staff, _ = create_account(web_server, display_name="Nhân viên sắp nghỉ")
    admin, _ = create_account(web_server, role=Role.ADMIN)
    with (
        new_page(browser, web_server.web_url) as staff_page,
        new_page(browser, web_server.web_url) as admin_page,
    ):
        sign_in(staff_page, staff)
        expect(staff_page.get_by_role("heading", name="Hàng chờ tổng đài")).to_be_visible()
        sign_in(admin_page, admin)
        admin_page.goto("/admin/users")
        row = admin_page.get_by_role("row").filter(has_text=staff)
        row.get_by_role("button", name="Vô hiệu hóa").click()
        expect(admin_page.get_by_role("row").filter(has_text=staff)).to_contain_text(
            "Đã vô hiệu hóa"
        )
        staff_page.reload()
        expect(staff_page).to_have_url(re.compile(r"/login\?next=/console$"))
        sign_in(staff_page, staff)
        expect(staff_page.get_by_role("alert")).to_have_text(
            "Tên đăng nhập hoặc mật khẩu không đúng."
        )


def test_a_team_member_cannot_open_the_admin_pages(page: Page, web_server: WebServer) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from bot.teams.models import Team, TeamLevel, TeamWard

    engine = create_engine(web_server.database_url)
    with Session(engine) as session, session.begin():
        slug = "browser-ben-thanh"
        if session.query(Team).filter_by(slug=slug).first() is None:
            session.add(
                Team(
                    slug=slug,
                    name="Tổ hỗ trợ phường Bến Thành",
                    level=TeamLevel.WARD,
                    wards=[TeamWard(ward_code="26743")],
                )
            )
    engine.dispose()
    username, _ = create_account(web_server, role=Role.TEAM, teams=[slug])
    sign_in(page, username)
    expect(page.locator("header.topbar")).not_to_contain_text("Quản trị")
    response = page.goto("/admin")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", name="Không có quyền truy cập")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("không có quyền")


def test_the_resident_chat_still_works_under_the_content_security_policy(page: Page) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto("/")
    page.get_by_placeholder("Nhập tin nhắn…").fill("xin chào")
    page.get_by_role("button", name="Gửi").click()
    # No Rasa behind this server: the polite "busy" answer, rendered by chat.js.
    expect(page.locator("#log")).to_contain_text("hệ thống đang bận")
    assert not [p for p in problems if "Content Security Policy" in p], problems


def test_admin_pages_escape_what_people_typed(
    page: Page, web_server: WebServer, tmp_path: Path
) -> None:
    username, _ = create_account(
        web_server, role=Role.ADMIN, display_name="<img src=x onerror=alert(1)>"
    )
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, username)
    page.goto("/admin/users")
    # The creation form (each account's row has an edit form with the same labels).
    create = page.locator('form[action="/admin/users"]')
    create.get_by_label("Tên đăng nhập", exact=True).fill("script.test")
    create.get_by_label("Họ tên").fill('<script>alert("x")</script> Lan')
    create.get_by_label("Vai trò", exact=True).select_option("staff")
    create.get_by_role("button", name="Tạo và cấp mật khẩu dùng một lần").click()
    expect(page.locator("#one-time-password")).to_have_text(
        re.compile(r"^[A-Za-z0-9]{4}(-[A-Za-z0-9]{4}){3}$")
    )
    expect(page.get_by_text('<script>alert("x")</script> Lan')).to_be_visible()
    page.goto("/admin/users")
    expect(page.locator("header.topbar")).to_contain_text("<img src=x onerror=alert(1)>")
    page.set_viewport_size({"width": 1100, "height": 700})
    page.screenshot(path=str(tmp_path / "admin-users.png"), full_page=True)
    assert dialogs == []
