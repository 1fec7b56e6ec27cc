"""A person who signs in to the console or the dashboard, and the teams they belong to."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db.base import Base, Timestamped
from bot.teams.models import Team


class Role(StrEnum):
    ADMIN = "admin"  # everything, including accounts
    STAFF = "staff"  # hotline operator: every ward
    TEAM = "team"  # ward/commune team member: only the wards of their teams


ROLE_LABELS: dict[str, str] = {
    Role.ADMIN: "Quản trị viên",
    Role.STAFF: "Nhân viên tổng đài",
    Role.TEAM: "Tổ hỗ trợ phường/xã",
}

user_teams = Table(
    "user_teams",
    Base.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("team_id", Integer, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
)


class User(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)  # lower-case
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Bumped when the account is disabled or its password changes: every session that was
    # opened with an older value is dead, whichever process (web app, CLI) made the change.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    teams: Mapped[list[Team]] = relationship(secondary=user_teams, order_by=Team.slug)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_staff(self) -> bool:
        """Staff or admin: may work the console."""
        return self.role in (Role.ADMIN, Role.STAFF)
