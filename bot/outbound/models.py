"""A message to a resident or a team, written in the transaction of its cause and delivered by
the outbound worker (team notifications, staff replies, status notices, advisories, and bot
replies that could not be delivered in their turn)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, Timestamped, utcnow


class OutboundStatus(StrEnum):
    PENDING = "pending"  # waiting for its first try
    SENT = "sent"  # the platform accepted it
    FAILED_RETRYING = "failed_retrying"  # a try failed; tried again at next_attempt_at
    DEAD = "dead"  # retries used up (or an error no retry can help): `hotline outbound replay`
    SKIPPED = "skipped"  # never to be sent; skip_reason says why


class SkipReason(StrEnum):
    OUTSIDE_WINDOW = "outside_window"  # e.g. Zalo -230: no interaction in the last 7 days
    UNREACHABLE = "unreachable"  # blocked the bot, unfollowed, bot removed from the group
    REJECTED = "rejected"  # the platform refused the message itself
    NO_CHANNEL = "no_channel"  # no address (a team without a chat) or the channel is off


# The states in which the worker still has work to do.
OPEN_STATUSES = (OutboundStatus.PENDING, OutboundStatus.FAILED_RETRYING)


class OutboundMessage(Timestamped, Base):
    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    # One message per event: enqueuing the same event twice returns the first row.
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True, default=None)
    kind: Mapped[str] = mapped_column(String(32))  # team_notification, staff_reply, …
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(64))  # chat / user id on the channel
    # The resident's conversation, for the console and for erasure (None for team messages).
    conversation_id: Mapped[str | None] = mapped_column(String(128), index=True, default=None)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), default=None
    )
    # Cascades from the request, so erasing a resident's data erases pending notices too.
    aid_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("aid_requests.id", ondelete="CASCADE"), index=True, default=None
    )
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=OutboundStatus.PENDING, index=True)
    skip_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # An error code and a short reason from the platform: never message text.
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
