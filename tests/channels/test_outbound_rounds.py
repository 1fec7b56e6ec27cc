"""The outbound worker's rounds: advisory copies claimed apart from the direct messages
(replies, notifications), sent concurrently under the shared rate limiter, a reply queued
during a fan-out sent first in the next round, and the limiter's ceiling across workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bot.channels.base import SendRate
from bot.conversations.messages import OutboundReply
from bot.db.base import utcnow
from bot.outbound.claims import claim_advisory_round, claim_due, release
from bot.outbound.events import DeliveryEvents, DeliveryStateChanged
from bot.outbound.models import ADVISORY_KIND, OutboundMessage, OutboundStatus
from bot.outbound.policy import RetryPolicy
from bot.outbound.ratelimit import RateLimiter
from bot.outbound.sender import OutboundSender
from bot.outbound.service import enqueue
from bot.outbound.worker import OutboundWorker
from bot.settings import Settings
from connectors.telegram.channel import TelegramChannel
from tests.fakes.telegram_api import FakeTelegramAPI

COPIES_PER_ROUND = 5


def _copies(session: Session, count: int, *, first_chat: int = 700_000) -> list[OutboundMessage]:
    return [
        enqueue(
            session=session,
            channel="telegram",
            address=str(first_chat + n),
            reply=OutboundReply("Thông báo: tạm dừng chợ đêm từ 18 giờ."),
            kind=ADVISORY_KIND,
            conversation_id=f"telegram:{first_chat + n}",
            dedupe_key=f"advisory:1:telegram:{first_chat + n}",
        )
        for n in range(count)
    ]


def _staff_reply(session: Session, chat: str, text: str = "Cán bộ trả lời.") -> OutboundMessage:
    return enqueue(
        session=session,
        channel="telegram",
        address=chat,
        reply=OutboundReply(text),
        kind="staff_reply",
        conversation_id=f"telegram:{chat}",
    )


@pytest.fixture
def events() -> DeliveryEvents:
    return DeliveryEvents()


@pytest.fixture
async def worker(
    settings: Settings, redis: Any, events: DeliveryEvents
) -> AsyncIterator[OutboundWorker]:
    """A worker whose Telegram limit is COPIES_PER_ROUND a second (so a round takes that
    many copies), with no wait between two messages to one chat."""
    paced = settings.model_copy(
        update={
            "telegram_messages_per_second": COPIES_PER_ROUND,
            "telegram_chat_interval_seconds": 0,
        }
    )
    channel = TelegramChannel(settings=paced, redis=redis)
    sender = OutboundSender(
        channels={"telegram": channel}, redis=redis, policy=RetryPolicy.from_settings(paced)
    )
    yield OutboundWorker(sender=sender, events=events)
    await channel.aclose()


def test_copies_are_claimed_apart_from_direct_messages_oldest_first(session: Session) -> None:
    copies = _copies(session, 5)
    reply = _staff_reply(session, "555")
    now = utcnow()
    direct = claim_due(session=session, channels=["telegram"], now=now)
    assert [c.id for c in direct] == [reply.id]  # the copies are never in the direct claim
    first = claim_advisory_round(session=session, budgets={"telegram": 3}, now=now)
    assert ([c.id for c in first.messages], first.full) == ([m.id for m in copies[:3]], True)
    # leased copies are skipped by the next claim, which takes what is left
    rest = claim_advisory_round(session=session, budgets={"telegram": 3}, now=now)
    assert ([c.id for c in rest.messages], rest.full) == ([m.id for m in copies[3:]], False)
    assert claim_advisory_round(session=session, budgets={"telegram": 3}, now=now).messages == []
    # a round claimed ahead and never sent is given back, its lease not counted as a try
    release(session=session, ids=[c.id for c in rest.messages], now=now)
    session.expire_all()
    assert [session.get(OutboundMessage, m.id).attempts for m in copies[3:]] == [0, 0]  # type: ignore[union-attr]
    again = claim_advisory_round(session=session, budgets={"telegram": 3}, now=now)
    assert [c.id for c in again.messages] == [m.id for m in copies[3:]]


def test_a_channel_without_budget_gets_no_copies(session: Session) -> None:
    _copies(session, 2)
    claimed = claim_advisory_round(session=session, budgets={"zalo": 5}, now=utcnow())
    assert (claimed.messages, claimed.full) == ([], False)


async def test_a_reply_queued_during_a_fan_out_goes_first_in_the_next_round(
    session: Session, worker: OutboundWorker, telegram_fake: FakeTelegramAPI
) -> None:
    _copies(session, 3 * COPIES_PER_ROUND)
    first = await worker.deliver_due()
    assert (first.sent, first.more) == (COPIES_PER_ROUND, True)
    _staff_reply(session, "555")
    second = await worker.deliver_due()
    assert second.sent == COPIES_PER_ROUND + 1  # the reply, then a round of copies
    chats = [str(call.params["chat_id"]) for call in telegram_fake.sent()]
    assert chats[COPIES_PER_ROUND] == "555"
    assert "555" not in chats[:COPIES_PER_ROUND]


async def test_a_round_is_sent_concurrently_but_in_order_per_chat_and_once(
    session: Session, worker: OutboundWorker, telegram_fake: FakeTelegramAPI
) -> None:
    texts = [f"Trả lời số {n}" for n in range(3)]
    replies = [_staff_reply(session, "555", text) for text in texts]
    other = _staff_reply(session, "556")
    copies = _copies(session, 2 * COPIES_PER_ROUND)
    while (await worker.deliver_due()).more:
        pass
    await worker.deliver_due()  # nothing left: a round that sends nothing
    sent = telegram_fake.sent()
    assert [c.params["text"] for c in sent if str(c.params["chat_id"]) == "555"] == texts
    chats = [str(c.params["chat_id"]) for c in sent]
    assert sorted(chats) == sorted(["555"] * 3 + ["556"] + [m.address for m in copies])  # type: ignore[misc]
    session.expire_all()
    for message in [*replies, other, *copies]:
        row = session.get(OutboundMessage, message.id)
        assert row is not None
        assert (row.status, row.attempts) == (OutboundStatus.SENT, 1)


async def test_the_running_worker_sends_a_whole_fan_out_once_and_stops_cleanly(
    session: Session,
    worker: OutboundWorker,
    events: DeliveryEvents,
    telegram_fake: FakeTelegramAPI,
) -> None:
    copies = _copies(session, 3 * COPIES_PER_ROUND + 2)
    sent: set[int] = set()
    all_sent = asyncio.Event()

    def count(event: DeliveryStateChanged) -> None:
        if event.status == OutboundStatus.SENT:
            sent.add(event.message_id)
            if len(sent) == len(copies):
                all_sent.set()

    events.subscribe(count)
    task = asyncio.create_task(worker.run())
    async with asyncio.timeout(30):
        await all_sent.wait()
    worker.stop()
    await task
    chats = [str(c.params["chat_id"]) for c in telegram_fake.sent()]
    assert sorted(chats) == sorted(m.address for m in copies)  # type: ignore[misc]
    session.expire_all()
    statuses = {session.get(OutboundMessage, m.id).status for m in copies}  # type: ignore[union-attr]
    assert statuses == {OutboundStatus.SENT}


async def test_the_limiter_never_admits_more_than_the_limit_across_two_workers(
    redis: Any,
) -> None:
    rate = SendRate(per_second=20)
    # two workers' limiters: one Redis log between them
    limiters = [RateLimiter(redis, channel="telegram", rate=rate) for _ in range(2)]
    admitted = await asyncio.gather(*(limiters[n % 2].acquire(str(n)) for n in range(50)))
    times = sorted(admitted)

    def most_within(span: float) -> int:
        # a hair less than the span: a send admitted exactly when the oldest leaves is fine
        return max(sum(1 for t in times if start <= t < start + span - 1e-3) for start in times)

    assert most_within(1.0) <= 20
    assert most_within(0.1) <= 4  # a fifth of the limit in any tenth of a second
    assert times[-1] - times[0] >= 1.0  # 50 at 20/s cannot all go within one second
