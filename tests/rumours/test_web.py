"""/admin/rumours: admins only, CSRF required, the answer form validated."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from bot.rumours.service import opt_in, record_question
from bot.users.models import Role
from tests.users.conftest import other_browser
from tests.users.factories import csrf_of, login, make_user


def _group(session: Session) -> int:
    question = record_question(
        session=session, text="nghe nói uống nước dừa tươi chữa covid", channel="telegram"
    )
    assert question is not None
    opt_in(session=session, token=question.token, conversation_id="telegram:5")
    return question.group_id


def test_the_inbox_and_an_answer(web: TestClient, session: Session) -> None:
    group_id = _group(session)
    admin = make_user(session, role=Role.ADMIN)
    login(web, admin.username)
    page = web.get("/admin/rumours")
    assert page.status_code == 200
    assert "uống nước dừa tươi" in page.text
    assert [v.group.id for v in page.context["groups"]] == [group_id]  # type: ignore[attr-defined]
    csrf = csrf_of(web)
    bad = web.post(
        f"/admin/rumours/{group_id}/answer", data={"csrf_token": csrf, "verdict": "false"}
    )
    assert bad.status_code == 400
    assert "ít nhất" in bad.text
    done = web.post(
        f"/admin/rumours/{group_id}/answer",
        data={
            "csrf_token": csrf,
            "verdict": "false",
            "answer": "Nước dừa không chữa được COVID-19, theo Bộ Y tế.",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = web.get(done.headers["location"])
    assert "1 người hỏi sẽ được báo" in shown.text
    assert web.get("/admin/rumours").context["groups"] == []  # type: ignore[attr-defined]
    assert web.get("/admin/rumours/999999").status_code == 403


def test_non_admins_and_forged_forms_are_refused(web: TestClient, session: Session) -> None:
    group_id = _group(session)
    staff = make_user(session, role=Role.STAFF)
    login(web, staff.username)
    assert web.get("/admin/rumours").status_code == 403
    assert web.get(f"/admin/rumours/{group_id}").status_code == 403
    refused = web.post(
        f"/admin/rumours/{group_id}/answer",
        data={"csrf_token": csrf_of(web), "verdict": "false", "answer": "x" * 30},
    )
    assert refused.status_code == 403
    admin = make_user(session, role=Role.ADMIN)
    with other_browser(web) as other:
        login(other, admin.username)
        forged = other.post(
            f"/admin/rumours/{group_id}/answer",
            data={"csrf_token": "forged", "verdict": "false", "answer": "x" * 30},
        )
        assert forged.status_code == 403
