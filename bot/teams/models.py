"""Support teams: one per ward (the front line), one per province, and the central hotline."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db.base import Base, Timestamped


class TeamLevel(StrEnum):
    WARD = "ward"
    PROVINCE = "province"
    CENTRAL = "central"


class Team(Timestamped, Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    province_code: Mapped[str | None] = mapped_column(String(8), index=True)
    telegram_chat_id: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    wards: Mapped[list[TeamWard]] = relationship(
        back_populates="team", cascade="all, delete-orphan"
    )


class TeamWard(Base):
    """A ward covered by a team; a ward has at most one team."""

    __tablename__ = "team_wards"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    ward_code: Mapped[str] = mapped_column(String(8), unique=True)

    team: Mapped[Team] = relationship(back_populates="wards")
