"""What the hotline holds about a resident, erasing it on request, and the retention purge.

All three read the one registry (`bot/privacy/registry.py`) of tables, Redis keys and Rasa's
tracker. Database functions flush; their callers commit.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import redis.asyncio as aioredis
from sqlalchemy import ColumnElement, Table, delete, false, func, or_, select
from sqlalchemy.orm import Session

from bot.audit.service import record_audit
from bot.db.base import Base, utcnow
from bot.privacy.registry import (
    PERSONAL_KEYS,
    PERSONAL_TABLES,
    RASA_TRACKER_DESCRIBE,
    PersonalTable,
    table,
)
from bot.requests.codes import format_ref
from bot.requests.rollups import uncount
from bot.residents.models import Resident

logger = logging.getLogger(__name__)

_CHANNEL_IDS = {
    "telegram": "tài khoản Telegram",
    "zalo": "tài khoản Zalo",
    "web": "phiên trò chuyện trên web",
}
# Consents stay while a kept declaration or request refers to them: they are its proof.
_CONSENT_USERS = (("aid_requests", "consent_id"), ("health_declarations", "consent_id"))


class TrackerStore(Protocol):
    """Rasa's tracker store, through Rasa's HTTP API (the Rasa client)."""

    async def erase_tracker(self, conversation_id: str) -> bool: ...

    async def tracker_events(self, conversation_id: str) -> list[dict[str, Any]] | None: ...

    async def replace_tracker_events(
        self, conversation_id: str, events: list[dict[str, Any]]
    ) -> bool: ...


def _table(name: str) -> Table:
    import bot.db.models  # noqa: F401  (every model on Base.metadata)

    return Base.metadata.tables[name]


def owned_by(entry: PersonalTable, *, resident_id: int | None, conversation_id: str) -> Any:
    """The condition selecting the rows of one conversation in a registry table."""
    rows = _table(entry.table)
    conditions = []
    for owner in entry.owner.split("|"):
        if owner == "resident_id":
            if resident_id is not None:
                conditions.append(rows.c.resident_id == resident_id)
        elif owner == "conversation_id":
            conditions.append(rows.c.conversation_id == conversation_id)
        else:
            column, parent_name = owner.split("->")
            parent = _table(parent_name)
            condition = owned_by(
                table(parent_name), resident_id=resident_id, conversation_id=conversation_id
            )
            conditions.append(rows.c[column].in_(select(parent.c.id).where(condition)))
    return or_(*conditions) if conditions else false()


def _resident(session: Session, conversation_id: str) -> Resident | None:
    return session.scalar(select(Resident).where(Resident.conversation_id == conversation_id))


def describe_personal_data(
    *, session: Session, conversation_id: str, messages: int = 0
) -> list[str]:
    """Returns what the hotline keeps about a conversation, one line per kind (audited).

    `messages` is how many of the resident's messages Rasa's tracker holds (the action reads
    it from the tracker it was given).
    """
    resident = _resident(session, conversation_id)
    resident_id = resident.id if resident else None
    lines = []
    if resident is not None:
        lines.append(
            f"Mã {_CHANNEL_IDS.get(resident.channel, 'tài khoản')} của bạn, lần liên hệ đầu tiên "
            f"{resident.created_at:%d/%m/%Y}, gần nhất {resident.last_seen_at:%d/%m/%Y}."
        )
    for entry in PERSONAL_TABLES:
        if entry.describe is None:
            continue
        rows = _table(entry.table)
        condition = owned_by(entry, resident_id=resident_id, conversation_id=conversation_id)
        if entry.ref_column:
            refs = session.scalars(
                select(rows.c[entry.ref_column]).where(condition).order_by(rows.c.id)
            ).all()
            count = len(refs)
        else:
            refs = []
            count = session.scalar(select(func.count()).select_from(rows).where(condition)) or 0
        if count:
            lines.append(
                entry.describe.format(count=count, refs=", ".join(format_ref(r) for r in refs))
            )
    if messages:
        lines.append(RASA_TRACKER_DESCRIBE.format(count=messages))
        channel = conversation_id.split(":", 1)[0]
        lines += [
            keys.describe
            for keys in PERSONAL_KEYS
            if "{conversation_id}" in keys.pattern
            and keys.describe
            and (keys.channel is None or keys.channel == channel)
        ]
    record_audit(
        session=session,
        actor="resident",
        action="privacy.viewed",
        entity="resident",
        entity_id=resident_id,
        detail={"kinds": len(lines)},
    )
    session.flush()
    return lines


def _uncount(session: Session, entry: PersonalTable, condition: Any) -> None:
    """Aid requests about to be deleted leave the dashboard's daily roll-ups too, so its counts
    keep matching the lists behind them."""
    if entry.table == "aid_requests":
        uncount(session=session, where=condition)


def erase_records(*, session: Session, conversation_id: str) -> dict[str, int]:
    """Deletes every row of a conversation in the registry's tables; returns counts by table."""
    resident = _resident(session, conversation_id)
    resident_id = resident.id if resident else None
    counts: dict[str, int] = {}
    for entry in PERSONAL_TABLES:
        condition = owned_by(entry, resident_id=resident_id, conversation_id=conversation_id)
        _uncount(session, entry, condition)
        result = session.execute(delete(_table(entry.table)).where(condition))
        if result.rowcount:  # type: ignore[attr-defined]
            counts[entry.table] = result.rowcount  # type: ignore[attr-defined]
    session.flush()
    session.expunge_all()  # the deleted rows must not be flushed back from the identity map
    return counts


