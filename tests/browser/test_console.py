"""The staff console in a real Chromium against the whole stack (real Rasa): a resident's
emergency appears without reload, staff claim and reply, the resident's web chat shows the
reply live, staff hand back and the bot answers the next message."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.handoff.models import HandoffRequest
from bot.residents.models import Resident
from bot.settings import PROJECT_ROOT
from bot.users.models import Role
from tests.browser.support import create_account, new_page, sign_in
from tests.e2e.conftest import LiveStack
from tests.e2e.conftest import channel_fakes as channel_fakes  # fixtures of the real stack
from tests.e2e.conftest import live_stack as live_stack
from tests.requests.factories import HOAN_KIEM, make_team

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
expect.set_options(timeout=20_000)  # Rasa and the web app share two busy CPUs here
SCREENSHOT = PROJECT_ROOT / "docs" / "img" / "console.png"
EMERGENCY = "mẹ tôi khó thở lắm, môi tím tái rồi"
STAFF_REPLY = "Chào bạn, tôi là Lan ở tổng đài. Bạn đã gọi 115 chưa? Tôi sẽ ở đây với bạn."
HELD = "Dạ em gọi 115 rồi, xe đang tới ạ"


@pytest.fixture(autouse=True)
def _staff_on_duty(live_stack: LiveStack) -> None:
    """Staff answer around the clock in these tests (no "outside hours" notice)."""
    days = "\n".join(
        f'  {d}: "00:00-24:00"' for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    )
    (live_stack.content_dir / "staff_hours.yml").write_text(
        f"timezone: Asia/Ho_Chi_Minh\ndays:\n{days}\n", encoding="utf-8"
    )


def _submit(page: Page, name: str) -> None:
    """Clicks a form's button; the expectations that follow wait for the new page (Playwright's
    own wait after a form post hangs while the page holds an EventSource open)."""
    page.get_by_role("button", name=name, exact=True).click(no_wait_after=True)


def _resident_says(page: Page, text: str) -> None:
    page.locator("#text").fill(text)
    page.get_by_role("button", name="Gửi").click()


def _handoff_of(stack: LiveStack, conversation_id: str) -> int:
    engine = create_engine(stack.database_url)
    try:
        with Session(engine) as session:
            return session.scalars(
                select(HandoffRequest.id)
                .join(Resident, Resident.id == HandoffRequest.resident_id)
                .where(Resident.conversation_id == conversation_id)
            ).one()
    finally:
        engine.dispose()


def _rasa_user_texts(stack: LiveStack, conversation_id: str) -> list[str]:
    events = stack.rasa_tracker(conversation_id)["events"]
    return [e.get("text") or "" for e in events if e["event"] == "user"]


def test_staff_take_over_an_emergency_and_hand_it_back(
    browser: Browser, live_stack: LiveStack, tmp_path: Path
) -> None:
    username, password = create_account(live_stack, role=Role.STAFF, display_name="Trần Thị Lan")
    with (
        new_page(browser, live_stack.web_url) as staff,
        new_page(browser, live_stack.web_url) as resident,
    ):
        sign_in(staff, username, password)
        expect(staff).to_have_url(re.compile("/console$"))
        expect(staff.locator("#live-state")).to_have_text("Đang cập nhật trực tiếp")
        staff.evaluate("window.__notReloaded = true")

        resident.goto("/")
        expect(resident.locator("li.bot .bubble").first).to_contain_text("khai báo y tế")
        _resident_says(resident, EMERGENCY)
        expect(resident.locator("li.bot .bubble").filter(has_text="115").first).to_be_visible()
        cookie = next(c for c in resident.context.cookies() if c["name"] == "hotline_chat")
        conversation_id = f"web:{cookie['value']}"

        # The emergency appears on the open console without a reload, with a visible alert.
        expect(staff.locator("#emergency-alert")).to_be_visible()
        expect(staff.locator("tr.row-emergency").first).to_contain_text("Khẩn cấp")
        assert staff.evaluate("window.__notReloaded") is True
        handoff_id = _handoff_of(live_stack, conversation_id)

        staff.locator("#emergency-link").click()
        expect(staff).to_have_url(re.compile(f"/console/c/{handoff_id}$"))
        expect(staff.locator("#thread")).to_contain_text(EMERGENCY)  # the bot turns before too
        _submit(staff, "Nhận cuộc trò chuyện")
        expect(staff.locator(".status-line")).to_contain_text("Trần Thị Lan đang giữ")
        staff.get_by_label(re.compile("Trả lời người dân")).fill(STAFF_REPLY)
        _submit(staff, "Gửi")

        # The resident's web chat shows it live, marked as a person's.
        person = resident.locator("li.person")
        expect(person).to_contain_text("Nhân viên tổng đài")
        expect(person.locator(".bubble")).to_have_text(STAFF_REPLY)
        expect(staff.locator("#thread .msg-staff .delivery")).to_have_text("đã gửi")

        # The resident answers: it reaches the console live, never Rasa.
        _resident_says(resident, HELD)
        expect(staff.locator("#thread")).to_contain_text(HELD)
        assert HELD not in _rasa_user_texts(live_stack, conversation_id)

        target = (
            SCREENSHOT if os.environ.get("HOTLINE_UPDATE_SCREENSHOTS") else tmp_path / "console.png"
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        staff.set_viewport_size({"width": 1280, "height": 900})
        staff.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 10_000

        staff.get_by_label(re.compile("kết quả")).select_option("referred_115")
        _submit(staff, "Trả lại cho bot")
        expect(staff.locator(".status-line")).to_contain_text("Đã hướng dẫn gọi 115")
        expect(resident.locator("li.bot .bubble").last).to_contain_text("trợ lý tự động")

        # The bot answers the next message, from a fresh dialogue.
        _resident_says(resident, "xin chào")
        expect(resident.locator("li.bot .bubble").last).to_contain_text("khai báo y tế")
        tracker = live_stack.rasa_tracker(conversation_id)
        assert not (tracker.get("active_loop") or {}).get("name")


def test_team_member_outside_their_wards_gets_403_and_a_post_without_csrf_gets_403(
    browser: Browser, live_stack: LiveStack
) -> None:
    with new_page(browser, live_stack.web_url) as resident:
        resident.goto("/")
        expect(resident.locator("li.bot .bubble").first).to_contain_text("khai báo y tế")
        _resident_says(resident, "tôi muốn gặp nhân viên")
        expect(resident.locator("li.bot .bubble").last).to_contain_text("nhân viên")
        cookie = next(c for c in resident.context.cookies() if c["name"] == "hotline_chat")
    handoff_id = _handoff_of(live_stack, f"web:{cookie['value']}")

    engine = create_engine(live_stack.database_url)
    with Session(engine) as session, session.begin():
        make_team(session, slug="to-hoan-kiem", wards=[HOAN_KIEM])  # not this resident's ward
    engine.dispose()
    team_user, team_password = create_account(live_stack, role=Role.TEAM, teams=["to-hoan-kiem"])
    with new_page(browser, live_stack.web_url) as team:
        sign_in(team, team_user, team_password)
        response = team.goto(f"/console/c/{handoff_id}")
        assert response is not None
        assert response.status == 403
        expect(team.get_by_role("alert")).to_contain_text("không thuộc phường/xã")

    staff_user, staff_password = create_account(live_stack, role=Role.STAFF)
    with new_page(browser, live_stack.web_url) as staff:
        sign_in(staff, staff_user, staff_password)
        staff.goto(f"/console/c/{handoff_id}")
        staff.locator(
            f'form[action="/console/c/{handoff_id}/claim"] input[name="csrf_token"]'
        ).evaluate("e => e.remove()")
        with staff.expect_response(re.compile("/claim$")) as posted:
            _submit(staff, "Nhận cuộc trò chuyện")
        assert posted.value.status == 403
        expect(staff.get_by_role("alert")).to_contain_text("CSRF")
        staff.goto(f"/console/c/{handoff_id}")
        expect(staff.locator(".status-line")).to_contain_text("Đang chờ")
