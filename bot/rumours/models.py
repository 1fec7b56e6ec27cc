"""Rumour questions the bot could not match (scrubbed), their groups, and admins' answers."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, Timestamped, utcnow


class Verdict(StrEnum):
    TRUE = "true"
    FALSE = "false"
    UNCLEAR = "unclear"


class RumourGroup(Timestamped, Base):
    """Similar questions together; once answered, the answer is rumour content the bot uses."""

    __tablename__ = "rumour_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The first question's scrubbed text, folded (no diacritics) with filler words dropped:
    # what later questions are compared with.
    key: Mapped[str] = mapped_column(String(500))
    example: Mapped[str] = mapped_column(String(500))  # the first question, scrubbed
    questions: Mapped[int] = mapped_column(Integer, default=0)
    last_asked_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    verdict: Mapped[str | None] = mapped_column(String(16), default=None)
    answer: Mapped[str | None] = mapped_column(Text, default=None)
    answered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    answered_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None, index=True
    )


class RumourQuestion(Timestamped, Base):
    """One question, without names, phones or addresses; `conversation_id` only when the
    resident asked to be told the answer (erased with them)."""

    __tablename__ = "rumour_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("rumour_groups.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(String(500))
    channel: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date, index=True)  # Vietnam's date
    # The button payload that opts in proves the resident is the one who asked.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    conversation_id: Mapped[str | None] = mapped_column(String(128), index=True, default=None)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