async def erase_keys(*, redis: aioredis.Redis[str], conversation_id: str, jobs_stream: str) -> int:
    """Deletes a conversation's Redis keys and its queued jobs; returns how many."""
    erased = 0
    for keys in PERSONAL_KEYS:
        if keys.stream:
            erased += await _erase_stream_entries(redis, jobs_stream, conversation_id)
        elif "{conversation_id}" in keys.pattern:
            pattern = keys.pattern.format(conversation_id=conversation_id)
            found = [key async for key in redis.scan_iter(match=pattern, count=500)]
            if found:
                erased += int(await redis.delete(*found))
    return erased


async def _erase_stream_entries(
    redis: aioredis.Redis[str], stream: str, conversation_id: str
) -> int:
    # The stream holds only jobs not yet acknowledged (acknowledged ones are deleted), so it
    # is short; a deleted pending entry is acknowledged by the worker that meets it.
    erased, start = 0, "-"
    while True:
        entries = await redis.xrange(stream, min=start, max="+", count=500)
        doomed = []
        for entry_id, fields in entries:
            try:
                job = json.loads(fields.get("job") or "{}")
            except ValueError:
                continue
            if isinstance(job, dict) and job.get("conversation_id") == conversation_id:
                doomed.append(entry_id)
        if doomed:
            erased += int(await redis.xdel(stream, *doomed))
        if len(entries) < 500:
            return erased
        start = f"({entries[-1][0]}"


@dataclass
class Erasure:
    """What one erasure removed: counts only, so it can go to the audit trail."""

    rows: dict[str, int] = field(default_factory=dict)
    keys: int = 0
    tracker: bool | None = None  # erased, failed (Rasa unreachable), or not tried

    @property
    def anything(self) -> bool:
        return bool(self.rows) or self.keys > 0

    def audit_detail(self) -> dict[str, Any]:
        return {"rows": self.rows, "keys": self.keys, "tracker": self.tracker}


async def erase_outside_database(
    *,
    redis: aioredis.Redis[str],
    tracker_store: TrackerStore | None,
    conversation_id: str,
    jobs_stream: str,
) -> Erasure:
    """Erases a conversation's Redis keys and Rasa tracker (the database part is separate)."""
    erasure = Erasure(
        keys=await erase_keys(redis=redis, conversation_id=conversation_id, jobs_stream=jobs_stream)
    )
    if tracker_store is not None:
        erasure.tracker = await tracker_store.erase_tracker(conversation_id)
    return erasure


def erase_personal_data(
    *, session: Session, conversation_id: str, actor: str, erasure: Erasure | None = None
) -> Erasure:
    """Deletes a conversation's rows and audits the whole erasure (counts, no personal data)."""
    erasure = erasure or Erasure()
    resident = _resident(session, conversation_id)
    resident_id = resident.id if resident else None
    erasure.rows = erase_records(session=session, conversation_id=conversation_id)
    record_audit(
        session=session,
        actor=actor,
        action="privacy.erased",
        entity="resident",
        entity_id=resident_id,
        detail=erasure.audit_detail(),
    )
    session.flush()
    return erasure


def erasure_reply(erasure: Erasure) -> str:
    """What the resident is told after "xóa thông tin của tôi": exactly what happened."""
    if erasure.tracker is False:
        return (
            "Tôi đã xóa thông tin cá nhân của bạn tại tổng đài, nhưng chưa xóa được nội dung "
            'cuộc trò chuyện. Bạn vui lòng nhắn lại "xóa thông tin của tôi" sau ít phút nhé.'
        )
    return (
        "Tôi đã xóa toàn bộ thông tin cá nhân của bạn tại tổng đài, kể cả nội dung cuộc trò "
        "chuyện. Chỉ còn một dòng nhật ký ghi việc xóa này, không kèm thông tin của bạn."
    )


