"""The one outbound path: team notifications and other queued messages go through the same
sender, rate limiter and retry policy as the bot's replies (against the fake Bot API)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channels.base import SendRate
from bot.channels.models import ChannelIncident
from bot.conversations.messages import OutboundReply
from bot.db.base import utcnow
from bot.outbound.events import DeliveryEvents, DeliveryStateChanged
from bot.outbound.models import OutboundMessage, OutboundStatus, SkipReason
from bot.outbound.policy import RetryPolicy
from bot.outbound.sender import OutboundSender
from bot.outbound.service import (
    delivery_state,
    enqueue,
    list_messages,
    replay,
    replay_all_dead,
)
from bot.outbound.worker import OutboundWorker
from bot.requests.service import submit_aid_request
from bot.settings import Settings
from connectors.telegram.channel import TelegramChannel
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.requests.factories import BEN_THANH, aid_in, conversation_id, make_team


class Clock:
    """The real time, moved forward by the test."""

    def __init__(self) -> None:
        self.offset = timedelta()

    @property
    def now(self) -> datetime:
        return utcnow() + self.offset

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Backoff of seconds (the channel tests use milliseconds), so "not due yet" is visible."""
    return settings.model_copy(
        update={"outbound_backoff_base_seconds": 5.0, "outbound_backoff_max_seconds": 600.0}
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def events() -> tuple[DeliveryEvents, list[DeliveryStateChanged]]:
    seen: list[DeliveryStateChanged] = []
    publisher = DeliveryEvents()
    publisher.subscribe(seen.append)
    return publisher, seen


async def _worker(
    settings: Settings, redis: Any, clock: Clock, publisher: DeliveryEvents, **channels: Any
) -> AsyncIterator[OutboundWorker]:
    connectors = channels or {"telegram": TelegramChannel(settings=settings, redis=redis)}
    sender = OutboundSender(
        channels=connectors, redis=redis, policy=RetryPolicy.from_settings(settings)
    )
    try:
        yield OutboundWorker(sender=sender, events=publisher, now=clock)
    finally:
        for connector in connectors.values():
            await connector.aclose()


@pytest.fixture
async def worker(settings, redis, clock, events) -> AsyncIterator[OutboundWorker]:  # type: ignore[no-untyped-def]
    async for made in _worker(settings, redis, clock, events[0]):
        yield made


def _row(session: Session, message_id: int) -> OutboundMessage:
    session.expire_all()
    row = session.get(OutboundMessage, message_id)
    assert row is not None
    return row


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _team_notice(session: Session, chat: str | None = "-1001") -> OutboundMessage:
    make_team(session, slug=f"w-{chat}", wards=[BEN_THANH], chat=chat)
    request = submit_aid_request(
        session=session, conversation_id=conversation_id(), data=aid_in()
    ).request
    row = session.scalar(
        select(OutboundMessage).where(OutboundMessage.aid_request_id == request.id)
    )
    assert row is not None
    return row


async def test_a_team_notification_is_sent_once_through_the_shared_limiter(
    session, settings, telegram_fake, redis, clock, events
):
    notice = _team_notice(session)
    assert (notice.kind, notice.channel, notice.address) == (
        "team_notification",
        "telegram",
        "-1001",
    )
    slow = settings.model_copy(update={"telegram_chat_interval_seconds": 60})
    async for worker in _worker(slow, redis, clock, events[0]):
        first = await worker.deliver_due()
        again = await worker.deliver_due()
    assert (first.sent, again.sent, again.failed) == (1, 0, 0)
    sent = telegram_fake.sent()
    assert len(sent) == 1 and sent[0].params["chat_id"] == "-1001"
    assert "Đề nghị hỗ trợ mới" in sent[0].params["text"]
    # the send went through the Telegram limiter every bot reply uses (per chat and overall)
    assert await redis.pttl("rl:telegram:to:-1001") > 0
    row = _row(session, notice.id)
    assert row.status == OutboundStatus.SENT and row.sent_at is not None
    state = delivery_state(session=session, message_id=notice.id)
    assert state is not None and (state.status, state.attempts) == ("sent", 1)
    assert [(e.message_id, e.status) for e in events[1]] == [(notice.id, "sent")]


async def test_a_passing_fault_is_retried_with_backoff(
    session, worker, telegram_fake, clock, events
):
    notice = _team_notice(session)
    telegram_fake.fail_next(502)
    down = await worker.deliver_due()
    row = _row(session, notice.id)
    assert (down.sent, down.failed) == (0, 1)
    assert (row.status, row.attempts) == (OutboundStatus.FAILED_RETRYING, 1)
    assert row.last_error and "network" in row.last_error
    assert _aware(row.next_attempt_at) > clock.now
    assert (await worker.deliver_due()).failed == 0  # not due yet: not tried
    clock.advance(minutes=2)
    assert (await worker.deliver_due()).sent == 1
    row = _row(session, notice.id)
    assert (row.status, row.attempts) == (OutboundStatus.SENT, 2)
    assert [e.status for e in events[1]] == ["failed_retrying", "sent"]


async def test_429_waits_what_telegram_asks(session, worker, telegram_fake, clock):
    notice = _team_notice(session)
    telegram_fake.fail_next(429, retry_after=300)
    before = clock.now
    await worker.deliver_due()
    row = _row(session, notice.id)
    assert _aware(row.next_attempt_at) >= before + timedelta(seconds=300)


async def test_used_up_retries_make_a_dead_letter_that_can_be_replayed(
    session, worker, telegram_fake, clock, settings
):
    notice = _team_notice(session)
    telegram_fake.fail_next(500, times=settings.outbound_max_attempts)
    for _ in range(settings.outbound_max_attempts):
        await worker.deliver_due()
        clock.advance(hours=1)
    row = _row(session, notice.id)
    assert (row.status, row.attempts) == (OutboundStatus.DEAD, settings.outbound_max_attempts)
    assert [m.id for m in list_messages(session=session, status=OutboundStatus.DEAD)] == [notice.id]
    incident = session.scalars(select(ChannelIncident)).one()
    assert incident.kind == "undeliverable"
    replay(session=session, message_id=notice.id)
    assert (await worker.deliver_due()).sent == 1
    assert _row(session, notice.id).status == OutboundStatus.SENT
    assert len(telegram_fake.sent()) == 1


async def test_replay_all_dead_touches_only_dead_letters(session):
    dead = enqueue(
        session=session,
        channel="telegram",
        address="-1",
        reply=OutboundReply("a"),
        kind="advisory",
    )
    dead.status = OutboundStatus.DEAD
    sent = enqueue(
        session=session, channel="telegram", address="-2", reply=OutboundReply("b"), kind="advisory"
    )
    sent.status = OutboundStatus.SENT
    session.flush()
    assert replay_all_dead(session=session) == 1
    assert (_row(session, dead.id).status, _row(session, sent.id).status) == ("pending", "sent")


async def test_a_refused_message_is_not_retried(session, worker, telegram_fake):
    notice = _team_notice(session)
    telegram_fake.fail_next(400)  # e.g. "chat not found": the same call fails the same way
    await worker.deliver_due()
    row = _row(session, notice.id)
    assert (row.status, row.skip_reason, row.attempts) == ("skipped", "rejected", 1)
    assert session.scalars(select(ChannelIncident.kind)).all() == ["rejected"]


async def test_a_group_that_removed_the_bot_is_recorded_not_retried(session, worker, telegram_fake):
    notice = _team_notice(session)
    telegram_fake.fail_next(403)
    await worker.deliver_due()
    row = _row(session, notice.id)
    assert (row.status, row.skip_reason) == ("skipped", SkipReason.UNREACHABLE)


async def test_an_unexpected_error_goes_to_the_dead_letters_at_once(
    session, settings, redis, clock, events
):
    class BrokenChannel:
        """A connector with a bug: it raises something no DeliveryError describes."""

        name = "broken"
        rate = SendRate()

        async def send(self, *, address: str, reply: OutboundReply, context: dict) -> None:
            raise KeyError("bug")

        async def acknowledge(self, *, address: str, context: dict) -> None:
            return None

        async def aclose(self) -> None:
            return None

    message = enqueue(
        session=session, channel="broken", address="x", reply=OutboundReply("a"), kind="advisory"
    )
    async for worker in _worker(settings, redis, clock, events[0], broken=BrokenChannel()):
        await worker.deliver_due()
    row = _row(session, message.id)
    assert (row.status, row.attempts, row.last_error) == ("dead", 1, "unexpected: KeyError")


async def test_without_an_address_a_message_is_skipped_for_the_console(session):
    notice = _team_notice(session, chat=None)
    assert (notice.status, notice.skip_reason) == ("skipped", "no_channel")


async def test_enqueue_is_idempotent_per_dedupe_key(session):
    first = enqueue(
        session=session,
        channel="telegram",
        address="42",
        reply=OutboundReply("Yêu cầu của bạn đã được tiếp nhận."),
        kind="status_notice",
        conversation_id="telegram:42",
        dedupe_key="status:1:assigned",
    )
    second = enqueue(
        session=session,
        channel="telegram",
        address="42",
        reply=OutboundReply("Yêu cầu của bạn đã được tiếp nhận."),
        kind="status_notice",
        conversation_id="telegram:42",
        dedupe_key="status:1:assigned",
    )
    assert first.id == second.id


@pytest.mark.parametrize("status", [401, 404])
async def test_a_refused_bot_token_pauses_the_channel_instead_of_retrying(
    session, worker, telegram_fake, redis, caplog, status
):
    first = _team_notice(session)
    second = enqueue(
        session=session,
        channel="telegram",
        address="-1002",
        reply=OutboundReply("Thông báo"),
        kind="advisory",
    )
    telegram_fake.fail_next(status, times=5)
    with caplog.at_level(logging.ERROR):
        await worker.deliver_due()
    tries = len(telegram_fake.failures)
    # one refused call pauses the channel: the other message is not even tried
    assert tries == 4
    assert any("PAUSED" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    incidents = session.scalars(select(ChannelIncident)).all()
    assert [(i.channel, i.kind) for i in incidents] == [("telegram", "auth_failed")]
    for message in (first, second):
        row = _row(session, message.id)
        assert (row.status, row.attempts) == ("pending", 0)  # waiting, not used up
    # later rounds do not call Telegram at all while the channel is paused
    await worker.deliver_due()
    assert len(telegram_fake.failures) == tries and telegram_fake.sent() == []
    # after the token is fixed, resuming sends both
    telegram_fake.failures.clear()
    assert await worker._sender.pauses.resume("telegram")
    assert (await worker.deliver_due()).sent == 2


async def test_a_wrong_token_at_the_platform_is_an_auth_failure(
    session, settings, redis, clock, events
):
    """Telegram answers 404 Not Found for a token it does not know (a typo in the token)."""
    other = FakeTelegramAPI(token="999:another-bot").start()
    try:
        wrong = settings.model_copy(update={"telegram_api_base_url": other.url})
        notice = _team_notice(session)
        async for worker in _worker(wrong, redis, clock, events[0]):
            await worker.deliver_due()
            await worker.deliver_due()
        assert _row(session, notice.id).attempts == 0
        assert session.scalars(select(ChannelIncident.kind)).all() == ["auth_failed"]
    finally:
        other.stop()
