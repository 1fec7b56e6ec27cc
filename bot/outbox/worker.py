"""Delivers queued team notifications to Telegram: at least once, with backoff, never twice
by two workers at the same time (each message is leased while it is being sent).

Runs inside the web app (a lifespan task) or alone (`hotline worker`). Database work runs in a
thread so the web app's event loop stays free.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.db.session import session_scope
from bot.outbox.models import OutboxMessage, OutboxStatus
from bot.requests.models import AidRequest
from bot.settings import Settings

logger = logging.getLogger(__name__)

BATCH = 20
LEASE = timedelta(seconds=60)  # a claimed message is not picked again for this long
MAX_ATTEMPTS = 12
BASE_DELAY_SECONDS = 5.0
MAX_DELAY_SECONDS = 600.0


class DeliveryError(Exception):
    """Sending failed; `retry_after` says when to try again if the channel told us."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Sender(Protocol):
    async def send(self, chat_id: str, text: str) -> None: ...


class TelegramSender:
    """Sends to Telegram groups with python-telegram-bot (the API base URL is configurable, so
    tests point it at a local fake server)."""

    def __init__(self, token: str, api_base_url: str) -> None:
        from telegram import Bot

        self._bot = Bot(token, base_url=f"{api_base_url.rstrip('/')}/bot")

    async def send(self, chat_id: str, text: str) -> None:
        from telegram.error import RetryAfter, TelegramError

        try:
            await self._bot.send_message(chat_id=chat_id, text=text)
        except RetryAfter as exc:
            delay = exc.retry_after
            seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
            raise DeliveryError("rate limited", retry_after=seconds) from exc
        except TelegramError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}"[:300]) from exc

    async def aclose(self) -> None:
        await self._bot.shutdown()


@dataclass(frozen=True)
class _Job:
    id: int
    chat_id: str
    text: str
    attempts: int


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    failed: int = 0


def backoff(attempts: int) -> timedelta:
    """Delay before the next try: 5 s, 10 s, 20 s … up to 10 min, with a little jitter."""
    delay = min(BASE_DELAY_SECONDS * 2 ** max(attempts - 1, 0), MAX_DELAY_SECONDS)
    return timedelta(seconds=delay * random.uniform(0.9, 1.1))


# Team notifications go out in the order of their request's priority score, like every list.
_request_score = (
    select(AidRequest.priority_score)
    .where(AidRequest.id == OutboxMessage.aid_request_id)
    .scalar_subquery()
)


def claim_due(*, session: Session, now: datetime, limit: int = BATCH) -> list[_Job]:
    """Leases the messages due for delivery, most urgent request first; other workers skip
    them until the lease ends."""
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.chat_id.is_not(None),
        )
        .order_by(func.coalesce(_request_score, -1).desc(), OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    jobs = []
    for message in session.scalars(query):
        message.attempts += 1
        message.next_attempt_at = now + LEASE
        assert message.chat_id is not None
        jobs.append(_Job(message.id, message.chat_id, message.text, message.attempts))
    session.flush()
    return jobs


def record_result(
    *, session: Session, job: _Job, now: datetime, error: DeliveryError | None
) -> None:
    """Marks a message sent, or schedules the next try (or gives up after MAX_ATTEMPTS)."""
    if error is None:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == job.id, OutboxMessage.status == OutboxStatus.PENDING)
            .values(status=OutboxStatus.SENT, sent_at=now, last_error=None)
        )
        return
    delay = (
        timedelta(seconds=error.retry_after)
        if error.retry_after is not None
        else backoff(job.attempts)
    )
    give_up = job.attempts >= MAX_ATTEMPTS
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == job.id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(
            status=OutboxStatus.FAILED if give_up else OutboxStatus.PENDING,
            next_attempt_at=now + delay,
            last_error=str(error)[:300],
        )
    )


async def deliver_due(
    *, sender: Sender, now: Callable[[], datetime] = utcnow, limit: int = BATCH
) -> DeliveryReport:
    """Sends every message that is due, once; returns how many went out and how many failed."""

    def claim() -> list[_Job]:
        with session_scope() as session:
            return claim_due(session=session, now=now(), limit=limit)

    def record(job: _Job, error: DeliveryError | None) -> None:
        with session_scope() as session:
            record_result(session=session, job=job, now=now(), error=error)

    jobs = await asyncio.to_thread(claim)
    sent = failed = 0
    for job in jobs:
        error: DeliveryError | None = None
        try:
            await sender.send(job.chat_id, job.text)
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # network errors and the like: retry later, keep going
            error = DeliveryError(type(exc).__name__)
        if error is None:
            sent += 1
        else:
            failed += 1
            logger.warning(
                "outbox message %s not delivered (try %s): %s", job.id, job.attempts, error
            )
        await asyncio.to_thread(record, job, error)
    return DeliveryReport(sent=sent, failed=failed)


def make_sender(settings: Settings) -> TelegramSender | None:
    """Returns the Telegram sender, or None when no bot token is configured."""
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value():
        return None
    return TelegramSender(
        settings.telegram_bot_token.get_secret_value(), settings.telegram_api_base_url
    )


async def run_worker(*, settings: Settings, stop: asyncio.Event) -> None:
    """Delivers due notifications until `stop` is set."""
    sender = make_sender(settings)
    if sender is None:
        logger.info("TELEGRAM_BOT_TOKEN is not set: team notifications wait in the outbox")
        return
    logger.info("outbox worker started")
    try:
        while not stop.is_set():
            try:
                report = await deliver_due(sender=sender)
                if report.sent or report.failed:
                    logger.info("outbox: %s sent, %s to retry", report.sent, report.failed)
            except Exception:  # the database may be down for a while: keep the worker alive
                logger.exception("outbox delivery round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.outbox_poll_seconds)
    finally:
        await sender.aclose()
        logger.info("outbox worker stopped")
