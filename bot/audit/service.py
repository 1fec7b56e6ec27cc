"""Writing the audit trail, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent


def record_audit(
    *,
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Adds one audit line; `detail` must not hold personal data (ids, codes, statuses only)."""
    event = AuditEvent(
        actor=actor, action=action, entity=entity, entity_id=entity_id, detail=detail or {}
    )
    session.add(event)
    return event
