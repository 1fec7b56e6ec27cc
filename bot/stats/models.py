"""Counts of resident messages per day, intent and channel; no text, no conversation id."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base


class IntentDailyCount(Base):
    """One row per (day in Vietnam, intent, channel), added to by Rasa's event broker
    (`hotline_nlu.stats_broker`, which writes with plain SQL: keep the two in step)."""

    __tablename__ = "intent_daily_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    intent: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    not_understood: Mapped[int] = mapped_column(Integer, default=0)
