"""What the hotline holds about a resident, and erasing it on request.

Every table with personal data references `residents.id` with ON DELETE CASCADE, so erasing
the resident row erases everything about them. Domains register a describer here to list
what they hold in words a resident understands.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.residents.models import Resident

# Each describer returns Vietnamese lines about one kind of data the resident has.
Describer = Callable[[Session, Resident], list[str]]
_describers: list[Describer] = []


def register_describer(describer: Describer) -> Describer:
    """Adds a function listing one domain's data about a resident (used as a decorator)."""
    _describers.append(describer)
    return describer


def describe_personal_data(*, session: Session, conversation_id: str) -> list[str]:
    """Returns what the hotline keeps about this conversation's resident, one line per kind."""
    resident = session.scalar(select(Resident).where(Resident.conversation_id == conversation_id))
    if resident is None:
        return []
    lines = [
        f"Mã kênh liên lạc của bạn ({resident.channel}), lần liên hệ đầu tiên "
        f"{resident.created_at:%d/%m/%Y}."
    ]
    for describer in _describers:
        lines.extend(describer(session, resident))
    return lines


def erase_personal_data(*, session: Session, conversation_id: str) -> bool:
    """Deletes the resident and, by cascade, everything about them; True if anything existed."""
    result = session.execute(delete(Resident).where(Resident.conversation_id == conversation_id))
    session.flush()
    return bool(result.rowcount)  # type: ignore[attr-defined]
