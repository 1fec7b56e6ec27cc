"""Subscribers and admins for the advisory tests."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.residents.service import get_or_create_resident
from bot.subscriptions.service import subscribe
from tests.requests.factories import BEN_THANH

HCM = "79"


def subscribers(
    session: Session,
    count: int,
    *,
    channel: str = "telegram",
    start: int = 1,
    ward: str | None = BEN_THANH,
    province: str = HCM,
    idle_days: int = 0,
) -> list[str]:
    """Subscribes `count` residents of a channel; returns their conversation ids."""
    ids = []
    for n in range(start, start + count):
        cid = f"{channel}:{700000 + n}"
        subscribe(session=session, conversation_id=cid, province_code=province, ward_code=ward)
        resident = get_or_create_resident(session=session, conversation_id=cid)
        resident.last_seen_at = utcnow() - timedelta(days=idle_days)
        ids.append(cid)
    session.flush()
    return ids
