"""What admins must see about the channels (incidents), and a channel's stored credentials."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, Timestamped, utcnow


class IncidentKind(StrEnum):
    OUTSIDE_WINDOW = "outside_window"  # e.g. Zalo -230: no interaction in the last 7 days
    UNREACHABLE = "unreachable"  # blocked the bot, unfollowed
    UNDELIVERABLE = "undeliverable"  # retries used up
    REJECTED = "rejected"  # the platform refused the message itself
    TOKEN_REFRESH_FAILED = "token_refresh_failed"
    AUTH_FAILED = "auth_failed"  # the platform refused our credentials: channel paused
    JOB_FAILED = "job_failed"  # an inbound job failed every try: in the dead letters


class ChannelIncident(Timestamped, Base):
    """One problem on a channel. No message text is stored (it may hold personal data)."""

    __tablename__ = "channel_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(128), default=None)
    code: Mapped[str | None] = mapped_column(String(32), default=None)
    detail: Mapped[str] = mapped_column(String(300), default="")


class ChannelToken(Base):
    """A channel's current OAuth pair (Zalo OA). Refresh tokens are single-use, so a refresh
    takes a lease on this row first (one refresh at a time across processes) and stores the
    new pair before anyone uses it."""

    __tablename__ = "channel_tokens"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    access_token: Mapped[str] = mapped_column(String(2000))
    refresh_token: Mapped[str] = mapped_column(String(2000))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
