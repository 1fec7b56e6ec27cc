"""The bot's rumour lookup: the known rumours of data/content/rumors.yml, then the rumours
admins answered in the inbox (the database)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.content.service import Answer, find_rumor
from bot.rumours.service import find_answered


def rumour_answer(*, session: Session, text: str) -> Answer | None:
    """The rebuttal of a known or answered rumour the text is about, or None."""
    known = find_rumor(text)
    if known is not None:
        return known
    answered = find_answered(session=session, text=text)
    return Answer(text=answered.text) if answered is not None else None
