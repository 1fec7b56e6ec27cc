"""Queueing outbound messages in the caller's transaction, reading their delivery state, and
replaying dead letters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    JSON,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    Text,
    cast,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import REGCLASS
from sqlalchemy.orm import Session

from bot.conversations.messages import OutboundReply
from bot.db.base import utcnow
from bot.db.upsert import insert_or_skip, insert_skipping_returning
from bot.outbound.models import OutboundMessage, OutboundStatus, SkipReason


def enqueue(
    *,
    session: Session,
    channel: str,
    address: str | None,
    reply: OutboundReply,
    kind: str,
    conversation_id: str | None = None,
    dedupe_key: str | None = None,
    aid_request_id: int | None = None,
    team_id: int | None = None,
) -> OutboundMessage:
    """Queues one message for the outbound worker (flushed, not committed); the same
    `dedupe_key` is queued only once. Without an address it is skipped as `no_channel`."""
    values = _message_values(
        channel=channel,
        address=address,
        reply=reply,
        kind=kind,
        conversation_id=conversation_id,
        dedupe_key=dedupe_key,
        aid_request_id=aid_request_id,
        team_id=team_id,
    )
    if dedupe_key is None:
        message = OutboundMessage(**values)
        session.add(message)
        session.flush()
        return message
    # One statement in the usual case: the unique key decides, no look-up before the INSERT.
    statement = insert_skipping_returning(
        session.get_bind().dialect.name, OutboundMessage, "dedupe_key"
    )
    queued: OutboundMessage | None = session.scalars(statement, [values]).first()
    if queued is not None:
        return queued
    return session.scalars(
        select(OutboundMessage).where(OutboundMessage.dedupe_key == dedupe_key)
    ).one()


def enqueue_select(
    *,
    session: Session,
    kind: str,
    reply: OutboundReply,
    recipients: Select[*tuple[Any, ...]],
    ctes: tuple[CTE, ...] = (),
) -> int:
    """Queues one reply to every row of `recipients` in one INSERT … SELECT, for fan-outs: no
    row is loaded into Python. Its columns are labelled with outbound column names (`channel`,
    `address`, `conversation_id`, optionally `dedupe_key` and `id`, see `next_outbound_id`);
    a dedupe key already queued is skipped. `ctes` are put at the top of the statement (a
    data-modifying CTE the recipients read from). Returns how many were queued."""
    data = reply.as_dict()
    now = utcnow()
    constants = {
        "kind": literal(kind, String),
        "text": literal(data["text"], Text),
        "buttons": literal(data["buttons"], JSON),
        "status": literal(OutboundStatus.PENDING.value, String),
        "attempts": literal(0, Integer),
        "next_attempt_at": literal(now, DateTime(timezone=True)),
        "created_at": literal(now, DateTime(timezone=True)),
        "updated_at": literal(now, DateTime(timezone=True)),
    }
    names = [column.name for column in recipients.selected_columns]
    source = recipients.add_columns(*constants.values())
    statement = insert_or_skip(session, OutboundMessage, ["dedupe_key"]).from_select(
        [*names, *constants], source
    )
    for cte in ctes:
        statement = statement.add_cte(cte)
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


def next_outbound_id(session: Session) -> ColumnElement[int]:
    """An expression taking the next outbound message id from its sequence (PostgreSQL), so
    one statement can write rows that refer to outbound rows it queues too."""
    sequence = session.scalar(text("SELECT pg_get_serial_sequence('outbound_messages', 'id')"))
    if sequence is None:
        raise RuntimeError("outbound_messages.id has no sequence")
    return func.nextval(cast(literal(sequence, String), REGCLASS))


def _message_values(
    *,
    channel: str,
    address: str | None,
    reply: OutboundReply,
    kind: str,
    conversation_id: str | None,
    dedupe_key: str | None = None,
    aid_request_id: int | None = None,
    team_id: int | None = None,
) -> dict[str, Any]:
    data = reply.as_dict()
    return {
        "dedupe_key": dedupe_key,
        "kind": kind,
        "channel": channel,
        "address": address or None,
        "conversation_id": conversation_id,
        "team_id": team_id,
        "aid_request_id": aid_request_id,
        "text": data["text"],
        "buttons": data["buttons"],
        "status": OutboundStatus.PENDING if address else OutboundStatus.SKIPPED,
        "skip_reason": None if address else SkipReason.NO_CHANNEL,
    }


def dead_letter(
    *,
    session: Session,
    channel: str,
    address: str | None,
    reply: OutboundReply,
    kind: str,
    conversation_id: str | None,
    dedupe_key: str,
    error: str,
) -> OutboundMessage:
    """Keeps a message that could not be delivered where it was sent (a bot reply in its
    turn) as a dead letter an operator can replay."""
    message = enqueue(
        session=session,
        channel=channel,
        address=address,
        reply=reply,
        kind=kind,
        conversation_id=conversation_id,
        dedupe_key=dedupe_key,
    )
    if message.status == OutboundStatus.PENDING:
        message.status = OutboundStatus.DEAD
        message.last_error = error[:300]
        session.flush()
    return message


def reply_of(message: OutboundMessage) -> OutboundReply:
    """The reply a row holds."""
    return OutboundReply.from_dict({"text": message.text, "buttons": message.buttons or []})


@dataclass(frozen=True)
class DeliveryState:
    """What the console shows about one message (no text)."""

    id: int
    kind: str
    channel: str
    status: str
    skip_reason: str | None
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    sent_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, message: OutboundMessage) -> DeliveryState:
        return cls(
            id=message.id,
            kind=message.kind,
            channel=message.channel,
            status=message.status,
            skip_reason=message.skip_reason,
            attempts=message.attempts,
            next_attempt_at=(
                message.next_attempt_at
                if message.status in (OutboundStatus.PENDING, OutboundStatus.FAILED_RETRYING)
                else None
            ),
            last_error=message.last_error,
            sent_at=message.sent_at,
            updated_at=message.updated_at,
        )


def delivery_state(*, session: Session, message_id: int) -> DeliveryState | None:
    """The delivery state of one message, or None when there is no such message."""
    message = session.get(OutboundMessage, message_id)
    return DeliveryState.of(message) if message is not None else None


def list_messages(
    *,
    session: Session,
    status: OutboundStatus | None = None,
    conversation_id: str | None = None,
    limit: int = 100,
) -> list[OutboundMessage]:
    """Outbound messages, newest first, filtered by status and/or conversation."""
    query = select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboundMessage.status == status)
    if conversation_id is not None:
        query = query.where(OutboundMessage.conversation_id == conversation_id)
    return list(session.scalars(query))


class NotReplayable(ValueError):
    """Only a dead letter can be replayed."""


def replay(*, session: Session, message_id: int) -> OutboundMessage:
    """Puts one dead letter back in the queue with fresh tries."""
    message = session.get(OutboundMessage, message_id)
    if message is None:
        raise LookupError(message_id)
    if message.status != OutboundStatus.DEAD:
        raise NotReplayable(f"message {message_id} is {message.status}, not dead")
    message.status = OutboundStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = utcnow()
    message.last_error = None
    session.flush()
    return message


def replay_all_dead(*, session: Session) -> int:
    """Puts every dead letter back in the queue; returns how many."""
    result = session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.status == OutboundStatus.DEAD)
        .values(
            status=OutboundStatus.PENDING,
            attempts=0,
            next_attempt_at=utcnow(),
            last_error=None,
            updated_at=utcnow(),
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