def erasure_failed_reply() -> str:
    """What the resident is told when the erasure could not be done."""
    return (
        "Xin lỗi, hệ thống đang gặp sự cố nên chưa xóa được thông tin của bạn. Bạn vui lòng "
        'nhắn lại "xóa thông tin của tôi" sau ít phút nhé.'
    )


# --- retention ------------------------------------------------------------------------------


def retention_cutoff(*, months: int, now: datetime | None = None) -> datetime:
    """The moment `months` calendar months before now: older personal data is purged."""
    now = now or utcnow()
    month_index = now.year * 12 + now.month - 1 - months
    year, month = divmod(month_index, 12)
    for day in range(now.day, 0, -1):
        try:
            return now.replace(year=year, month=month + 1, day=day)
        except ValueError:  # e.g. 31 March minus one month
            continue
    raise AssertionError("unreachable")


def _expired(entry: PersonalTable, cutoff: datetime) -> ColumnElement[bool]:
    rows = _table(entry.table)
    condition: ColumnElement[bool] = rows.c[entry.age_column] < cutoff
    for owner in entry.owner.split("|"):  # also the rows of an expired parent
        if "->" in owner:
            column, parent_name = owner.split("->")
            parent = _table(parent_name)
            expired_parents = select(parent.c.id).where(_expired(table(parent_name), cutoff))
            condition = or_(condition, rows.c[column].in_(expired_parents))
    if entry.table == "residents":  # a resident goes only with the last of their rows
        for other in PERSONAL_TABLES:
            if other.owner == "resident_id":
                owned = _table(other.table)
                recent = select(owned.c.resident_id).where(owned.c[other.age_column] >= cutoff)
                condition = condition & rows.c.id.not_in(recent)
    if entry.table == "consents":
        for user_table, column in _CONSENT_USERS:
            users = _table(user_table)
            kept = select(users.c[column]).where(
                users.c[table(user_table).age_column] >= cutoff, users.c[column].is_not(None)
            )
            condition = condition & rows.c.id.not_in(kept)
    return condition


@dataclass
class Purge:
    """What one retention purge removed (or would remove): counts, and the conversations whose
    resident row went, so their tracker and Redis keys go too."""

    cutoff: datetime
    rows: dict[str, int] = field(default_factory=dict)
    conversation_ids: list[str] = field(default_factory=list)
    keys: int = 0
    trackers: int = 0
    trackers_trimmed: int = 0  # trackers of kept conversations that lost their old events
    trackers_failed: int = 0

    def audit_detail(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "rows": self.rows,
            "residents": len(self.conversation_ids),
            "keys": self.keys,
            "trackers": self.trackers,
            "trackers_trimmed": self.trackers_trimmed,
            "trackers_failed": self.trackers_failed,
        }


def conversations_older_than(*, session: Session, cutoff: datetime) -> list[str]:
    """The conversations of residents first seen before the cutoff: only their trackers can
    hold events older than it."""
    return list(
        session.scalars(
            select(Resident.conversation_id)
            .where(Resident.created_at < cutoff)
            .order_by(Resident.id)
        )
    )


def purge_records(*, session: Session, cutoff: datetime, dry_run: bool = False) -> Purge:
    """Deletes (or, dry run, counts) every registry row older than the cutoff."""
    residents = _table("residents")
    purge = Purge(cutoff=cutoff)
    purge.conversation_ids = list(
        session.scalars(
            select(residents.c.conversation_id).where(_expired(table("residents"), cutoff))
        )
    )
    for entry in PERSONAL_TABLES:
        condition = _expired(entry, cutoff)
        rows = _table(entry.table)
        if dry_run:
            count = session.scalar(select(func.count()).select_from(rows).where(condition)) or 0
        else:
            _uncount(session, entry, condition)
            count = session.execute(delete(rows).where(condition)).rowcount  # type: ignore[attr-defined]
        if count:
            purge.rows[entry.table] = count
    session.flush()
    return purge


def audit_purge(*, session: Session, purge: Purge, actor: str) -> None:
    """Writes the purge to the audit trail (counts and the cutoff only)."""
    record_audit(
        session=session,
        actor=actor,
        action="privacy.purged",
        entity="retention",
        entity_id=None,
        detail=purge.audit_detail(),
    )
    session.flush()
