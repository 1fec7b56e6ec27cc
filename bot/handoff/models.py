"""A resident's conversation waiting for (or taken over by) hotline staff."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db.base import Base, Timestamped
from bot.residents.models import Resident


class HandoffReason(StrEnum):
    EMERGENCY = "emergency"
    ASKED = "asked"
    MISUNDERSTOOD = "misunderstood"


class HandoffStatus(StrEnum):
    OPEN = "open"
    TAKEN = "taken"
    CLOSED = "closed"


class HandoffRequest(Timestamped, Base):
    __tablename__ = "handoff_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=HandoffStatus.OPEN)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    resident: Mapped[Resident] = relationship()
