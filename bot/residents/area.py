"""The area (ward and province, or a province alone) a resident's local questions are answered
for: the newest of what they told us when asked, their latest request or declaration, and their
subscription."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.service import record_audit
from bot.db.base import utcnow
from bot.places.wards import get_ward, province_name
from bot.residents.area_models import ResidentArea
from bot.residents.models import Resident
from bot.residents.service import get_or_create_resident
from bot.subscriptions.models import Subscription
from bot.subscriptions.service import latest_filings


@dataclass(frozen=True)
class Area:
    """A province, and the ward in it when known."""

    province_code: str
    ward_code: str | None = None

    @property
    def label(self) -> str:
        """ "Phường Bến Thành, Thành phố Hồ Chí Minh" or the province's name."""
        ward = get_ward(self.ward_code) if self.ward_code else None
        if ward is not None:
            return ward.label
        return province_name(self.province_code) or self.province_code


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes of what was stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def resident_area(*, session: Session, conversation_id: str) -> Area | None:
    """The newest area known for a resident, or None (then the bot asks)."""
    resident_id = session.scalar(
        select(Resident.id).where(Resident.conversation_id == conversation_id)
    )
    if resident_id is None:
        return None
    found: list[tuple[datetime, str, str | None]] = []
    remembered = session.scalar(select(ResidentArea).where(ResidentArea.resident_id == resident_id))
    if remembered is not None:
        found.append((remembered.updated_at, remembered.province_code, remembered.ward_code))
    found.extend(latest_filings(session=session, resident_id=resident_id))
    sub = session.scalar(
        select(Subscription).where(
            Subscription.resident_id == resident_id, Subscription.active.is_(True)
        )
    )
    if sub is not None:
        found.append((sub.created_at, sub.province_code, sub.ward_code))
    if not found:
        return None
    _, province, ward = max(found, key=lambda row: _aware(row[0]))
    return Area(province_code=province, ward_code=ward)


def remember_area(*, session: Session, conversation_id: str, area: Area) -> ResidentArea:
    """Keeps the area a resident told us, for their next local question (audited, codes only)."""
    resident = get_or_create_resident(session=session, conversation_id=conversation_id)
    row = session.scalar(select(ResidentArea).where(ResidentArea.resident_id == resident.id))
    if row is None:
        row = ResidentArea(resident_id=resident.id, province_code=area.province_code)
        session.add(row)
    row.province_code = area.province_code
    row.ward_code = area.ward_code
    row.updated_at = utcnow()
    session.flush()
    record_audit(
        session=session,
        actor="resident",
        action="resident_area.remembered",
        entity="resident_area",
        entity_id=row.id,
        detail={"province": area.province_code, "ward": area.ward_code},
    )
    return row
