"""The console pages through the real app: roles, CSRF, clear messages, escaping, audit."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.console.service import record_resident_message
from bot.handoff.models import HandoffReason, HandoffRequest
from bot.handoff.service import request_handoff
from bot.requests.service import submit_aid_request
from bot.users.models import Role
from tests.requests.factories import BEN_THANH, HOAN_KIEM, aid_in, conversation_id, make_team
from tests.users.factories import csrf_of, login, make_user

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def queued(
    session: Session, reason: HandoffReason = HandoffReason.ASKED, text: str = "chào"
) -> HandoffRequest:
    cid = conversation_id()
    record_resident_message(session=session, conversation_id=cid, text=text)
    return request_handoff(session=session, conversation_id=cid, reason=reason)


def staff(
    web: TestClient, session: Session, name: str = "Nguyễn An", role: Role = Role.STAFF
) -> str:
    user = make_user(session, role=role, display_name=name)
    assert login(web, user.username).status_code == 303
    return csrf_of(web)


def post(web: TestClient, path: str, token: str, **data: str):  # type: ignore[no-untyped-def]
    return web.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def test_not_signed_in_goes_to_the_login_page(web: TestClient) -> None:
    response = web.get("/console", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/console"


def test_queue_lists_emergencies_first_with_tabs(web: TestClient, session: Session) -> None:
    asked = queued(session)
    emergency = queued(session, HandoffReason.EMERGENCY)
    staff(web, session)
    page = web.get("/console")
    assert page.status_code == 200
    assert page.template.name == "console/queue.html"
    rows = page.context["rows"]  # type: ignore[attr-defined]
    ids = [h.id for h in rows]
    assert ids.index(emergency.id) < ids.index(asked.id)
    for label in ("Chờ", "Của tôi", "Đang mở", "Đã đóng", "Khẩn cấp"):
        assert label in page.text
    fragment = web.get("/console/queue?tab=mine")
    assert fragment.status_code == 200
    assert f"/console/c/{asked.id}" not in fragment.text
    assert web.get("/console?tab=nonsense").status_code == 200  # unknown tab: the waiting one


def test_claim_reply_and_hand_back_through_the_pages(web: TestClient, session: Session) -> None:
    handoff = queued(session, text=XSS)
    token = staff(web, session, name=XSS)
    assert post(web, f"/console/c/{handoff.id}/claim", token).status_code == 303
    reply = post(web, f"/console/c/{handoff.id}/reply", token, text=f"Chào bạn {XSS}")
    assert reply.status_code == 303
    note = post(web, f"/console/c/{handoff.id}/note", token, text=f"ghi chú {XSS}")
    assert note.status_code == 303
    page = web.get(f"/console/c/{handoff.id}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert "đang gửi" in page.text  # the reply's delivery state (no worker in this app)
    done = post(web, f"/console/c/{handoff.id}/hand-back", token, outcome="resolved")
    assert done.status_code == 303
    session.expire_all()
    closed = session.get(HandoffRequest, handoff.id)
    assert closed is not None
    assert closed.status == "closed"
    assert closed.outcome == "resolved"
    again = post(web, f"/console/c/{handoff.id}/claim", token)
    assert again.status_code == 409
    assert "đã kết thúc" in again.text
    actions = set(
        session.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == handoff.id))
    )
    assert {"console.claim", "console.reply", "console.view", "console.hand_back"} <= actions


def test_a_second_staff_member_is_told_who_has_it(
    web: TestClient, session: Session, app_settings
) -> None:  # type: ignore[no-untyped-def]
    handoff = queued(session)
    token = staff(web, session, name="Nguyễn An")
    post(web, f"/console/c/{handoff.id}/claim", token)
    web.cookies.clear()
    token = staff(web, session, name="Trần Bình")
    response = post(web, f"/console/c/{handoff.id}/claim", token)
    assert response.status_code == 409
    assert "Nguyễn An đã nhận cuộc trò chuyện này trước bạn" in response.text


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "Tin nhắn trống"), ("  \n ", "Tin nhắn trống"), ("x" * 10_000, "tối đa 4.000 ký tự")],
)
def test_bad_replies_get_a_clear_message(
    web: TestClient, session: Session, text: str, message: str
) -> None:
    handoff = queued(session)
    token = staff(web, session)
    post(web, f"/console/c/{handoff.id}/claim", token)
    response = post(web, f"/console/c/{handoff.id}/reply", token, text=text)
    assert response.status_code == 409
    assert message in response.text


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("hand-back", {"outcome": "bogus"}, "chọn kết quả"),
        ("transfer", {"to_user_id": "999999"}, "chọn một đồng nghiệp"),
        ("transfer", {"to_user_id": "abc"}, "chọn một đồng nghiệp"),
        ("release", {}, "đang chờ"),
        ("aid-request", {"household_size": "x"}, "Số người trong hộ"),
        ("request-status", {"code": "NOPE", "status": "resolved"}, "Không tìm thấy yêu cầu"),
    ],
)
def test_bad_forms_get_a_clear_message_never_a_500(
    web: TestClient, session: Session, path: str, data: dict[str, str], message: str
) -> None:
    handoff = queued(session)
    token = staff(web, session)
    response = post(web, f"/console/c/{handoff.id}/{path}", token, **data)
    assert response.status_code == 409, response.text[:300]
    assert message in response.text


def test_missing_conversation_is_a_404_page(web: TestClient, session: Session) -> None:
    staff(web, session)
    response = web.get("/console/c/987654")
    assert response.status_code == 404
    assert "Không tìm thấy" in response.text


def test_post_without_csrf_is_refused(web: TestClient, session: Session) -> None:
    handoff = queued(session)
    staff(web, session)
    response = web.post(f"/console/c/{handoff.id}/claim", data={}, follow_redirects=False)
    assert response.status_code == 403
    session.expire_all()
    assert session.get(HandoffRequest, handoff.id).status == "open"  # type: ignore[union-attr]


def test_team_members_see_their_wards_only_and_cannot_act(
    web: TestClient, session: Session
) -> None:
    make_team(session, slug="ben-thanh", wards=[BEN_THANH])
    make_team(session, slug="hoan-kiem", wards=[HOAN_KIEM])
    mine = queued(session)
    submit_aid_request(
        session=session,
        conversation_id=mine.resident.conversation_id,
        data=aid_in(ward_code=BEN_THANH),
    )
    other = queued(session)
    submit_aid_request(
        session=session,
        conversation_id=other.resident.conversation_id,
        data=aid_in(ward_code=HOAN_KIEM),
    )
    user = make_user(session, role=Role.TEAM, teams=["ben-thanh"])
    login(web, user.username)
    token = csrf_of(web)
    listed = [h.id for h in web.get("/console?tab=open").context["rows"]]  # type: ignore[attr-defined]
    assert mine.id in listed
    assert other.id not in listed
    assert web.get(f"/console/c/{mine.id}").status_code == 200
    denied = web.get(f"/console/c/{other.id}")
    assert denied.status_code == 403
    assert "không thuộc phường/xã" in denied.text
    assert web.get(f"/console/c/{other.id}/thread").status_code == 403
    assert post(web, f"/console/c/{mine.id}/claim", token).status_code == 403


def test_staff_open_an_aid_request_and_change_its_status(web: TestClient, session: Session) -> None:
    make_team(session, slug="ben-thanh", wards=[BEN_THANH])
    handoff = queued(session)
    token = staff(web, session)
    response = web.post(
        f"/console/c/{handoff.id}/aid-request",
        data={
            "csrf_token": token,
            "needs": ["food", "medicine"],
            "description": "Mất việc, hết gạo",
            "household_size": "3",
            "ward_code": BEN_THANH,
            "address_detail": "12 Lê Lợi",
            "phone": "0912 345 678",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]
    page = web.get(f"/console/c/{handoff.id}")
    requests = page.context["resident"].requests  # type: ignore[attr-defined]
    assert len(requests) == 1
    assert requests[0].status == "assigned"
    moved = post(
        web,
        f"/console/c/{handoff.id}/request-status",
        token,
        code=requests[0].code,
        status="in_progress",
    )
    assert moved.status_code == 303
    page = web.get(f"/console/c/{handoff.id}")
    assert page.context["resident"].requests[0].status == "in_progress"  # type: ignore[attr-defined]
    assert "console.view_context" in set(session.scalars(select(AuditEvent.action)))


def test_the_queue_streams_live_events(web: TestClient, session: Session) -> None:
    staff(web, session)
    handoff = queued(session, HandoffReason.EMERGENCY)
    live = web.app.state.live  # type: ignore[attr-defined]
    with web.stream("GET", "/console/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == "event: ready"
        web.portal.call(
            live.publish, "console", {"type": "queued", "handoff_id": handoff.id, "emergency": True}
        )  # type: ignore[union-attr]
        received = []
        for line in lines:
            received.append(line)
            if line.startswith("data:") and "queued" in "".join(received):
                break
    data = json.loads(received[-1].removeprefix("data:").strip())
    assert data == {"type": "queued", "handoff_id": handoff.id, "emergency": True}
