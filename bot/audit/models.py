"""One line of the audit trail. Holds ids and codes, never a resident's personal data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, Timestamped


class AuditEvent(Timestamped, Base):
    __tablename__ = "audit_events"
    # The audit page lists newest first (by id) under any one filter (migration i9-manage).
    __table_args__ = (
        Index("ix_audit_events_actor_id", "actor", "id"),
        Index("ix_audit_events_entity_id", "entity", "entity_id", "id"),
        Index("ix_audit_events_created_at", "created_at"),
        Index("ix_audit_events_action_id", "action", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(
        String(64)
    )  # "resident", "system", "cli:<user>", "staff:<id>"
    action: Mapped[str] = mapped_column(String(48), index=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
