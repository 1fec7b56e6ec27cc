"""A resident with something in every table of the privacy registry, and Redis keys."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.advisories.models import Advisory, AdvisoryDelivery
from bot.channels.incidents import record_incident
from bot.channels.models import IncidentKind
from bot.consents.service import record_consent
from bot.console.service import record_resident_message
from bot.conversations.messages import OutboundReply
from bot.db.base import Base, utcnow
from bot.delivery.models import DeadJob
from bot.handoff.models import HandoffReason
from bot.handoff.service import request_handoff
from bot.outbound.service import enqueue
from bot.privacy.registry import PERSONAL_TABLES
from bot.privacy.service import owned_by
from bot.requests.models import RequestStatus
from bot.requests.service import set_status, submit_aid_request, submit_health_declaration
from bot.residents.area import Area, remember_area
from bot.residents.models import Resident
from bot.rumours.service import record_question
from bot.subscriptions.service import subscribe
from tests.requests.factories import BEN_THANH, aid_in, health_in, make_team

STREAM = "hotline:jobs:privacy-test"


def fill_everything(session: Session, conversation_id: str, *, team_slug: str) -> str:
    """Gives a conversation a row in every registry table; returns the aid request's code."""
    if session.scalar(select(func.count()).select_from(Base.metadata.tables["team_wards"])) == 0:
        make_team(session, slug=team_slug, wards=[BEN_THANH])
    consent = record_consent(
        session=session, conversation_id=conversation_id, purpose="aid_request", granted=True
    )
    assert consent is not None
    saved = submit_aid_request(
        session=session,
        conversation_id=conversation_id,
        data=aid_in(phone="0987654321", address_detail="99 Đường Riêng Tư"),
        consent_id=consent.id,
    )
    set_status(
        session=session,
        ref_code=saved.request.ref_code,
        status=RequestStatus.IN_PROGRESS,
        actor="staff:1",
    )
    submit_health_declaration(
        session=session,
        conversation_id=conversation_id,
        data=health_in(full_name="Trần Thị Riêng", phone="0987654321"),
    )
    request_handoff(session=session, conversation_id=conversation_id, reason=HandoffReason.ASKED)
    record_resident_message(
        session=session, conversation_id=conversation_id, text="Tôi là Trần Thị Riêng"
    )
    record_incident(
        session=session,
        channel=conversation_id.split(":")[0],
        kind=IncidentKind.UNREACHABLE,
        conversation_id=conversation_id,
        code="blocked",
    )
    enqueue(
        session=session,
        channel=conversation_id.split(":")[0],
        address=conversation_id.split(":")[1],
        reply=OutboundReply("Họ tên: Trần Thị Riêng, SĐT 0987654321"),
        kind="staff_reply",
        conversation_id=conversation_id,
    )
    session.add(
        DeadJob(
            entry_id="1-0",
            channel=conversation_id.split(":")[0],
            kind="turn",
            conversation_id=conversation_id,
            job='{"text": "nhà tôi ở 99 Đường Riêng Tư"}',
            error="ValueError",
            attempts=3,
        )
    )
    subscribe(
        session=session, conversation_id=conversation_id, province_code="79", ward_code=BEN_THANH
    )
    advisory = Advisory(title="t", text="Tin thử", target_kind="all", target_codes=[])
    session.add(advisory)
    session.flush()
    session.add(
        AdvisoryDelivery(
            advisory_id=advisory.id,
            conversation_id=conversation_id,
            channel=conversation_id.split(":")[0],
            created_at=utcnow(),
        )
    )
    question = record_question(
        session=session, text="nghe nói uống nước dừa tươi chữa covid", channel="telegram"
    )
    if question is not None:  # asked to be told the answer: linked to the conversation
        question.conversation_id = conversation_id
    remember_area(
        session=session,
        conversation_id=conversation_id,
        area=Area(province_code="79", ward_code=BEN_THANH),
    )
    session.flush()
    return saved.request.ref_code


def rows_by_table(session: Session) -> dict[str, int]:
    """How many rows each registry table holds."""
    return {
        entry.table: session.scalar(
            select(func.count()).select_from(Base.metadata.tables[entry.table])
        )
        or 0
        for entry in PERSONAL_TABLES
    }


async def fill_redis(redis, conversation_id: str) -> None:  # type: ignore[no-untyped-def]
    summary = json.dumps([{"text": "Họ tên: Trần Thị Riêng, SĐT 0987654321", "buttons": []}])
    await redis.set(f"turn:{conversation_id}:m-1", summary, ex=3600)
    await redis.set(f"turn:{conversation_id}:m-2", summary, ex=3600)
    await redis.set(f"subscribe:{conversation_id}", '{"step": "area"}', ex=600)
    await redis.set(f"zalo:choices:{conversation_id}", '{"turn": "", "payloads": []}', ex=3600)
    # Rasa's tracker store on Redis (with REDIS_URL): the conversation's log and head.
    await redis.rpush(f"hotline:tracker-log:{conversation_id}", summary)
    await redis.hset(f"hotline:tracker-head:{conversation_id}", mapping={"events": summary})
    # What Rasa's own Redis store wrote before (kept in the registry until it expires).
    await redis.set(f"hotline:tracker:{conversation_id}", summary, ex=3600)
    job = {"kind": "turn", "channel": "zalo", "conversation_id": conversation_id}
    await redis.xadd(STREAM, {"job": json.dumps(job)})


def age_everything(session: Session, conversation_id: str, moment: datetime) -> None:
    """Moves every registry row of a conversation (and the resident's visits) back in time."""
    resident_id = session.scalar(
        select(Resident.id).where(Resident.conversation_id == conversation_id)
    )
    for entry in PERSONAL_TABLES:
        rows = Base.metadata.tables[entry.table]
        condition = owned_by(entry, resident_id=resident_id, conversation_id=conversation_id)
        values = {entry.age_column: moment}
        if "created_at" in rows.c:
            values["created_at"] = moment
        session.execute(update(rows).where(condition).values(values))
    session.flush()
    session.expire_all()
