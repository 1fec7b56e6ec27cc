"""/notices: admins write for any area, team members for their wards only (403 on another
ward, 404 on another ward's notice, both audited); staff cannot; CSRF required."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.db.base import utcnow
from bot.notices.models import Notice
from bot.notices.service import VIETNAM
from bot.users.models import Role
from tests.notices.factories import make_notice
from tests.requests.factories import BEN_THANH, HOAN_KIEM, SAI_GON
from tests.users.factories import csrf_of, login, make_user
from tests.workspace.conftest import Wards


def _form(csrf: str, **extra: object) -> dict[str, object]:
    now = utcnow().astimezone(VIETNAM)
    return {
        "csrf_token": csrf,
        "kind": "distribution",
        "text": "Phát gạo cho hộ khó khăn.",
        "place": "Nhà văn hóa khu phố 2",
        "starts_at": "",
        "ends_at": "",
        "valid_from": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "valid_to": (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        "area_kind": "wards",
        **extra,
    }


def _denied(session: Session) -> int:
    return len(
        session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "access.denied", AuditEvent.entity == "notice"
            )
        ).all()
    )


def test_a_team_member_writes_for_their_ward_and_not_another(
    web: TestClient, session: Session, wards: Wards
) -> None:
    login(web, wards.member.username)
    page = web.get("/notices/new")
    assert page.status_code == 200
    choices = page.context["ward_choices"]  # type: ignore[attr-defined]
    assert {code for code, _ in choices} == {BEN_THANH, SAI_GON}
    csrf = csrf_of(web)
    saved = web.post("/notices/new", data=_form(csrf, wards=[BEN_THANH]), follow_redirects=False)
    assert saved.status_code == 303
    notice = session.scalars(select(Notice)).one()
    assert notice.ward_codes == [BEN_THANH]
    assert notice.author_id == wards.member.id
    assert "Phát gạo cho hộ khó khăn." in web.get("/notices").text

    outside = web.post("/notices/new", data=_form(csrf, wards=[HOAN_KIEM]))
    assert outside.status_code == 403
    typed = web.post("/notices/new", data=_form(csrf, ward_codes=HOAN_KIEM))
    assert typed.status_code == 403
    whole = web.post("/notices/new", data=_form(csrf, area_kind="province", province_code="79"))
    assert whole.status_code == 403
    assert session.scalars(select(Notice)).all() == [notice]
    assert _denied(session) == 3


def test_another_wards_notice_is_not_found_and_the_attempt_audited(
    web: TestClient, session: Session, wards: Wards
) -> None:
    theirs = make_notice(session, wards.outsider, wards=[HOAN_KIEM], text="Lịch tiêm Hoàn Kiếm")
    login(web, wards.member.username)
    csrf = csrf_of(web)
    assert "Lịch tiêm Hoàn Kiếm" not in web.get("/notices").text
    assert web.get(f"/notices/{theirs.id}").status_code == 404
    changed = web.post(f"/notices/{theirs.id}", data=_form(csrf, wards=[BEN_THANH]))
    assert changed.status_code == 404
    withdrawn = web.post(f"/notices/{theirs.id}/withdraw", data={"csrf_token": csrf})
    assert withdrawn.status_code == 404
    session.refresh(theirs)
    assert theirs.withdrawn_at is None
    assert theirs.ward_codes == [HOAN_KIEM]
    assert _denied(session) == 3


def test_an_admin_writes_for_a_province_edits_and_withdraws(
    web: TestClient, session: Session, wards: Wards
) -> None:
    login(web, wards.admin.username)
    csrf = csrf_of(web)
    saved = web.post(
        "/notices/new",
        data=_form(csrf, area_kind="province", province_code="79", kind="restriction"),
        follow_redirects=False,
    )
    assert saved.status_code == 303
    notice = session.scalars(select(Notice)).one()
    assert notice.province_code == "79"
    edit = web.get(f"/notices/{notice.id}")
    assert edit.status_code == 200
    assert edit.context["form"]["province_code"] == "79"  # type: ignore[attr-defined]
    changed = web.post(
        f"/notices/{notice.id}",
        data=_form(csrf, ward_codes=f"{HOAN_KIEM}, {BEN_THANH}", text="Đã đổi"),
        follow_redirects=False,
    )
    assert changed.status_code == 303
    session.refresh(notice)
    assert (notice.text, notice.province_code, notice.ward_codes) == (
        "Đã đổi",
        None,
        sorted([HOAN_KIEM, BEN_THANH]),
    )
    web.post(f"/notices/{notice.id}/withdraw", data={"csrf_token": csrf})
    session.refresh(notice)
    assert notice.withdrawn_at is not None
    assert "Đã đổi" not in web.get("/notices").text
    assert "Đã đổi" in web.get("/notices?past=1").text
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity == "notice").order_by(AuditEvent.id)
    ).all()
    assert actions == ["notice.created", "notice.updated", "notice.withdrawn"]


def test_bad_input_is_explained_and_csrf_is_required(
    web: TestClient, session: Session, wards: Wards
) -> None:
    login(web, wards.admin.username)
    csrf = csrf_of(web)
    empty = web.post("/notices/new", data=_form(csrf, text="", ward_codes=BEN_THANH))
    assert empty.status_code == 400
    assert "còn trống" in empty.text
    when = web.post("/notices/new", data=_form(csrf, valid_to="ngày mai", ward_codes=BEN_THANH))
    assert when.status_code == 400
    assert "không hợp lệ" in when.text
    forged = web.post("/notices/new", data=_form("forged", ward_codes=BEN_THANH))
    assert forged.status_code == 403
    assert session.scalars(select(Notice)).all() == []


def test_staff_cannot_open_the_pages(web: TestClient, session: Session) -> None:
    staff = make_user(session, role=Role.STAFF)
    login(web, staff.username)
    assert web.get("/notices").status_code == 403
    assert web.get("/notices/new").status_code == 403
