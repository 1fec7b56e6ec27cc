"""The inbound job queue's dead letters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, Timestamped


class DeadJob(Timestamped, Base):
    """An inbound job that failed every try (a poison job): kept for an operator to look at
    and replay (`hotline jobs dead`, `hotline jobs replay`). The job holds the resident's
    message, so it is personal data: erased with the conversation."""

    __tablename__ = "dead_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(64))  # its id in the Redis stream
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    job: Mapped[str] = mapped_column(Text)  # the job as queued (JSON)
    error: Mapped[str] = mapped_column(String(300))  # the exception's type, never its text
    attempts: Mapped[int] = mapped_column(Integer)
    # Set by `hotline jobs replay`; the worker puts the job back on the stream and deletes it.
    replay_requested_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )
