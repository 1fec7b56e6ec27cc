"""/admin/advisories: compose with preview and reach, second admin's approval, send, cancel,
progress; admins only, CSRF required."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.advisories.models import Advisory
from bot.users.models import Role
from tests.advisories.factories import subscribers
from tests.requests.factories import BEN_THANH
from tests.users.conftest import other_browser
from tests.users.factories import csrf_of, login, make_user

TEXT = "Từ 18h hôm nay tạm dừng chợ đêm Bến Thành."


def _form(csrf: str, action: str, **extra: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "action": action,
        "title": "Chợ đêm",
        "text": TEXT,
        "target_kind": "wards",
        "target_codes": BEN_THANH,
        **extra,
    }


def test_compose_preview_approve_send_and_progress(web: TestClient, session: Session) -> None:
    subscribers(session, 3)
    subscribers(session, 2, channel="zalo", start=20)
    author = make_user(session, role=Role.ADMIN)
    second = make_user(session, role=Role.ADMIN)
    web.app.state.settings.advisory_approval_threshold = 4  # type: ignore[attr-defined]
    assert login(web, author.username).status_code == 303
    csrf = csrf_of(web)
    preview = web.post(
        "/admin/advisories/new",
        data={**_form(csrf, "preview"), "buttons": ["ask_testing", "ask_hotline"]},
    )
    assert preview.status_code == 200
    assert TEXT in preview.text
    assert [b["title"] for b in preview.context["preview_buttons"]] == [  # type: ignore[attr-defined]
        "Xét nghiệm ở đâu",
        "Số điện thoại cần biết",
    ]
    assert "Xét nghiệm ở đâu</button>" in preview.text
    bad = web.post(
        "/admin/advisories/new", data={**_form(csrf, "preview"), "buttons": ["request_aid"]}
    )
    assert bad.status_code == 400
    assert "Không có chủ đề" in bad.text
    assert preview.context["reach"] == {"telegram": 3, "zalo": 2}  # type: ignore[attr-defined]
    assert session.scalars(select(Advisory)).all() == []  # a preview saves nothing
    saved = web.post("/admin/advisories/new", data=_form(csrf, "submit"), follow_redirects=False)
    assert saved.status_code == 303
    advisory = session.scalars(select(Advisory)).one()
    page = web.get(saved.headers["location"])
    assert "Chờ quản trị viên thứ hai duyệt" in page.text
    # the author cannot approve or send, whatever they post
    own = web.post(f"/admin/advisories/{advisory.id}/approve", data={"csrf_token": csrf})
    assert own.status_code == 400
    assert "không tự duyệt" in own.text
    early = web.post(f"/admin/advisories/{advisory.id}/send", data={"csrf_token": csrf})
    assert early.status_code == 400
    with other_browser(web) as other:
        assert login(other, second.username).status_code == 303
        ok = other.post(
            f"/admin/advisories/{advisory.id}/approve",
            data={"csrf_token": csrf_of(other)},
            follow_redirects=False,
        )
        assert ok.status_code == 303
    sent = web.post(
        f"/admin/advisories/{advisory.id}/send", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert sent.status_code == 303
    progress = web.get(f"/admin/advisories/{advisory.id}/progress").json()
    assert (progress["status"], progress["queued"], progress["pending"]) == ("sent", 5, 5)
    assert "Chợ đêm" in web.get("/admin/advisories").text


def test_bad_input_gets_a_clear_message_and_no_csrf_is_refused(
    web: TestClient, session: Session
) -> None:
    admin = make_user(session, role=Role.ADMIN)
    login(web, admin.username)
    csrf = csrf_of(web)
    empty = web.post("/admin/advisories/new", data=_form(csrf, "submit", text=""))
    assert empty.status_code == 400
    assert "không được để trống" in empty.text
    huge = web.post("/admin/advisories/new", data=_form(csrf, "preview", text="x" * 5000))
    assert huge.status_code == 400
    assert "tối đa 2000" in huge.text
    when = web.post("/admin/advisories/new", data=_form(csrf, "submit", send_at="hôm qua"))
    assert when.status_code == 400
    assert "Giờ gửi không hợp lệ" in when.text
    forged = web.post("/admin/advisories/new", data=_form("forged", "submit"))
    assert forged.status_code == 403
    assert web.get("/admin/advisories/999999").status_code == 403
    assert session.scalars(select(Advisory)).all() == []


def test_staff_cannot_open_the_pages(web: TestClient, session: Session) -> None:
    staff = make_user(session, role=Role.STAFF)
    login(web, staff.username)
    assert web.get("/admin/advisories").status_code == 403


def test_cancel_from_the_page_and_a_second_cancel_is_refused(
    web: TestClient, session: Session
) -> None:
    subscribers(session, 1)
    admin = make_user(session, role=Role.ADMIN)
    login(web, admin.username)
    csrf = csrf_of(web)
    web.post("/admin/advisories/new", data=_form(csrf, "submit"), follow_redirects=False)
    advisory = session.scalars(select(Advisory)).one()
    assert advisory.status == "approved"  # 1 ≤ the default threshold: one admin may send
    done = web.post(
        f"/admin/advisories/{advisory.id}/cancel",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert web.get(f"/admin/advisories/{advisory.id}/progress").json()["status"] == "cancelled"
    again = web.post(f"/admin/advisories/{advisory.id}/cancel", data={"csrf_token": csrf})
    assert again.status_code == 400
    assert "đã hủy" in again.text
    refused = web.post(f"/admin/advisories/{advisory.id}/send", data={"csrf_token": csrf})
    assert refused.status_code == 400
