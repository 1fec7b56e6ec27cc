"""A resident's conversation waiting for (or taken over by) hotline staff.

One hand-off is one stay of a conversation with people: from the moment it is queued until a
staff member hands it back to the bot. While a hand-off is open (`open`: in the queue, `taken`:
with a named staff member) the conversation is not the bot's: the pipeline keeps the resident's
messages from Rasa. A closed hand-off gives the conversation back to the bot.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db.base import Base, Timestamped
from bot.residents.models import Resident


class HandoffReason(StrEnum):
    EMERGENCY = "emergency"
    ASKED = "asked"
    MISUNDERSTOOD = "misunderstood"


class HandoffStatus(StrEnum):
    OPEN = "open"  # in the queue
    TAKEN = "taken"  # with a staff member
    CLOSED = "closed"  # handed back to the bot


class HandoffOutcome(StrEnum):
    RESOLVED = "resolved"
    REQUEST_OPENED = "request_opened"
    REFERRED_115 = "referred_115"
    NO_ANSWER = "no_answer"


class HandoffRequest(Timestamped, Base):
    __tablename__ = "handoff_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=HandoffStatus.OPEN)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The staff member who has it (status "taken"); the users table belongs to the accounts.
    owner_id: Mapped[int | None] = mapped_column(Integer, index=True)
    owner_name: Mapped[str | None] = mapped_column(String(120))  # shown to colleagues
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Figures for the dashboard: queued (created_at) → first staff reply → closed, and how.
    first_reply_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(16))
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    resident: Mapped[Resident] = relationship()


class Author(StrEnum):
    RESIDENT = "resident"
    BOT = "bot"
    STAFF = "staff"
    SYSTEM = "system"  # "Nguyễn An đã nhận cuộc trò chuyện" …
    NOTE = "note"  # a private note: staff only, never sent


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    OUTSIDE_WINDOW = "outside_window"
    UNREACHABLE = "unreachable"


class ConversationMessage(Base):
    """One line of a conversation's transcript (personal data: erased with the resident)."""

    __tablename__ = "conversation_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    handoff_id: Mapped[int | None] = mapped_column(
        ForeignKey("handoff_requests.id", ondelete="SET NULL")
    )
    author: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[int | None] = mapped_column(Integer)  # the staff member, for staff/notes
    author_name: Mapped[str | None] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    delivery: Mapped[str | None] = mapped_column(String(16))  # staff messages only
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
