"""Finding and creating residents by conversation id."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.residents.models import Resident

CHANNELS = ("telegram", "zalo", "web")
_CONVERSATION_ID = re.compile(r"^(telegram|zalo|web):[A-Za-z0-9_\-]{1,100}$")


class InvalidConversationId(ValueError):
    """The conversation id is not `<channel>:<id>` with a known channel."""


def check_conversation_id(conversation_id: str) -> str:
    """Returns the channel of a well-formed conversation id, or raises InvalidConversationId."""
    if not _CONVERSATION_ID.match(conversation_id):
        raise InvalidConversationId(conversation_id)
    return conversation_id.split(":", 1)[0]


def get_or_create_resident(*, session: Session, conversation_id: str) -> Resident:
    """Returns the resident of a conversation, creating it on first contact."""
    channel = check_conversation_id(conversation_id)
    resident = session.scalar(select(Resident).where(Resident.conversation_id == conversation_id))
    if resident is None:
        resident = Resident(conversation_id=conversation_id, channel=channel)
        try:
            with session.begin_nested():
                session.add(resident)
        except IntegrityError:  # created by a concurrent turn of the same conversation
            resident = session.scalars(
                select(Resident).where(Resident.conversation_id == conversation_id)
            ).one()
        else:
            return resident
    resident.last_seen_at = utcnow()
    session.flush()
    return resident
