"""The management pages through the web app: admins only, CSRF, clear messages, 404s."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.audit.service import record_audit
from bot.content.service import faq_answer
from bot.teams.models import Team, TeamWard
from bot.users.models import Role, User
from tests.requests.factories import BEN_THANH, HOAN_KIEM, make_team
from tests.users.factories import csrf_of, login, make_user

PAGES = [
    "/admin/content",
    "/admin/content?kind=rumors",
    "/admin/content/faq/ask_testing",
    "/admin/content/faq/ask_testing/history",
    "/admin/content/rumors/new",
    "/admin/teams",
    "/admin/wards/search?q=ben+thanh",
    "/admin/audit",
    "/admin/audit.csv",
]


def _signed_in(web: TestClient, user: User) -> str:
    assert login(web, user.username).status_code == 303
    return csrf_of(web)


@pytest.mark.parametrize("role", [Role.STAFF, Role.TEAM])
def test_staff_and_team_members_get_403_everywhere(
    web: TestClient, session: Session, role: Role
) -> None:
    make_team(session, slug="to-x", wards=[BEN_THANH])
    team = session.scalars(select(Team).where(Team.slug == "to-x")).one()
    user = make_user(session, role=role, teams=["to-x"] if role == Role.TEAM else None)
    token = _signed_in(web, user)
    for path in [*PAGES, f"/admin/teams/{team.id}"]:
        assert web.get(path).status_code == 403, path
    posts = [
        ("/admin/content/faq/ask_testing", {"text": "Xin chào bạn nhé"}),
        ("/admin/teams", {"slug": "to-y", "name": "Tổ Y"}),
        (f"/admin/teams/{team.id}/wards", {"ward_code": HOAN_KIEM}),
    ]
    for path, data in posts:
        assert web.post(path, data={**data, "csrf_token": token}).status_code == 403, path
    assert session.scalar(select(TeamWard.id).where(TeamWard.ward_code == HOAN_KIEM)) is None


def test_without_a_session_the_pages_ask_to_sign_in(web: TestClient) -> None:
    response = web.get("/admin/content", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_a_change_without_the_csrf_token_is_refused(
    web: TestClient, session: Session, admin: User
) -> None:
    _signed_in(web, admin)
    for path, data in (
        ("/admin/content/faq/ask_testing", {"text": "Câu trả lời mới cho bạn đây."}),
        ("/admin/teams", {"slug": "to-z", "name": "Tổ Z"}),
    ):
        assert web.post(path, data=data).status_code == 403
    assert session.scalar(select(Team.id).where(Team.slug == "to-z")) is None


def test_an_admin_previews_then_saves_an_answer(
    web: TestClient, session: Session, admin: User
) -> None:
    token = _signed_in(web, admin)
    page = web.get("/admin/content/faq/ask_testing")
    assert page.status_code == 200
    assert page.template.name == "admin/content_edit.html"  # type: ignore[attr-defined]
    form = dict(page.context["form"])  # type: ignore[attr-defined]
    text = "Bạn có thể xét nghiệm ở trạm y tế. Khẩn cấp gọi {hotlines.emergency.number}."
    data = {
        "csrf_token": token,
        "text": text,
        "buttons": form["buttons"],
        "sources": form["sources"],
        "action": "preview",
    }
    preview = web.post("/admin/content/faq/ask_testing", data=data)
    assert preview.status_code == 200
    assert preview.context["preview"].text.endswith("Khẩn cấp gọi 115.")  # type: ignore[attr-defined]
    assert faq_answer("ask_testing").text != preview.context["preview"].text  # type: ignore[attr-defined]

    saved = web.post(
        "/admin/content/faq/ask_testing",
        data=data | {"action": "save", "note": "Rút gọn"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert faq_answer("ask_testing").text.endswith("Khẩn cấp gọi 115.")
    history = web.get("/admin/content/faq/ask_testing/history")
    assert "Rút gọn" in history.text
    assert history.context["lines"][0].changes[0].field == "text"  # type: ignore[attr-defined]


def test_a_bad_answer_gets_the_reason_in_the_page(web: TestClient, admin: User) -> None:
    token = _signed_in(web, admin)
    response = web.post(
        "/admin/content/faq/ask_testing",
        data={"csrf_token": token, "text": "Gọi {hotlines.khong_co} nhé bạn.", "action": "save"},
    )
    assert response.status_code == 400
    assert "không có thông tin {hotlines.khong_co}" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/admin/content?kind=nope",
        "/admin/content/nope/x",
        "/admin/content/faq/khong_co_chu_de",
        "/admin/content/faq/khong_co_chu_de/history",
        "/admin/content/faq/new",  # FAQ topics come from intents: none is added by hand
        "/admin/teams/999999",
    ],
)
def test_forged_ids_get_404(web: TestClient, admin: User, path: str) -> None:
    _signed_in(web, admin)
    response = web.get(path)
    assert response.status_code == 404
    assert "Không" in response.text


def test_reverting_to_a_revision_of_another_entry_is_404(
    web: TestClient, session: Session, admin: User
) -> None:
    token = _signed_in(web, admin)
    web.post(
        "/admin/content/faq/ask_vaccination",
        data={
            "csrf_token": token,
            "text": "Tiêm vắc xin tại trạm y tế phường bạn nhé.",
            "action": "save",
        },
    )
    other = session.scalars(
        select(AuditEvent.entity_id).where(AuditEvent.entity == "content")
    ).one()
    response = web.post(
        "/admin/content/faq/ask_testing/revert", data={"csrf_token": token, "revision": str(other)}
    )
    assert response.status_code == 404


def test_an_admin_picks_a_ward_without_javascript(
    web: TestClient, session: Session, admin: User
) -> None:
    token = _signed_in(web, admin)
    created = web.post(
        "/admin/teams",
        data={
            "csrf_token": token,
            "slug": "hcm-ben-thanh",
            "name": "Tổ Bến Thành",
            "level": "ward",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    team_url = created.headers["location"].split("?")[0]
    page = web.get(f"{team_url}?q=phuong ben thanh")
    results = page.context["results"]  # type: ignore[attr-defined]
    assert results[0][0].code == BEN_THANH
    assert results[0][1] is None
    added = web.post(
        f"{team_url}/wards",
        data={"csrf_token": token, "ward_code": BEN_THANH},
        follow_redirects=False,
    )
    assert added.status_code == 303
    found = web.get("/admin/wards/search", params={"q": "Ben Thanh HCM"}).json()["results"]
    assert found[0]["code"] == BEN_THANH
    assert found[0]["team"]["name"] == "Tổ Bến Thành"
    again = web.post(f"{team_url}/wards", data={"csrf_token": token, "ward_code": BEN_THANH})
    assert again.status_code == 400
    assert "đã thuộc tổ này" in again.text
    teams = web.get("/admin/teams")
    row = next(r for r in teams.context["rows"] if r.team.slug == "hcm-ben-thanh")  # type: ignore[attr-defined]
    assert row.wards == 1


def test_the_audit_trail_filters_pages_and_exports(
    web: TestClient, session: Session, admin: User
) -> None:
    for number in range(60):
        record_audit(
            session=session,
            actor="system",
            action="test.event",
            entity="team",
            entity_id=number % 3,
            detail={"n": number},
        )
    record_audit(
        session=session, actor="system", action="=cmd|evil", entity="x", entity_id=None, detail={}
    )
    session.flush()
    _signed_in(web, admin)
    first = web.get("/admin/audit", params={"action": "test.event"})
    events = first.context["events"]  # type: ignore[attr-defined]
    assert len(events) == 50
    assert events[0].detail == {"n": 59}
    second = web.get(f"/admin/audit?{first.context['next_query']}")  # type: ignore[attr-defined]
    assert [e.detail["n"] for e in second.context["events"]] == list(range(9, -1, -1))  # type: ignore[attr-defined]
    by_entity = web.get("/admin/audit", params={"entity": "team", "entity_id": "1"})
    assert len(by_entity.context["events"]) == 20  # type: ignore[attr-defined]
    mine = web.get("/admin/audit", params={"actor": admin.username})
    assert all(e.actor == f"user:{admin.id}" for e in mine.context["events"])  # type: ignore[attr-defined]
    assert mine.context["events"]  # the sign-in  # type: ignore[attr-defined]

    bad = web.get("/admin/audit", params={"from": "2026-13-01"})
    assert bad.status_code == 400
    assert "Từ ngày không hợp lệ" in bad.text
    bad = web.get("/admin/audit", params={"entity_id": "abc"})
    assert bad.status_code == 400

    export = web.get("/admin/audit.csv", params={"entity": "x"})
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Mã"
    assert len(rows) == 2
    assert rows[1][4] == "'=cmd|evil"  # a spreadsheet would run it as a formula
    exported = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "audit.exported")
    ).one()
    assert exported.detail == {"format": "csv", "filters": {"entity": "x"}}


def test_an_admin_changes_a_role_and_the_last_admin_is_kept(
    web: TestClient, session: Session, admin: User
) -> None:
    make_team(session, slug="to-vai-tro", wards=[BEN_THANH])
    staff = make_user(session, role=Role.STAFF, username="lan.nguyen")
    token = _signed_in(web, admin)
    changed = web.post(
        f"/admin/users/{staff.id}",
        data={
            "csrf_token": token,
            "display_name": "Nguyễn Lan",
            "role": "team",
            "teams": "to-vai-tro",
        },
    )
    assert changed.status_code == 200
    session.refresh(staff)
    assert staff.role == "team"
    assert [t.slug for t in staff.teams] == ["to-vai-tro"]
    refused = web.post(
        f"/admin/users/{admin.id}",
        data={"csrf_token": token, "display_name": admin.display_name, "role": "staff"},
    )
    assert refused.status_code == 400
    assert "quản trị viên cuối cùng" in refused.text
    assert (
        web.post("/admin/users/999999", data={"csrf_token": token, "role": "staff"}).status_code
        == 403
    )
