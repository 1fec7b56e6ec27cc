"""Saving, routing, de-duplicating and moving requests, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.consents.models import Consent
from bot.consents.service import consent_version, record_consent
from bot.outbound.models import OutboundMessage, OutboundStatus, SkipReason
from bot.privacy.service import describe_personal_data, erase_personal_data
from bot.requests.codes import format_ref
from bot.requests.models import AidRequest, HealthDeclaration, RequestStatus
from bot.requests.service import (
    InvalidRequest,
    StatusChangeNotAllowed,
    find_own_request,
    list_aid_requests,
    list_own_requests,
    set_status,
    submit_aid_request,
    submit_health_declaration,
)
from bot.teams.models import Team, TeamLevel
from bot.teams.service import TeamImportError, import_teams, route_ward
from tests.requests.factories import (
    BEN_THANH,
    HOAN_KIEM,
    SAI_GON,
    TAN_DINH,
    TAN_PHU_DONG_THAP,
    aid_in,
    conversation_id,
    health_in,
    make_team,
)

ROOT = Path(__file__).resolve().parents[2]


def test_routing_ward_then_province_then_central(session: Session) -> None:
    ward_team = make_team(session, slug="t-ben-thanh", wards=[BEN_THANH])
    province_team = make_team(session, slug="t-hcm", level=TeamLevel.PROVINCE, province_code="79")
    assert route_ward(session=session, ward_code=BEN_THANH).team.id == ward_team.id
    assert route_ward(session=session, ward_code=TAN_DINH).team.id == province_team.id
    central = route_ward(session=session, ward_code=HOAN_KIEM)
    assert central.team.level == TeamLevel.CENTRAL
    assert "trung tâm" in central.note
    # The central team is created once and reused.
    assert route_ward(session=session, ward_code=TAN_PHU_DONG_THAP).team.id == central.team.id


def test_aid_request_saved_routed_prioritised_and_notified(session: Session) -> None:
    team = make_team(session, slug="t-ben-thanh-2", wards=[BEN_THANH])
    conv = conversation_id()
    consent = record_consent(
        session=session, conversation_id=conv, purpose="aid_request", granted=True
    )
    saved = submit_aid_request(
        session=session,
        conversation_id=conv,
        consent_id=consent.id,
        data=aid_in(vulnerable=["elderly"], days_without_food=1),
    )
    request = saved.request
    assert saved.created
    assert len(request.ref_code) == 8
    assert request.team_id == team.id
    assert request.status == RequestStatus.ASSIGNED
    # food 10 + 1 day without 15 + elderly 12
    assert (request.priority, request.priority_score) == (2, 39)
    assert "Có người cao tuổi (+12)" in request.priority_reasons
    assert [(h.from_status, h.to_status, h.actor) for h in request.history] == [
        (None, "new", "resident"),
        ("new", "assigned", "system"),
    ]
    outbox = session.scalars(
        select(OutboundMessage).where(OutboundMessage.aid_request_id == request.id)
    ).all()
    assert len(outbox) == 1
    assert outbox[0].status == OutboundStatus.PENDING
    assert outbox[0].address == team.telegram_chat_id
    assert request.phone == "+84912345678"  # stored in E.164, shown the Vietnamese way
    # The team's group gets the code, the score and a link to the workspace, never the phone
    # or the circumstances (i9: a foreign platform).
    assert format_ref(request.ref_code) in outbox[0].text
    assert "39 điểm" in outbox[0].text
    assert "0912" not in outbox[0].text
    assert "/team/requests/" in outbox[0].text
    audit = session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_id == request.id, AuditEvent.entity == "aid_request"
        )
    ).all()
    assert audit
    assert "912345678" not in str(audit[0].detail)


def test_team_without_chat_keeps_the_notice_for_the_console(session: Session) -> None:
    make_team(session, slug="t-no-chat", wards=[SAI_GON], chat=None)
    saved = submit_aid_request(
        session=session, conversation_id=conversation_id(), data=aid_in(ward_code=SAI_GON)
    )
    message = session.scalar(
        select(OutboundMessage).where(OutboundMessage.aid_request_id == saved.request.id)
    )
    assert message is not None
    assert (message.status, message.skip_reason) == (
        OutboundStatus.SKIPPED,
        SkipReason.NO_CHANNEL,
    )


def test_same_need_while_open_updates_instead_of_duplicating(session: Session) -> None:
    conv = conversation_id()
    first = submit_aid_request(session=session, conversation_id=conv, data=aid_in())
    again = submit_aid_request(
        session=session,
        conversation_id=conv,
        data=aid_in(needs=["food", "water"], description="Thêm: hết nước uống", household_size=5),
    )
    assert not again.created
    assert again.request.id == first.request.id
    assert again.request.needs == ["food", "water"]
    assert again.request.household_size == 5
    assert "hết nước uống" in again.request.description
    count = session.scalar(
        select(func.count())
        .select_from(AidRequest)
        .where(AidRequest.resident_id == first.request.resident_id)
    )
    assert count == 1
    notices = session.scalars(
        select(OutboundMessage.dedupe_key).where(OutboundMessage.aid_request_id == first.request.id)
    ).all()
    assert len(notices) == 2  # created + updated
    # Another need is another request; a closed one is not updated.
    other = submit_aid_request(
        session=session, conversation_id=conv, data=aid_in(needs=["go_home"])
    )
    assert other.created
    set_status(
        session=session,
        ref_code=first.request.ref_code,
        status=RequestStatus.RESOLVED,
        actor="cli",
        reason="Đã trao 20 kg gạo",
    )
    after_close = submit_aid_request(session=session, conversation_id=conv, data=aid_in())
    assert after_close.created


def test_status_workflow_records_who_when_why(session: Session) -> None:
    saved = submit_aid_request(session=session, conversation_id=conversation_id(), data=aid_in())
    ref = saved.request.ref_code
    set_status(
        session=session,
        ref_code=ref,
        status=RequestStatus.IN_PROGRESS,
        actor="cli:lan",
        reason="Đang chuẩn bị hàng",
    )
    request = set_status(
        session=session,
        ref_code=ref,
        status=RequestStatus.RESOLVED,
        actor="cli:lan",
        reason="Đã giao",
    )
    last = request.history[-1]
    assert (last.from_status, last.to_status, last.actor, last.reason) == (
        "in_progress",
        "resolved",
        "cli:lan",
        "Đã giao",
    )
    assert last.created_at is not None
    with pytest.raises(StatusChangeNotAllowed):
        set_status(session=session, ref_code=ref, status=RequestStatus.DUPLICATE, actor="cli")
    with pytest.raises(LookupError):
        set_status(session=session, ref_code="ZZZZZZZZ", status=RequestStatus.RESOLVED, actor="cli")


def test_invalid_requests_are_refused(session: Session) -> None:
    with pytest.raises(InvalidRequest):
        submit_aid_request(
            session=session, conversation_id=conversation_id(), data=aid_in(ward_code="99999")
        )
    with pytest.raises(InvalidRequest):
        submit_aid_request(
            session=session, conversation_id=conversation_id(), data=aid_in(household_size=51)
        )
    with pytest.raises(InvalidRequest):
        submit_aid_request(
            session=session, conversation_id=conversation_id(), data=aid_in(needs=["caviar"])
        )


def test_residents_see_only_their_own_requests(session: Session) -> None:
    alice, bob = conversation_id(), conversation_id()
    aid = submit_aid_request(session=session, conversation_id=alice, data=aid_in()).request
    declaration = submit_health_declaration(
        session=session, conversation_id=alice, data=health_in()
    )
    assert find_own_request(session=session, conversation_id=alice, ref_code=aid.ref_code)
    view = find_own_request(session=session, conversation_id=alice, ref_code=declaration.ref_code)
    assert view is not None
    assert view.kind == "health_declaration"
    assert find_own_request(session=session, conversation_id=bob, ref_code=aid.ref_code) is None
    assert (
        find_own_request(session=session, conversation_id=bob, ref_code=declaration.ref_code)
        is None
    )
    assert len(list_own_requests(session=session, conversation_id=alice)) == 2
    assert list_own_requests(session=session, conversation_id=bob) == []


def test_requests_listed_most_urgent_first(session: Session) -> None:
    make_team(session, slug="t-list", wards=[HOAN_KIEM])
    calm = submit_aid_request(
        session=session,
        conversation_id=conversation_id(),
        data=aid_in(ward_code=HOAN_KIEM, needs=["money"]),
    ).request
    urgent = submit_aid_request(
        session=session,
        conversation_id=conversation_id(),
        data=aid_in(ward_code=HOAN_KIEM, vulnerable=["infected"], needs=["medicine"]),
    ).request
    listed = list_aid_requests(session=session, ward_code=HOAN_KIEM)
    assert [r.id for r in listed][:2] == [urgent.id, calm.id]
    assert list_aid_requests(session=session, ward_code=HOAN_KIEM, status="resolved") == []
    assert {r.id for r in list_aid_requests(session=session, team_slug="t-list")} == {
        urgent.id,
        calm.id,
    }


def test_consent_records_the_text_version(session: Session) -> None:
    conv = conversation_id()
    given = record_consent(
        session=session, conversation_id=conv, purpose="health_declaration", granted=True
    )
    assert given is not None
    assert given.granted is True
    assert given.text_version == consent_version("health_declaration")
    assert given.text_version.startswith("v1-")
    assert consent_version("health_declaration") != consent_version("aid_request")


def test_erasing_a_resident_erases_requests_consents_and_notices(session: Session) -> None:
    conv = conversation_id()
    record_consent(session=session, conversation_id=conv, purpose="aid_request", granted=True)
    aid = submit_aid_request(session=session, conversation_id=conv, data=aid_in()).request
    submit_health_declaration(session=session, conversation_id=conv, data=health_in())
    lines = describe_personal_data(session=session, conversation_id=conv)
    assert any("đề nghị hỗ trợ" in line for line in lines)
    assert any("tờ khai y tế" in line for line in lines)
    aid_id = aid.id
    assert erase_personal_data(session=session, conversation_id=conv, actor="resident").anything
    session.expunge_all()
    assert session.get(AidRequest, aid_id) is None
    assert (
        session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(OutboundMessage.aid_request_id == aid_id)
        )
        == 0
    )
    assert (
        session.scalar(
            select(func.count())
            .select_from(HealthDeclaration)
            .where(
                HealthDeclaration.phone == "0912345678",
                HealthDeclaration.full_name == "Nguyễn Văn An",
                HealthDeclaration.resident_id.is_(None),
            )
        )
        == 0
    )
    assert session.scalar(select(func.count()).select_from(Consent)) is not None


def test_import_demo_teams(session: Session) -> None:
    count = import_teams(session=session, path=ROOT / "data" / "teams" / "demo_teams.yml")
    assert count == 6
    assert route_ward(session=session, ward_code=BEN_THANH).team.slug == "hcm-ben-thanh"
    assert route_ward(session=session, ward_code=TAN_DINH).team.slug == "hcm-province"
    assert route_ward(session=session, ward_code=TAN_PHU_DONG_THAP).team.slug == "central"
    # Importing again updates, it does not duplicate.
    assert import_teams(session=session, path=ROOT / "data" / "teams" / "demo_teams.yml") == 6
    assert (
        session.scalar(select(func.count()).select_from(Team).where(Team.slug == "hcm-ben-thanh"))
        == 1
    )


def test_import_csv_and_errors(session: Session, tmp_path: Path) -> None:
    good = tmp_path / "teams.csv"
    good.write_text(
        "slug,name,level,telegram_chat_id,ward_codes\ndt-tan-phu,Tổ xã Tân Phú,ward,-1009,28468\n",
        encoding="utf-8",
    )
    assert import_teams(session=session, path=good) == 1
    assert route_ward(session=session, ward_code=TAN_PHU_DONG_THAP).team.slug == "dt-tan-phu"
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "teams:\n  - slug: x\n    name: X\n    ward_codes: ['99999']\n", encoding="utf-8"
    )
    with pytest.raises(TeamImportError):
        import_teams(session=session, path=bad)


def test_consent_answers_are_listed_for_the_resident(session: Session) -> None:
    conv = conversation_id()
    record_consent(session=session, conversation_id=conv, purpose="aid_request", granted=True)
    record_consent(
        session=session, conversation_id=conv, purpose="health_declaration", granted=False
    )
    lines = describe_personal_data(session=session, conversation_id=conv)
    # A refusal keeps nothing: only the agreement is listed.
    assert any("1 lần bạn đồng ý" in line for line in lines)
