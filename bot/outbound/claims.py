"""The outbound worker's claims and records: which queued messages a round leases (the
direct ones by priority, then advisory copies per channel by a partial index), giving back
a lease not used, and storing the outcome of each try."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, literal, select, update
from sqlalchemy.orm import Session

from bot.conversations.messages import OutboundReply
from bot.outbound.models import ADVISORY_KIND, OPEN_STATUSES, OutboundMessage, OutboundStatus
from bot.outbound.policy import Action
from bot.outbound.sender import Attempt
from bot.outbound.service import reply_of
from bot.requests.models import AidRequest

BATCH = 20  # direct messages claimed per round
LEASE = timedelta(seconds=60)  # a claimed message is not picked again for this long


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    channel: str
    address: str
    conversation_id: str | None
    reply: OutboundReply
    attempts: int
    dedupe_key: str | None = None


@dataclass(frozen=True)
class Claim:
    """What one claim leased."""

    messages: list[Claimed]
    full: bool  # it took as many as it asked for: more is probably due


def _literal(value: str) -> ColumnElement[str]:
    """A constant written into the SQL, so the claims' partial indexes match on every plan
    (a parameter would not prove the index's predicate in a generic plan)."""
    return literal(value, literal_execute=True)


def _open() -> ColumnElement[bool]:
    return OutboundMessage.status.in_([_literal(status.value) for status in OPEN_STATUSES])


# Replies to residents first (they are waiting in the chat), then team notifications in the
# order of their request's priority score, like every list of requests.
_request_score = (
    select(AidRequest.priority_score)
    .where(AidRequest.id == OutboundMessage.aid_request_id)
    .scalar_subquery()
)


def direct_due(*, channels: Collection[str], now: datetime, limit: int) -> Select[OutboundMessage]:
    """The direct claim's query: due messages that are not advisories (ix_outbound_messages_
    direct_due finds them without reading the copies of a fan-out), by priority."""
    return (
        select(OutboundMessage)
        .where(
            _open(),
            OutboundMessage.kind != _literal(ADVISORY_KIND),
            OutboundMessage.next_attempt_at <= now,
            OutboundMessage.channel.in_(channels),
            OutboundMessage.address.is_not(None),
        )
        .order_by(
            OutboundMessage.aid_request_id.is_not(None),
            _request_score.desc(),
            OutboundMessage.next_attempt_at,
            OutboundMessage.id,
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def advisories_due(*, channel: str, now: datetime, limit: int) -> Select[OutboundMessage]:
    """The advisory claim's query: WHERE and ORDER BY are exactly those of
    ix_outbound_messages_advisory_due, so it reads `limit` index entries, not every copy."""
    return (
        select(OutboundMessage)
        .where(
            _open(),
            OutboundMessage.kind == _literal(ADVISORY_KIND),
            OutboundMessage.channel == channel,
            OutboundMessage.next_attempt_at <= now,
        )
        .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def _lease(session: Session, query: Select[OutboundMessage], now: datetime) -> list[Claimed]:
    claimed = []
    for message in session.scalars(query):
        message.attempts += 1
        message.next_attempt_at = now + LEASE
        if message.address is None:
            raise RuntimeError("message.address is missing")
        claimed.append(
            Claimed(
                message.id,
                message.kind,
                message.channel,
                message.address,
                message.conversation_id,
                reply_of(message),
                message.attempts,
                message.dedupe_key,
            )
        )
    session.flush()
    return claimed


def claim_due(
    *, session: Session, channels: Collection[str], now: datetime, limit: int = BATCH
) -> list[Claimed]:
    """Leases the due direct messages of the given channels, residents' replies first, then
    team notifications by their request's priority score; other workers skip them meanwhile."""
    if not channels:
        return []
    return _lease(session, direct_due(channels=channels, now=now, limit=limit), now)


def claim_advisories(*, session: Session, channel: str, now: datetime, limit: int) -> list[Claimed]:
    """Leases up to `limit` due advisory copies of one channel, oldest first."""
    if limit <= 0:
        return []
    return _lease(session, advisories_due(channel=channel, now=now, limit=limit), now)


def claim_advisory_round(
    *, session: Session, budgets: Mapping[str, int], now: datetime, limit: int | None = None
) -> Claim:
    """One round of advisory copies: per channel as many as its budget (about a second of
    its rate limit); `limit` caps the whole."""
    messages: list[Claimed] = []
    full = False
    for channel, budget in budgets.items():
        room = budget if limit is None else min(budget, limit - len(messages))
        if room <= 0:
            continue
        taken = claim_advisories(session=session, channel=channel, now=now, limit=room)
        messages.extend(taken)
        full = full or len(taken) >= room
    return Claim(messages, full)


def release(*, session: Session, ids: Collection[int], now: datetime) -> None:
    """Gives back leased messages that were not tried (a worker stopping with a round
    claimed ahead): due again at once, and the lease does not count as a try."""
    session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id.in_(ids), OutboundMessage.status.in_(OPEN_STATUSES))
        .values(attempts=OutboundMessage.attempts - 1, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )


def _apply(message: OutboundMessage, attempt: Attempt, now: datetime) -> None:
    decision = attempt.decision
    if decision is None:
        message.status = OutboundStatus.SENT
        message.sent_at = now
        message.last_error = None
    elif decision.action is Action.RETRY:
        message.status = OutboundStatus.FAILED_RETRYING
        message.next_attempt_at = now + timedelta(seconds=decision.delay)
        message.last_error = attempt.error
    elif decision.action is Action.PAUSE:
        # Not the message's fault: it waits, and this try does not count.
        message.attempts = max(message.attempts - 1, 0)
        message.next_attempt_at = now
        message.last_error = attempt.error
    elif decision.action is Action.SKIP:
        message.status = OutboundStatus.SKIPPED
        message.skip_reason = decision.reason
        message.last_error = attempt.error
    else:
        message.status = OutboundStatus.DEAD
        message.last_error = attempt.error


def record_attempts(
    *, session: Session, outcomes: Sequence[tuple[Claimed, Attempt]], now: datetime
) -> list[OutboundMessage]:
    """Stores the outcome of each try; returns the rows whose state changed (a row erased
    or replayed meanwhile is left alone)."""
    ids = [claimed.id for claimed, _ in outcomes]
    rows = {
        row.id: row
        for row in session.scalars(
            # In id order: two workers recording at once lock rows in the same order.
            select(OutboundMessage)
            .where(OutboundMessage.id.in_(ids))
            .order_by(OutboundMessage.id)
            .with_for_update()
        )
    }
    changed = []
    for claimed, attempt in outcomes:
        message = rows.get(claimed.id)
        if message is None or message.status not in OPEN_STATUSES:
            continue
        _apply(message, attempt, now)
        changed.append(message)
    session.flush()
    return changed
