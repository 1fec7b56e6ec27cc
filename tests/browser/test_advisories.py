"""An advisory composed, previewed, approved by a second admin and sent to the fake Telegram,
in a real Chromium against uvicorn with the in-process outbound worker."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bot.users.models import Role
from tests.advisories.factories import subscribers
from tests.browser.conftest import WebServer, run_web_server, scratch_database
from tests.browser.support import create_account, new_page, sign_in
from tests.browser.test_team_workspace import screenshot_dir
from tests.fakes import telegram_api
from tests.fakes.telegram_api import FakeTelegramAPI, reply_markup

pytestmark = pytest.mark.browser
TEXT = "Từ 18h hôm nay tạm dừng chợ đêm Bến Thành. Người dân hạn chế ra ngoài."


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeTelegramAPI]:
    fake = FakeTelegramAPI().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, telegram: FakeTelegramAPI
) -> Iterator[WebServer]:
    workdir: Path = tmp_path_factory.mktemp("advisories")
    env = {
        "TELEGRAM_BOT_TOKEN": telegram_api.TOKEN,
        "TELEGRAM_API_BASE_URL": telegram.url,
        "TELEGRAM_WEBHOOK_SECRET": "s" * 32,
        "TELEGRAM_CHAT_INTERVAL_SECONDS": "0.01",
        "ADVISORY_APPROVAL_THRESHOLD": "2",
        "WORKER_IN_PROCESS": "true",
    }
    with scratch_database(workdir) as url, run_web_server(workdir, url, **env) as server:
        engine = create_engine(url)
        with Session(engine) as session, session.begin():
            subscribers(session, 3)
        engine.dispose()
        yield server


def test_compose_preview_approve_and_send_to_telegram(
    browser: Browser, site: WebServer, telegram: FakeTelegramAPI, tmp_path: Path
) -> None:
    author, password = create_account(site, role=Role.ADMIN, display_name="Người Soạn")
    second, _ = create_account(site, role=Role.ADMIN, display_name="Người Duyệt")
    with new_page(browser, site.web_url) as page:
        sign_in(page, author, password)
        page.goto("/admin/advisories/new")
        page.get_by_label("Tiêu đề (chỉ cán bộ thấy)").fill("Chợ đêm")
        page.get_by_label(re.compile("Nội dung gửi người dân")).fill(TEXT)
        page.get_by_label("Tỉnh/thành (mã)").check()
        page.get_by_label(re.compile("Mã địa bàn")).fill("79")
        page.get_by_label("Xét nghiệm ở đâu").check()
        page.get_by_label("Số điện thoại cần biết").check()
        page.get_by_role("button", name="Xem trước").click()
        expect(page.locator("#preview")).to_contain_text(TEXT)
        expect(page.locator("#preview .preview-buttons button")).to_have_text(
            ["Xét nghiệm ở đâu", "Số điện thoại cần biết"]
        )
        expect(page.locator("#reach-total")).to_have_text("3")
        page.screenshot(path=str(screenshot_dir(tmp_path) / "advisory-preview.png"), full_page=True)
        page.get_by_role("button", name="Lưu và gửi duyệt").click()
        expect(page.locator("#status")).to_have_text("Chờ quản trị viên thứ hai duyệt")
        url = page.url
    with new_page(browser, site.web_url) as page:
        sign_in(page, second, password)
        page.goto(url)
        page.get_by_role("button", name=re.compile("Duyệt")).click()
        expect(page.locator("#status")).to_have_text("Đã duyệt, chưa gửi")
        page.get_by_role("button", name="Gửi ngay").click()
        expect(page.locator("#p-sent")).to_have_text("3", timeout=30_000)
        expect(page.locator("#status")).to_have_text("Đã gửi")
    deadline = time.monotonic() + 10
    while len(telegram.sent()) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    sent = telegram.sent()
    assert sorted(m.params["chat_id"] for m in sent) == ["700001", "700002", "700003"]
    assert {m.params["text"] for m in sent} == {TEXT}
    assert {json.dumps(reply_markup(m), sort_keys=True) for m in sent} == {
        json.dumps(
            {
                "inline_keyboard": [
                    [{"text": "Xét nghiệm ở đâu", "callback_data": "/ask_testing"}],
                    [{"text": "Số điện thoại cần biết", "callback_data": "/ask_hotline"}],
                ]
            },
            sort_keys=True,
        )
    }
