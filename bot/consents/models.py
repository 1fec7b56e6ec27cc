"""A resident's answer to the consent paragraph, with the exact text version shown."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, Timestamped


class Consent(Timestamped, Base):
    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(32))  # health_declaration | aid_request
    granted: Mapped[bool] = mapped_column(Boolean)
    text_version: Mapped[str] = mapped_column(String(32))  # "v1-<sha256 prefix>" of the text
