"""The team workspace in a real Chromium: a team member moves a request along, and the resident
receives the notice on Telegram (the fake Bot API) through the real outbound worker."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bot.requests.codes import format_ref
from bot.requests.service import submit_aid_request
from bot.settings import PROJECT_ROOT
from bot.users.models import Role
from tests.browser.conftest import WebServer, run_web_server, scratch_database
from tests.browser.support import create_account, new_page, sign_in
from tests.fakes import telegram_api
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.requests.factories import BEN_THANH, HOAN_KIEM, SAI_GON, aid_in, make_team

pytestmark = pytest.mark.browser

SCREENSHOTS = PROJECT_ROOT / "docs" / "img"
RESIDENT_CHAT = "5550001"


def screenshot_dir(tmp_path: Path) -> Path:
    """docs/img with HOTLINE_UPDATE_SCREENSHOTS=1 (refreshes the README's pictures), else tmp."""
    target = SCREENSHOTS if os.environ.get("HOTLINE_UPDATE_SCREENSHOTS") else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeTelegramAPI]:
    fake = FakeTelegramAPI().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, telegram: FakeTelegramAPI
) -> Iterator[WebServer]:
    """The web app with its outbound worker, Telegram pointed at the fake Bot API."""
    workdir = tmp_path_factory.mktemp("team")
    env = {
        "TELEGRAM_BOT_TOKEN": telegram_api.TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": "team-test-secret",
        "TELEGRAM_API_BASE_URL": telegram.url,
        "WORKER_IN_PROCESS": "true",
    }
    with scratch_database(workdir) as url, run_web_server(workdir, url, **env) as server:
        yield server


@pytest.fixture
def page(browser: Browser, site: WebServer) -> Iterator[Page]:
    """A fresh browser context on this module's site (not the shared web server)."""
    with new_page(browser, site.web_url) as fresh:
        yield fresh


def seed(site: WebServer) -> list[str]:
    """Two teams and a few residents' requests (through the real service); their codes."""
    engine = create_engine(site.database_url)
    codes = []
    try:
        with Session(engine) as session, session.begin():
            make_team(session, slug="ben-thanh", wards=[BEN_THANH, SAI_GON])
            make_team(session, slug="hoan-kiem", wards=[HOAN_KIEM], chat="-100200")
            cases = [
                (RESIDENT_CHAT, BEN_THANH, {"days_without_food": 2}),
                ("5550002", SAI_GON, {"needs": ["medicine"], "vulnerable": ["elderly"]}),
                ("5550003", BEN_THANH, {"needs": ["money"], "household_size": 7}),
                ("5550004", HOAN_KIEM, {"needs": ["water"]}),
            ]
            for chat, ward, changes in cases:
                saved = submit_aid_request(
                    session=session,
                    conversation_id=f"telegram:{chat}",
                    data=aid_in(ward_code=ward, **changes),  # type: ignore[arg-type]
                )
                codes.append(saved.request.ref_code)
    finally:
        engine.dispose()
    return codes


def wait_for_message(telegram: FakeTelegramAPI, chat: str, needle: str) -> str:
    deadline = time.monotonic() + 45  # the worker's poll and Telegram's per-chat pace, loaded CI
    while time.monotonic() < deadline:
        for call in telegram.sent():
            if str(call.params.get("chat_id")) == chat and needle in str(call.params.get("text")):
                return str(call.params["text"])
        time.sleep(0.2)
    seen = [(c.params.get("chat_id"), c.params.get("text")) for c in telegram.sent()]
    pytest.fail(f"no message to {chat} with {needle!r}; sent: {seen}")


def test_a_member_moves_a_request_and_the_resident_is_told_on_telegram(
    page: Page, site: WebServer, telegram: FakeTelegramAPI, tmp_path: Path
) -> None:
    codes = seed(site)
    username, password = create_account(
        site, role=Role.TEAM, teams=["ben-thanh"], display_name="Lê Thị Hoa"
    )
    # The team's group is told with a link, not the resident's phone.
    group_note = wait_for_message(telegram, "-100123", format_ref(codes[0]))
    assert "0912345678" not in group_note
    assert f"/team/requests/{codes[0]}" in group_note

    sign_in(page, username, password)
    page.goto("/team")
    expect(page.get_by_role("heading", name="Yêu cầu hỗ trợ của địa bàn")).to_be_visible()
    rows = page.locator("table.requests tbody tr")
    expect(rows).to_have_count(3)  # not the Hoàn Kiếm request
    expect(rows.first).to_contain_text(format_ref(codes[0]))  # 2 days without food: first
    expect(page.get_by_text(format_ref(codes[3]))).to_have_count(0)
    page.set_viewport_size({"width": 1200, "height": 640})
    page.screenshot(path=str(screenshot_dir(tmp_path) / "team-list.png"), full_page=True)

    page.get_by_role("link", name=format_ref(codes[0])).click()
    expect(page).to_have_url(re.compile(f"/team/requests/{codes[0]}$"))
    expect(page.get_by_role("link", name="Gọi 0912 345 678")).to_have_attribute(
        "href", "tel:+84912345678"
    )
    page.get_by_label("Trạng thái mới").select_option(label="đang xử lý")
    page.get_by_label("Ghi chú (bắt buộc").fill("Đã gọi điện, chiều nay mang gạo tới")
    page.get_by_role("button", name="Lưu và báo cho người dân").click()
    expect(page.locator("dl.facts").first).to_contain_text("đang xử lý", timeout=15_000)
    expect(page.locator("table").last).to_contain_text(
        "Đã gọi điện, chiều nay mang gạo tới", timeout=15_000
    )
    page.screenshot(path=str(screenshot_dir(tmp_path) / "team-detail.png"), full_page=True)

    text = wait_for_message(telegram, RESIDENT_CHAT, "đang được xử lý")
    assert text.startswith(f"Yêu cầu {format_ref(codes[0])} của bạn đang được xử lý")

    page.goto(f"/team/requests/{codes[3]}")  # another ward's request by its code
    expect(page.get_by_text("Không tìm thấy yêu cầu này trong địa bàn của bạn.")).to_be_visible()
