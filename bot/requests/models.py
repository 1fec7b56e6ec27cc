"""Health declarations and hardship requests, with the history of every status change."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

import bot.users.models  # noqa: F401  (the users table of assignee_id, in every process)
from bot.db.base import Base, Timestamped, utcnow
from bot.residents.models import Resident
from bot.teams.models import Team


class RequestStatus(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


OPEN_STATUSES = (RequestStatus.NEW, RequestStatus.ASSIGNED, RequestStatus.IN_PROGRESS)
OPEN_SQL = "status IN ('new', 'assigned', 'in_progress')"


class HealthDeclaration(Timestamped, Base):
    __tablename__ = "health_declarations"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref_code: Mapped[str] = mapped_column(String(8), unique=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id", ondelete="SET NULL"))
    full_name: Mapped[str] = mapped_column(String(120))
    birth_year: Mapped[int] = mapped_column(Integer)
    phone: Mapped[str] = mapped_column(String(16))  # E.164, "+84912345678"
    ward_code: Mapped[str] = mapped_column(String(8), index=True)
    province_code: Mapped[str] = mapped_column(String(8))
    symptoms: Mapped[list[str]] = mapped_column(JSON, default=list)
    case_contact: Mapped[bool] = mapped_column(Boolean)
    recent_travel: Mapped[str | None] = mapped_column(String(300))
    vaccine_doses: Mapped[int] = mapped_column(Integer)

    resident: Mapped[Resident] = relationship()


class AidRequest(Timestamped, Base):
    __tablename__ = "aid_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref_code: Mapped[str] = mapped_column(String(8), unique=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id", ondelete="SET NULL"))
    needs: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text)
    household_size: Mapped[int] = mapped_column(Integer)
    vulnerable: Mapped[list[str]] = mapped_column(JSON, default=list)
    days_without_food: Mapped[int | None] = mapped_column(Integer)
    ward_code: Mapped[str] = mapped_column(String(8), index=True)
    province_code: Mapped[str] = mapped_column(String(8), index=True)
    address_detail: Mapped[str] = mapped_column(String(300))
    phone: Mapped[str] = mapped_column(String(16))  # E.164, "+84912345678"
    # The level (1 = most urgent … 4) is derived from the score (bot/requests/priority.py).
    priority: Mapped[int] = mapped_column(Integer, index=True)
    priority_score: Mapped[int] = mapped_column(Integer, index=True, default=0, server_default="0")
    priority_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.NEW, index=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    routing_note: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The first need named: what the workspace filters, the overdue limit and the charts use.
    primary_need: Mapped[str] = mapped_column(String(24), default="other")
    # The team member (or staff) working on it; their first change and the closing time.
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    first_action_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # The workspace's lists (a ward's open requests by priority and age) and the dashboard's
    # aggregates (by day, area, need, status) read these instead of the table.
    __table_args__ = (
        Index(
            "ix_aid_requests_ward_status_work",
            "ward_code",
            "status",
            "priority_score",
            "created_at",
        ),
        Index("ix_aid_requests_status_work", "status", "priority_score", "created_at"),
        Index("ix_aid_requests_created_area", "created_at", "province_code", "status"),
        Index("ix_aid_requests_need_created", "primary_need", "created_at"),
        Index("ix_aid_requests_team_created", "team_id", "created_at"),
        # Open requests only: the backlog by age and the overdue count read this, not the
        # table (a small share of a million requests is open).
        Index(
            "ix_aid_requests_open_age",
            "created_at",
            "primary_need",
            postgresql_where=text(OPEN_SQL),
            sqlite_where=text(OPEN_SQL),
        ),
    )

    resident: Mapped[Resident] = relationship()
    team: Mapped[Team | None] = relationship()
    history: Mapped[list[RequestStatusChange]] = relationship(
        back_populates="request",
        cascade="all, delete-orphan",
        order_by="RequestStatusChange.id",
    )


# The work order of every list (PRIORITY_ORDER in bot/requests/service.py): an admin's first
# page of a million requests reads 50 index entries instead of sorting the table.
Index(
    "ix_aid_requests_work_order",
    AidRequest.priority_score.desc(),
    AidRequest.household_size.desc(),
    AidRequest.created_at,
    AidRequest.id,
)


class RequestStatusChange(Timestamped, Base):
    """One step of an aid request's workflow: from, to, who, why."""

    __tablename__ = "request_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("aid_requests.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(300), default="")
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    request: Mapped[AidRequest] = relationship(back_populates="history")


class AidRequestDaily(Base):
    """Daily roll-up: how many requests were received on a day (Vietnam's date of
    `created_at`) per province, first need, current status and team, and how many of them are
    emergencies (priority 1). Counts only, no personal data. Kept in the same transaction by
    bot/requests/rollups.py; rebuilt by `hotline dashboard rebuild-rollups`."""

    __tablename__ = "aid_request_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    province_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    primary_need: Mapped[str] = mapped_column(String(24), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    team_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: no team
    requests: Mapped[int] = mapped_column(Integer, default=0)
    emergencies: Mapped[int] = mapped_column(Integer, default=0)


class AidRequestDailyWard(Base):
    """Daily roll-up per ward (the busiest wards of a period): requests received that day."""

    __tablename__ = "aid_request_daily_wards"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    ward_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    province_code: Mapped[str] = mapped_column(String(8), index=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
