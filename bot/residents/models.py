"""A resident is one channel identity: `telegram:<chat_id>`, `zalo:<user_id>` or `web:<id>`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, Timestamped, utcnow


class Resident(Timestamped, Base):
    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
