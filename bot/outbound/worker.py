"""Delivers queued outbound messages: at least once, never by two workers at the same time
(each row is leased while it is being sent), retried as the one retry policy says.

A round claims first the direct messages (residents' replies, team notifications), then
advisory copies per channel up to about one second of the channel's rate limit, by a second
claim that walks a partial index instead of sorting every waiting copy (claims.py). Each round's messages
go out concurrently, one after another per address (so a resident's messages keep their
order), the direct ones before the advisories; the shared rate limiter sets the pace.

Runs beside the inbound job worker (in the web app, or `hotline worker`). Database work runs
in threads so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.db.base import utcnow
from bot.db.session import session_scope
from bot.outbound.claims import (
    BATCH,
    Claimed,
    claim_advisory_round,
    claim_due,
    record_attempts,
    release,
)
from bot.outbound.events import DeliveryEvents, DeliveryStateChanged
from bot.outbound.sender import Attempt, OutboundSender

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
# Sends under way at once in one worker (the Telegram client keeps 64 connections).
IN_FLIGHT = 64


@dataclass(frozen=True)
class Round:
    """One round's messages: the direct ones (sent first), then advisory copies."""

    direct: list[Claimed]
    advisories: list[Claimed]
    more: bool  # a claim took as many as it asked for: more is probably due

    @property
    def messages(self) -> list[Claimed]:
        return [*self.direct, *self.advisories]


@dataclass(frozen=True)
class RoundReport:
    sent: int = 0
    failed: int = 0
    more: bool = False  # go on at once: a claim was full


class Admissions:
    """Counts a round's messages through the rate limiter: once all are through, the
    next round may start while this one's last calls and records finish."""

    def __init__(self, expected: int) -> None:
        self._left = expected
        self.all_through = asyncio.Event()
        if expected <= 0:
            self.all_through.set()

    def one_through(self) -> None:
        self._left -= 1
        if self._left <= 0:
            self.all_through.set()


