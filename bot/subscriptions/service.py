"""Subscribing and unsubscribing residents (the rules; the chat turn is in `chat.py`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.audit.service import record_audit
from bot.db.base import utcnow
from bot.requests.models import AidRequest, HealthDeclaration
from bot.residents.models import Resident
from bot.residents.service import get_or_create_resident
from bot.subscriptions.models import Subscription


def subscribe(
    *, session: Session, conversation_id: str, province_code: str, ward_code: str | None
) -> Subscription:
    """Subscribes a resident (consent already recorded) to a ward and its province, or a province."""
    resident = get_or_create_resident(session=session, conversation_id=conversation_id)
    sub = session.scalar(select(Subscription).where(Subscription.resident_id == resident.id))
    if sub is None:
        sub = Subscription(
            resident_id=resident.id,
            conversation_id=conversation_id,
            channel=conversation_id.split(":", 1)[0],
            province_code=province_code,
        )
        session.add(sub)
    sub.ward_code = ward_code
    sub.province_code = province_code
    sub.active = True
    sub.ended_at = None
    sub.end_reason = None
    session.flush()
    record_audit(
        session=session,
        actor="resident",
        action="subscription.started",
        entity="subscription",
        entity_id=sub.id,
        detail={"province": province_code, "ward": ward_code},
    )
    return sub


def unsubscribe(*, session: Session, conversation_id: str, reason: str = "resident") -> bool:
    """Ends a resident's subscription; returns whether one was active."""
    sub = session.scalar(
        select(Subscription).where(
            Subscription.conversation_id == conversation_id, Subscription.active.is_(True)
        )
    )
    if sub is None:
        return False
    sub.active = False
    sub.ended_at = utcnow()
    sub.end_reason = reason
    session.flush()
    record_audit(
        session=session,
        actor="resident" if reason == "resident" else "system",
        action="subscription.ended",
        entity="subscription",
        entity_id=sub.id,
        detail={"reason": reason},
    )
    return True


def end_unreachable(*, session: Session, conversation_id: str) -> None:
    """Ends the subscription of a resident who blocked or unfollowed the bot."""
    session.execute(
        update(Subscription)
        .where(Subscription.conversation_id == conversation_id, Subscription.active.is_(True))
        .values(active=False, ended_at=utcnow(), end_reason="unreachable")
    )


def active_subscription(*, session: Session, conversation_id: str) -> Subscription | None:
    """The resident's active subscription, or None."""
    return session.scalar(
        select(Subscription).where(
            Subscription.conversation_id == conversation_id, Subscription.active.is_(True)
        )
    )


def latest_request_area(*, session: Session, conversation_id: str) -> tuple[str, str] | None:
    """(province code, ward code) of the resident's latest request or declaration, or None."""
    resident_id = session.scalar(
        select(Resident.id).where(Resident.conversation_id == conversation_id)
    )
    if resident_id is None:
        return None
    found = latest_filings(session=session, resident_id=resident_id)
    if not found:
        return None
    _, province, ward = max(found, key=lambda r: r[0])
    return province, ward


def latest_filings(*, session: Session, resident_id: int) -> list[tuple[datetime, str, str]]:
    """(time, province code, ward code) of the resident's latest request and latest
    declaration, those that exist."""
    found: list[tuple[datetime, str, str]] = []
    for model in (AidRequest, HealthDeclaration):
        row = session.execute(
            select(model.created_at, model.province_code, model.ward_code)
            .where(model.resident_id == resident_id)
            .order_by(model.created_at.desc())
            .limit(1)
        ).first()
        if row is not None:
            found.append((row[0], row[1], row[2]))
    return found
