"""The team workspace: what a team member sees (only their wards), the order of work, overdue
limits, status changes with the notice to the resident, assignment, notes and the audit."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.outbound.models import OutboundMessage
from bot.requests.codes import format_ref
from bot.requests.models import RequestStatus
from bot.requests.notifications import team_notification_text
from bot.requests.workspace import (
    ChangeRefused,
    OutOfScope,
    RequestFilters,
    change_status,
    find_request,
    list_requests,
)
from bot.users.service import audit_actor
from tests.requests.factories import BEN_THANH, HOAN_KIEM, SAI_GON
from tests.users.factories import csrf_of, login
from tests.workspace.conftest import Wards, make_request


def audits(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_member_lists_only_their_wards_most_urgent_then_oldest(
    session: Session, wards: Wards
) -> None:
    old_normal = make_request(session, ward=BEN_THANH, hours_old=30, needs=["money"])
    urgent = make_request(session, ward=SAI_GON, hours_old=1, days_without_food=3)
    new_normal = make_request(session, ward=BEN_THANH, hours_old=2, needs=["money"])
    make_request(session, ward=HOAN_KIEM, days_without_food=3)

    page = list_requests(session=session, user=wards.member, filters=RequestFilters())
    assert [r.id for r in page.items] == [urgent.id, old_normal.id, new_normal.id]
    assert page.total == 3

    everything = list_requests(session=session, user=wards.admin, filters=RequestFilters())
    assert everything.total == 4


def test_a_tampered_ward_filter_is_refused_and_audited(session: Session, wards: Wards) -> None:
    with pytest.raises(OutOfScope):
        list_requests(session=session, user=wards.member, filters=RequestFilters(ward=HOAN_KIEM))
    denied = audits(session, "access.denied")
    assert denied
    assert denied[-1].actor == audit_actor(wards.member)
    assert denied[-1].detail["ward"] == HOAN_KIEM


def test_a_request_of_another_ward_is_not_found_and_the_attempt_audited(
    session: Session, wards: Wards
) -> None:
    other = make_request(session, ward=HOAN_KIEM)
    assert (
        find_request(session=session, user=wards.member, ref_code=other.ref_code, path="/x") is None
    )
    assert audits(session, "access.denied")[-1].detail["request_id"] == other.id
    assert find_request(session=session, user=wards.admin, ref_code=other.ref_code, path="/x")


def test_overdue_follows_the_per_need_limit_of_sla_yml(session: Session, wards: Wards) -> None:
    medical = make_request(session, ward=BEN_THANH, hours_old=7, needs=["medical_care"])
    make_request(session, ward=BEN_THANH, hours_old=7, needs=["money"])  # 72 h allowed
    money_late = make_request(session, ward=BEN_THANH, hours_old=80, needs=["money"])
    page = list_requests(session=session, user=wards.member, filters=RequestFilters(overdue=True))
    assert {r.id for r in page.items} == {medical.id, money_late.id}


def test_a_status_change_is_recorded_and_sent_to_the_resident_on_their_channel(
    session: Session, wards: Wards
) -> None:
    request = make_request(session, ward=BEN_THANH)
    change_status(
        session=session, user=wards.member, request=request, status="in_progress", note="Đã gọi"
    )
    assert request.status == RequestStatus.IN_PROGRESS
    assert request.history[-1].actor == audit_actor(wards.member)
    assert request.history[-1].reason == "Đã gọi"
    assert request.assignee_id == wards.member.id
    assert request.first_action_at is not None
    notice = session.scalars(
        select(OutboundMessage).where(
            OutboundMessage.aid_request_id == request.id, OutboundMessage.kind == "status_notice"
        )
    ).one()
    assert notice.channel == "telegram"
    assert notice.address == request.resident.conversation_id.split(":", 1)[1]
    assert notice.status == "pending"
    assert f"Yêu cầu {format_ref(request.ref_code)} của bạn đang được xử lý" in notice.text


def test_cannot_help_needs_a_reason_which_the_resident_receives(
    session: Session, wards: Wards
) -> None:
    request = make_request(session, ward=BEN_THANH)
    with pytest.raises(ChangeRefused, match="lý do"):
        change_status(
            session=session, user=wards.member, request=request, status="rejected", note=" "
        )
    change_status(
        session=session,
        user=wards.member,
        request=request,
        status="rejected",
        note="Hộ đã nhận hỗ trợ từ chương trình khác",
    )
    assert request.closed_at is not None
    notice = session.scalars(
        select(OutboundMessage).where(OutboundMessage.kind == "status_notice")
    ).one()
    assert "không thể hỗ trợ" in notice.text
    assert "Hộ đã nhận hỗ trợ từ chương trình khác" in notice.text
    with pytest.raises(ChangeRefused):  # closed: the workspace does not reopen it
        change_status(
            session=session, user=wards.member, request=request, status="resolved", note=""
        )


def test_web_chat_residents_get_no_push_the_notice_is_skipped(
    session: Session, wards: Wards
) -> None:
    request = make_request(session, ward=BEN_THANH, channel="web")
    change_status(session=session, user=wards.member, request=request, status="resolved", note="")
    notice = session.scalars(
        select(OutboundMessage).where(OutboundMessage.kind == "status_notice")
    ).one()
    assert (notice.status, notice.skip_reason) == ("skipped", "no_channel")


def test_the_team_notification_carries_no_personal_data(session: Session, wards: Wards) -> None:
    request = make_request(session, ward=BEN_THANH, description="Nhà tôi ở hẻm 5, mẹ bị ốm")
    text = team_notification_text(request)
    assert format_ref(request.ref_code) in text
    assert "ưu tiên" in text
    assert f"/team/requests/{request.ref_code}" in text
    assert "Bến Thành" in text
    for personal in (request.phone, request.address_detail, "hẻm 5"):
        assert personal not in text
    queued = session.scalars(
        select(OutboundMessage).where(OutboundMessage.kind == "team_notification")
    ).first()
    assert queued is not None
    assert request.phone not in queued.text


# --- over HTTP, signed in through the real login form ---


def test_the_list_page_shows_the_members_wards_only(
    web: TestClient, session: Session, wards: Wards
) -> None:
    mine = make_request(session, ward=SAI_GON)
    other = make_request(session, ward=HOAN_KIEM)
    assert login(web, wards.member.username).status_code == 303
    page = web.get("/team")
    assert page.status_code == 200
    assert format_ref(mine.ref_code) in page.text
    assert format_ref(other.ref_code) not in page.text
    assert "Yêu cầu hỗ trợ của địa bàn" in page.text
    assert web.get(f"/team?ward={HOAN_KIEM}").status_code == 403
    assert web.get("/team?status=bogus").status_code == 400
    assert web.get("/team?need=%00").status_code == 400
    assert web.get("/team?page=abc").status_code == 200  # the first page
    assert web.get("/team?page=99999999999").status_code == 200


def test_the_detail_page_contact_is_audited_and_other_wards_are_404(
    web: TestClient, session: Session, wards: Wards
) -> None:
    mine = make_request(session, ward=BEN_THANH)
    other = make_request(session, ward=HOAN_KIEM)
    login(web, wards.member.username)
    page = web.get(f"/team/requests/{mine.ref_code}")
    assert page.status_code == 200
    assert f'href="tel:{mine.phone}"' in page.text
    viewed = audits(session, "aid_request.contact_viewed")
    assert [e.entity_id for e in viewed] == [mine.id]
    assert web.get(f"/team/requests/{other.ref_code}").status_code == 404
    assert web.get("/team/requests/%3Cscript%3E").status_code == 404
    token = csrf_of(web)
    refused = web.post(
        f"/team/requests/{other.ref_code}/status",
        data={"status": "resolved", "note": "", "csrf_token": token},
    )
    assert refused.status_code == 404
    assert other.status == RequestStatus.ASSIGNED
    assert len(audits(session, "access.denied")) == 2


def test_a_member_changes_status_assigns_and_notes_over_http(
    web: TestClient, session: Session, wards: Wards
) -> None:
    request = make_request(session, ward=BEN_THANH)
    login(web, wards.member.username)
    token = csrf_of(web)
    base = f"/team/requests/{request.ref_code}"
    done = web.post(
        f"{base}/status",
        data={"status": "in_progress", "note": "Đang chuẩn bị gạo", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert (
        web.post(f"{base}/status", data={"status": "rejected", "csrf_token": token}).status_code
        == 400
    )
    assert (
        web.post(
            f"{base}/assign",
            data={"assignee": str(wards.colleague.id), "csrf_token": token},
            follow_redirects=False,
        ).status_code
        == 303
    )
    assert (
        web.post(
            f"{base}/assign", data={"assignee": str(wards.outsider.id), "csrf_token": token}
        ).status_code
        == 400
    )
    assert (
        web.post(
            f"{base}/notes",
            data={"text": "Hẹn 17 giờ", "csrf_token": token},
            follow_redirects=False,
        ).status_code
        == 303
    )
    assert web.post(f"{base}/notes", data={"text": "Không có token"}).status_code == 403
    session.refresh(request)
    assert request.status == RequestStatus.IN_PROGRESS
    assert request.assignee_id == wards.colleague.id
    page = web.get(base)
    assert "Hẹn 17 giờ" in page.text
    assert "Phạm Văn Nam" in page.text
    assert "Lê Thị Hoa" in page.text


def test_a_process_that_imports_only_the_request_service_can_save_requests() -> None:
    """The action server imports bot.requests.service alone: every table its rows point to
    (the assignee's users table) must be known there, or the first save fails."""
    import subprocess
    import sys

    code = (
        "from bot.requests.service import submit_aid_request\n"
        "from bot.requests.models import AidRequest\n"
        "fks = AidRequest.__table__.foreign_keys\n"
        "print(next(fk for fk in fks if fk.parent.name == 'assignee_id').column.table.name)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-1500:]
    assert "users" in result.stdout


def test_a_long_list_is_counted_up_to_a_cap_and_paged_within_it(
    session: Session, wards: Wards, web: TestClient
) -> None:
    for _ in range(5):
        make_request(session, ward=BEN_THANH)
    page = list_requests(
        session=session,
        user=wards.admin,
        filters=RequestFilters(),
        page=9,
        page_size=2,
        count_cap=3,
    )
    assert (page.total, page.more, page.pages, page.page) == (4, True, 2, 2)
    assert len(page.items) == 2  # the last page offered
    exact = list_requests(session=session, user=wards.admin, filters=RequestFilters(), count_cap=5)
    assert (exact.total, exact.more, exact.pages) == (5, False, 1)
    login(web, wards.admin.username)
    assert "5 yêu cầu khớp bộ lọc." in web.get("/team").text
