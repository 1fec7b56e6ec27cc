"""The area a resident told the bot when asking about aid or local notices (personal data)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, Timestamped, utcnow


class ResidentArea(Timestamped, Base):
    __tablename__ = "resident_areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), unique=True
    )
    province_code: Mapped[str] = mapped_column(String(8))
    ward_code: Mapped[str | None] = mapped_column(String(8), default=None)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