def _by_address(claimed: list[Claimed]) -> list[list[Claimed]]:
    """The messages grouped per (channel, address), each group in claim order."""
    groups: dict[tuple[str, str], list[Claimed]] = {}
    for message in claimed:
        groups.setdefault((message.channel, message.address), []).append(message)
    return list(groups.values())


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
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        # Outcomes waiting to be stored: whoever holds the lock stores all that are waiting
        # in one transaction (a round's sends finish at about the same time).
        self._unrecorded: list[tuple[Claimed, Attempt]] = []
        # One unit of database work at a time per worker (a claim ahead, a store).
        self._database = asyncio.Lock()

    def wake(self) -> None:
        """Looks for due messages now instead of at the next poll (a staff reply just
        committed in this process should not wait for it)."""
        self._wake.set()

    async def run(self) -> None:
        """Delivers due messages until stop() is called.

        While a fan-out goes out, rounds follow each other without a gap: the next round is
        claimed while this one sends, and it starts as soon as every message of this one
        is through the rate limiter (the last platform calls and records finish beside
        it). A reply queued meanwhile goes in the round after the next at the latest, and
        takes the limiter's first slots of its round, before the copies."""
        logger.info("outbound worker started")
        upcoming: asyncio.Task[Round] | None = None
        finishing: asyncio.Task[RoundReport] | None = None
        try:
            while not self._stop.is_set():
                more = False
                try:
                    claiming, upcoming = upcoming, None
                    claimed = await (claiming or self._claim(None))
                    more = claimed.more
                    if more:
                        upcoming = asyncio.create_task(self._claim(None))
                    admissions = Admissions(len(claimed.messages))
                    sending = asyncio.create_task(self._send_round(claimed, admissions))
                    through = asyncio.create_task(admissions.all_through.wait())
                    try:
                        await asyncio.wait([sending, through], return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        through.cancel()
                    # At most two rounds at once: the one sending and the last one's tail.
                    previous, finishing = finishing, sending
                    if previous is not None:
                        self._log(await previous)
                    if not more:
                        finishing = None
                        self._log(await sending)
                except asyncio.CancelledError:
                    raise
                except Exception:  # the database may be down for a while: keep the worker alive
                    logger.exception("outbound delivery round failed")
                if more:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_seconds)
                self._wake.clear()
        finally:
            if finishing is not None:
                try:
                    self._log(await finishing)
                except Exception:  # its messages' leases run out and they are tried again
                    logger.exception("outbound delivery round failed")
            if upcoming is not None:
                await self._give_back(upcoming)
        logger.info("outbound worker stopped")

    @staticmethod
    def _log(report: RoundReport) -> None:
        if report.sent or report.failed:
            logger.info("outbound: %s sent, %s not yet", report.sent, report.failed)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def _budgets(self) -> dict[str, int]:
        """Advisory copies per round for each channel not paused: one second of its rate
        limit, so a round lasts about a second and the next claim sees new replies."""
        budgets = {}
        for name, channel in self._sender.channels.items():
            if not await self._sender.pauses.is_paused(name):
                budgets[name] = channel.rate.per_second or IN_FLIGHT
        return budgets

    async def deliver_due(self, limit: int | None = None) -> RoundReport:
        """One round: claims what is due (`limit` caps it, direct messages first), sends the
        direct messages and then the advisory copies; returns how many went out and not."""
        claimed = await self._claim(limit)
        report = await self._send_round(claimed, Admissions(len(claimed.messages)))
        return RoundReport(report.sent, report.failed, more=claimed.more)

    async def _claim(self, limit: int | None) -> Round:
        budgets = await self._budgets()
        direct_limit = BATCH if limit is None else min(BATCH, limit)

        def claim() -> Round:
            with session_scope() as session:
                now = self._now()
                direct = claim_due(
                    session=session, channels=list(budgets), now=now, limit=direct_limit
                )
                rest = None if limit is None else limit - len(direct)
                advisories = claim_advisory_round(
                    session=session, budgets=budgets, now=now, limit=rest
                )
                more = len(direct) >= direct_limit or advisories.full
                return Round(direct, advisories.messages, more)

        async with self._database:
            return await asyncio.to_thread(claim)

    async def _give_back(self, upcoming: asyncio.Task[Round]) -> None:
        """Releases a round claimed ahead that will not be sent (the worker stops)."""
        try:
            claimed = await upcoming
            if claimed.messages:
                ids = [message.id for message in claimed.messages]

                def give_back() -> None:
                    with session_scope() as session:
                        release(session=session, ids=ids, now=self._now())

                async with self._database:
                    await asyncio.to_thread(give_back)
        except Exception:  # noqa: BLE001 — the lease runs out and they are sent anyway
            logger.warning("outbound: a round claimed ahead was not given back")

    async def _send_round(self, claimed: Round, admissions: Admissions) -> RoundReport:
        """The direct messages first (their sends take the limiter's first slots), then
        the advisory copies."""
        sent, failed = await self._send_all(claimed.direct, admissions)
        more_sent, more_failed = await self._send_all(claimed.advisories, admissions)
        return RoundReport(sent=sent + more_sent, failed=failed + more_failed)

    async def _send_all(self, claimed: list[Claimed], admissions: Admissions) -> tuple[int, int]:
        """Sends concurrently, one after another per address; returns (sent, not sent). A
        failure to store an outcome is raised once every send has finished."""
        results = await asyncio.gather(
            *(self._send_in_order(group, admissions) for group in _by_address(claimed)),
            return_exceptions=True,
        )
        sent = failed = 0
        for result in results:
            if isinstance(result, BaseException):
                raise result
            sent, failed = sent + result[0], failed + result[1]
        return sent, failed

    async def _send_in_order(self, group: list[Claimed], admissions: Admissions) -> tuple[int, int]:
        sent = failed = 0
        for claimed in group:
            through = False

            def one_through() -> None:
                nonlocal through
                if not through:  # told by the limiter, or after a try that never reached it
                    through = True
                    admissions.one_through()

            async with self._in_flight:
                attempt = await self._sender.try_once(
                    channel=claimed.channel,
                    address=claimed.address,
                    reply=claimed.reply,
                    attempt=claimed.attempts,
                    conversation_id=claimed.conversation_id,
                    context={"kind": claimed.kind, "dedupe_key": claimed.dedupe_key},
                    on_admitted=one_through,
                )
            one_through()
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
            await self._record(claimed, attempt)
        return sent, failed

    async def _record(self, claimed: Claimed, attempt: Attempt) -> None:
        """Stores an outcome, with the others waiting then, in one transaction."""
        self._unrecorded.append((claimed, attempt))
        async with self._database:
            outcomes, self._unrecorded = self._unrecorded, []
            if not outcomes:
                return  # stored by the one who held the lock before us
            events = await asyncio.to_thread(self._store, outcomes)
        for event in events:
            await self._events.publish(event)

    def _store(self, outcomes: list[tuple[Claimed, Attempt]]) -> list[DeliveryStateChanged]:
        with session_scope() as session:
            rows = record_attempts(session=session, outcomes=outcomes, now=self._now())
            return [DeliveryStateChanged.of(row) for row in rows]
