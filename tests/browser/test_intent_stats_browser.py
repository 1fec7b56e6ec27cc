"""The dashboard's message charts in a real Chromium: the not-understood share per day and the
most asked topics are drawn (pixels, not just canvases)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.stats.models import IntentDailyCount
from bot.users.models import Role
from bot.web.templating import VIETNAM
from tests.browser.conftest import WebServer
from tests.browser.support import create_account, sign_in
from tests.browser.test_admin_dashboard import DRAWN_PIXELS

pytestmark = pytest.mark.browser


def test_an_admin_sees_the_share_not_understood_and_the_topics_drawn(
    page: Page, web_server: WebServer
) -> None:
    today = utcnow().astimezone(VIETNAM).date()
    engine = create_engine(web_server.database_url)
    try:
        with Session(engine) as session, session.begin():
            for back in range(10):
                day = today - timedelta(days=back)
                for intent, messages, missed in (
                    ("ask_testing", 40 + back, 0),
                    ("request_aid", 25, 0),
                    ("nlu_fallback", 5 + back % 3, 5 + back % 3),
                ):
                    session.merge(
                        IntentDailyCount(
                            day=day,
                            intent=intent,
                            channel="zalo",
                            messages=messages,
                            not_understood=missed,
                        )
                    )
    finally:
        engine.dispose()
    username, password = create_account(web_server, role=Role.ADMIN)
    sign_in(page, username, password)
    page.goto("/admin")
    expect(
        page.get_by_role("heading", name="Tỷ lệ tin nhắn bot không hiểu theo ngày")
    ).to_be_visible()
    for chart in ("chart-not-understood", "chart-topics"):
        page.wait_for_function("(id) => document.getElementById(id).chart !== undefined", arg=chart)
        assert page.evaluate(DRAWN_PIXELS, chart) > 500, chart
