"""A message waiting to be delivered, written in the same transaction as its cause."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, Timestamped, utcnow


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    NO_CHANNEL = "no_channel"  # the team has no chat (or no bot token): shown in the console
    FAILED = "failed"  # gave up after the maximum attempts


class OutboxMessage(Timestamped, Base):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    # One notification per event: re-saving the same change cannot queue it twice.
    dedupe_key: Mapped[str] = mapped_column(String(96), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    # Cascades from the request, so erasing a resident's data erases pending notices too.
    aid_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("aid_requests.id", ondelete="CASCADE"), index=True
    )
    chat_id: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
