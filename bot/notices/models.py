"""Notices of a ward (or several) or of a whole province, valid for a period. No personal data:
the text is what a ward tells every resident."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db.base import Base, Timestamped, utcnow


class NoticeKind(StrEnum):
    RESTRICTION = "restriction"  # phong tỏa, cách ly, hạn chế đi lại (with start/end)
    DISTRIBUTION = "distribution"  # điểm phát gạo, nhu yếu phẩm (place and times)
    TESTING = "testing"  # buổi xét nghiệm
    VACCINATION = "vaccination"  # buổi tiêm chủng
    SUPPORT = "support"  # kế hoạch hỗ trợ của địa phương


NOTICE_KIND_LABELS = {
    NoticeKind.RESTRICTION: "Phong tỏa, hạn chế",
    NoticeKind.DISTRIBUTION: "Điểm phát hàng hỗ trợ",
    NoticeKind.TESTING: "Lịch xét nghiệm",
    NoticeKind.VACCINATION: "Lịch tiêm chủng",
    NoticeKind.SUPPORT: "Kế hoạch hỗ trợ",
}


class Notice(Timestamped, Base):
    """One notice. Its area is a province (`province_code`, no wards) or wards (`wards`)."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    text: Mapped[str] = mapped_column(Text)
    place: Mapped[str | None] = mapped_column(String(300), default=None)
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    valid_to: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # Set for a province-wide notice only; a ward notice names its wards in `wards`.
    province_code: Mapped[str | None] = mapped_column(String(8), index=True, default=None)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    wards: Mapped[list[NoticeWard]] = relationship(
        back_populates="notice", cascade="all, delete-orphan", order_by="NoticeWard.ward_code"
    )

    @property
    def ward_codes(self) -> list[str]:
        return [w.ward_code for w in self.wards]


class NoticeWard(Base):
    """A ward a notice applies to."""

    __tablename__ = "notice_wards"

    notice_id: Mapped[int] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), primary_key=True
    )
    ward_code: Mapped[str] = mapped_column(String(8), primary_key=True, index=True)

    notice: Mapped[Notice] = relationship(back_populates="wards")
