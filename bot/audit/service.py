"""Writing the audit trail, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, select
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


# --- reading the trail (/admin/audit) ----------------------------------------------------------

PAGE_SIZE = 50
VIETNAM = timezone(timedelta(hours=7))


@dataclass(frozen=True)
class AuditFilters:
    """What the audit page filters by; every field optional. Dates are Vietnamese days."""

    actor: str | None = None  # "user:12", "system", "cli:…"
    action: str | None = None
    entity: str | None = None
    entity_id: int | None = None
    day_from: date | None = None
    day_to: date | None = None

    def query_args(self) -> dict[str, str]:
        args = {
            "actor": self.actor or "",
            "action": self.action or "",
            "entity": self.entity or "",
            "entity_id": "" if self.entity_id is None else str(self.entity_id),
            "from": self.day_from.isoformat() if self.day_from else "",
            "to": self.day_to.isoformat() if self.day_to else "",
        }
        return {k: v for k, v in args.items() if v}


def _where(filters: AuditFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.actor:
        where.append(AuditEvent.actor == filters.actor)
    if filters.action:
        where.append(AuditEvent.action == filters.action)
    if filters.entity:
        where.append(AuditEvent.entity == filters.entity)
    if filters.entity_id is not None:
        where.append(AuditEvent.entity_id == filters.entity_id)
    if filters.day_from:
        start = datetime.combine(filters.day_from, time.min, VIETNAM)
        where.append(AuditEvent.created_at >= start.astimezone(UTC))
    if filters.day_to:
        end = datetime.combine(filters.day_to + timedelta(days=1), time.min, VIETNAM)
        where.append(AuditEvent.created_at < end.astimezone(UTC))
    return where


def audit_page(
    *, session: Session, filters: AuditFilters, before: int | None = None, size: int = PAGE_SIZE
) -> tuple[list[AuditEvent], int | None]:
    """One page of the trail, newest first, and the id to continue from (None: no more).

    Keyset pagination (`id < before`): a deep page costs what the first one does.
    """
    query = select(AuditEvent).where(*_where(filters))
    if before is not None:
        query = query.where(AuditEvent.id < before)
    rows = list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(size + 1)))
    more = rows[size - 1].id if len(rows) > size else None
    return rows[:size], more


def audit_rows(
    *, session: Session, filters: AuditFilters, batch: int = 2000
) -> Iterator[AuditEvent]:
    """Every matching event, newest first, read in batches (for the CSV export)."""
    before: int | None = None
    while True:
        rows, before = audit_page(session=session, filters=filters, before=before, size=batch)
        yield from rows
        if before is None:
            return
