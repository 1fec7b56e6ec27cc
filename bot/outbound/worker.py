"""Delivers queued outbound messages: at least once, never by two workers at the same time
(each row is leased while it is being sent), retried as the one retry policy says.

Runs beside the inbound job worker (in the web app, or `hotline worker`). Database work runs
in threads so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations.messages import OutboundReply
from bot.db.base import utcnow
from bot.db.session import session_scope
from bot.outbound.events import DeliveryEvents, DeliveryStateChanged
from bot.outbound.models import OPEN_STATUSES, OutboundMessage, OutboundStatus
from bot.outbound.policy import Action
from bot.outbound.sender import Attempt, OutboundSender
from bot.outbound.service import reply_of
from bot.requests.models import AidRequest

logger = logging.getLogger(__name__)

BATCH = 20
LEASE = timedelta(seconds=60)  # a claimed message is not picked again for this long
ADVISORY_KIND = "advisory"  # bot/advisories fan-outs: sent after replies and notifications
POLL_SECONDS = 1.0


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
class RoundReport:
    sent: int = 0
    failed: int = 0


# Replies to residents first (they are waiting in the chat), then team notifications in the
# order of their request's priority score, like every list of requests.
_request_score = (
    select(AidRequest.priority_score)
    .where(AidRequest.id == OutboundMessage.aid_request_id)
    .scalar_subquery()
)


def claim_due(
    *, session: Session, channels: Collection[str], now: datetime, limit: int = BATCH
) -> list[Claimed]:
    """Leases the due messages of the given channels, residents' replies first, then team
    notifications by their request's priority score; other workers skip them meanwhile."""
    if not channels:
        return []
    query = (
        select(OutboundMessage)
        .where(
            OutboundMessage.status.in_(OPEN_STATUSES),
            OutboundMessage.next_attempt_at <= now,
            OutboundMessage.channel.in_(channels),
            OutboundMessage.address.is_not(None),
        )
        .order_by(
            OutboundMessage.kind == ADVISORY_KIND,  # a fan-out never delays residents' replies
            OutboundMessage.aid_request_id.is_not(None),
            _request_score.desc(),
            OutboundMessage.next_attempt_at,
            OutboundMessage.id,
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
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


def record_attempt(
    *, session: Session, claimed: Claimed, attempt: Attempt, now: datetime
) -> OutboundMessage | None:
    """Stores the outcome of one try; returns the row when its state changed."""
    message = session.get(OutboundMessage, claimed.id, with_for_update=True)
    if message is None or message.status not in OPEN_STATUSES:
        return None  # erased or replayed meanwhile
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
    session.flush()
    return message


class OutboundWorker:
    """Polls the outbound table and sends what is due through the one sender."""

    def __init__(
        self,
        *,
        sender: OutboundSender,
        events: DeliveryEvents,
        now: Callable[[], datetime] = utcnow,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._sender = sender
        self._events = events
        self._now = now
        self._poll_seconds = poll_seconds
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Looks for due messages now instead of at the next poll (a staff reply just
        committed in this process should not wait for it)."""
        self._wake.set()

    async def run(self) -> None:
        """Delivers due messages until stop() is called."""
        logger.info("outbound worker started")
        while not self._stop.is_set():
            full = False
            try:
                report = await self.deliver_due()
                if report.sent or report.failed:
                    logger.info("outbound: %s sent, %s not yet", report.sent, report.failed)
                # A full round means more is due (a fan-out): go on at once, the rate limiter
                # paces the sending; waiting a poll here would cap it at BATCH per poll.
                full = report.sent + report.failed >= BATCH
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be down for a while: keep the worker alive
                logger.exception("outbound delivery round failed")
            if full:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_seconds)
            self._wake.clear()
        logger.info("outbound worker stopped")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def deliver_due(self, limit: int = BATCH) -> RoundReport:
        """Sends every message that is due, once; returns how many went out and how many not."""
        channels = [
            name for name in self._sender.channels if not await self._sender.pauses.is_paused(name)
        ]

        def claim() -> list[Claimed]:
            with session_scope() as session:
                return claim_due(session=session, channels=channels, now=self._now(), limit=limit)

        def record(claimed: Claimed, attempt: Attempt) -> DeliveryStateChanged | None:
            with session_scope() as session:
                row = record_attempt(
                    session=session, claimed=claimed, attempt=attempt, now=self._now()
                )
                return DeliveryStateChanged.of(row) if row is not None else None

        sent = failed = 0
        for claimed in await asyncio.to_thread(claim):
            attempt = await self._sender.try_once(
                channel=claimed.channel,
                address=claimed.address,
                reply=claimed.reply,
                attempt=claimed.attempts,
                conversation_id=claimed.conversation_id,
                context={"kind": claimed.kind, "dedupe_key": claimed.dedupe_key},
            )
            if attempt.sent:
                sent += 1
            else:
                failed += 1
                logger.warning(
                    "outbound message %s (%s) not delivered, try %s: %s",
                    claimed.id,
                    claimed.kind,
                    claimed.attempts,
                    attempt.error,
                )
            event = await asyncio.to_thread(record, claimed, attempt)
            if event is not None:
                await self._events.publish(event)
        return RoundReport(sent=sent, failed=failed)
