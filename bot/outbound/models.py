"""A message to a resident or a team, written in the transaction of its cause and delivered by
the outbound worker (team notifications, staff replies, status notices, advisories, and bot
replies that could not be delivered in their turn)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy import text as sql_text
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

# Bulk messages (bot/advisories fan-outs): claimed apart from everything else and after it,
# so a fan-out of 100,000 never delays a resident's reply or a team notification.
ADVISORY_KIND = "advisory"

# The two claims' index predicates. The claims write these values into their SQL as
# literals (not parameters) so the planner can match the partial indexes on every plan.
OPEN_SQL = "status IN ('pending', 'failed_retrying')"
ADVISORY_DUE_SQL = f"{OPEN_SQL} AND kind = '{ADVISORY_KIND}'"
DIRECT_DUE_SQL = f"{OPEN_SQL} AND kind <> '{ADVISORY_KIND}'"
DEAD_SQL = "status = 'dead'"


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
        ForeignKey("aid_requests.id", ondelete="CASCADE"), default=None
    )
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=OutboundStatus.PENDING)
    skip_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # An error code and a short reason from the platform: never message text.
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        # The advisory claim: WHERE <ADVISORY_DUE_SQL> AND channel = ? AND next_attempt_at <= ?
        # ORDER BY next_attempt_at, id: a range walk that stops after the round's rows,
        # however many copies are waiting (no sort of every due row).
        Index(
            "ix_outbound_messages_advisory_due",
            "channel",
            "next_attempt_at",
            "id",
            postgresql_where=sql_text(ADVISORY_DUE_SQL),
            sqlite_where=sql_text(ADVISORY_DUE_SQL),
        ),
        # The direct claim (replies, notifications): the few open rows that are not
        # advisories, found without touching the advisories, then sorted by priority.
        Index(
            "ix_outbound_messages_direct_due",
            "next_attempt_at",
            postgresql_where=sql_text(DIRECT_DUE_SQL),
            sqlite_where=sql_text(DIRECT_DUE_SQL),
        ),
        # The dead letters, newest first (`hotline outbound list --status dead`, replay).
        # No index on every row's status: a fan-out writes 100,000 rows and changes each
        # one's status once more; the claims have their own indexes above.
        Index(
            "ix_outbound_messages_dead",
            "id",
            postgresql_where=sql_text(DEAD_SQL),
            sqlite_where=sql_text(DEAD_SQL),
        ),
        # The request's notices (erasure cascades from the request); advisories and replies
        # have none, so they are not in it.
        Index(
            "ix_outbound_messages_aid_request_id",
            "aid_request_id",
            postgresql_where=sql_text("aid_request_id IS NOT NULL"),
            sqlite_where=sql_text("aid_request_id IS NOT NULL"),
        ),
    )
