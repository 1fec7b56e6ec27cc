"""Recording channel incidents and marking residents not reachable."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channels.models import ChannelIncident, IncidentKind
from bot.residents.models import Resident
from bot.residents.service import get_or_create_resident
from bot.subscriptions.service import end_unreachable


def record_incident(
    *,
    session: Session,
    channel: str,
    kind: IncidentKind,
    conversation_id: str | None = None,
    code: str | None = None,
    detail: str = "",
) -> ChannelIncident:
    """Records a channel problem for the admins (never with message text)."""
    incident = ChannelIncident(
        channel=channel,
        kind=kind.value,
        conversation_id=conversation_id,
        code=code,
        detail=detail[:300],
    )
    session.add(incident)
    session.flush()
    return incident


def set_reachable(*, session: Session, conversation_id: str, reachable: bool) -> Resident:
    """Marks whether the bot can message a resident (False after unfollow or a block)."""
    resident = get_or_create_resident(session=session, conversation_id=conversation_id)
    resident.reachable = reachable
    if not reachable:  # a block or an unfollow ends their advisory subscription too
        end_unreachable(session=session, conversation_id=conversation_id)
    session.flush()
    return resident


def recent_incidents(*, session: Session, limit: int = 100) -> list[ChannelIncident]:
    """Returns the newest channel incidents first."""
    return list(
        session.scalars(select(ChannelIncident).order_by(ChannelIncident.id.desc()).limit(limit))
    )
