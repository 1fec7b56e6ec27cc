"""The outbox worker delivers team notifications at least once, after Telegram comes back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.outbox.models import OutboxMessage, OutboxStatus
from bot.outbox.worker import MAX_ATTEMPTS, TelegramSender, backoff, deliver_due
from bot.requests.service import submit_aid_request
from tests.fakes.telegram import fake_telegram
from tests.requests.factories import BEN_THANH, aid_in, conversation_id, make_team

TOKEN = "123456:TEST-token"


def _aware(value: datetime) -> datetime:
    """SQLite gives back naive datetimes (stored as UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _outbox(session: Session, request_id: int) -> OutboxMessage:
    session.expire_all()
    message = session.scalar(
        select(OutboxMessage).where(OutboxMessage.aid_request_id == request_id)
    )
    assert message is not None
    return message


async def test_delivers_once_and_marks_sent(session: Session) -> None:
    make_team(session, slug="w-ben-thanh", wards=[BEN_THANH], chat="-1001")
    request = submit_aid_request(
        session=session, conversation_id=conversation_id(), data=aid_in()
    ).request
    with fake_telegram() as telegram:
        sender = TelegramSender(TOKEN, telegram.base_url)
        report = await deliver_due(sender=sender)
        again = await deliver_due(sender=sender)
        await sender.aclose()
    assert (report.sent, report.failed) == (1, 0)
    assert (again.sent, again.failed) == (0, 0)  # already sent: not sent twice
    sent = telegram.sent()
    assert len(sent) == 1 and sent[0]["chat_id"] == "-1001"
    assert "Đề nghị hỗ trợ mới" in sent[0]["text"]
    message = _outbox(session, request.id)
    assert message.status == OutboxStatus.SENT and message.sent_at is not None


async def test_retries_with_backoff_until_telegram_is_back(session: Session) -> None:
    make_team(session, slug="w-ben-thanh-2", wards=[BEN_THANH], chat="-1002")
    request = submit_aid_request(
        session=session, conversation_id=conversation_id(), data=aid_in()
    ).request
    clock = [utcnow()]
    with fake_telegram() as telegram:
        sender = TelegramSender(TOKEN, telegram.base_url)
        telegram.failing = True
        down = await deliver_due(sender=sender, now=lambda: clock[0])
        message = _outbox(session, request.id)
        assert (down.sent, down.failed) == (0, 1)
        assert message.status == OutboxStatus.PENDING and message.attempts == 1
        assert message.last_error and _aware(message.next_attempt_at) > clock[0]
        # Not due yet: nothing is tried.
        telegram.failing = False
        early = await deliver_due(sender=sender, now=lambda: clock[0])
        assert (early.sent, early.failed) == (0, 0)
        # Later, Telegram is back: delivered.
        clock[0] = clock[0] + timedelta(minutes=11)
        back = await deliver_due(sender=sender, now=lambda: clock[0])
        await sender.aclose()
    assert (back.sent, back.failed) == (1, 0)
    assert len(telegram.sent()) == 1
    message = _outbox(session, request.id)
    assert message.status == OutboxStatus.SENT and message.attempts == 2


async def test_gives_up_after_max_attempts(session: Session) -> None:
    make_team(session, slug="w-ben-thanh-3", wards=[BEN_THANH], chat="-1003")
    request = submit_aid_request(
        session=session, conversation_id=conversation_id(), data=aid_in()
    ).request
    clock = [utcnow()]
    with fake_telegram() as telegram:
        telegram.failing = True
        sender = TelegramSender(TOKEN, telegram.base_url)
        for _ in range(MAX_ATTEMPTS):
            await deliver_due(sender=sender, now=lambda: clock[0])
            clock[0] = clock[0] + timedelta(hours=1)
        await sender.aclose()
    message = _outbox(session, request.id)
    assert message.status == OutboxStatus.FAILED and message.attempts == MAX_ATTEMPTS


def test_backoff_grows_and_is_capped() -> None:
    assert backoff(1) < backoff(3) < backoff(6)
    assert backoff(30).total_seconds() <= 660


async def test_the_worker_loop_delivers_and_stops(session: Session) -> None:
    import asyncio

    from pydantic import SecretStr

    from bot.outbox.worker import run_worker
    from bot.settings import Settings

    make_team(session, slug="w-loop", wards=[BEN_THANH], chat="-1004")
    request = submit_aid_request(
        session=session, conversation_id=conversation_id(), data=aid_in()
    ).request
    with fake_telegram() as telegram:
        settings = Settings(
            telegram_bot_token=SecretStr(TOKEN),
            telegram_api_base_url=telegram.base_url,
            outbox_poll_seconds=0.05,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(run_worker(settings=settings, stop=stop))
        for _ in range(200):
            if telegram.sent():
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    assert len(telegram.sent()) == 1
    assert _outbox(session, request.id).status == OutboxStatus.SENT


async def test_without_a_token_the_worker_leaves_notices_in_the_outbox(session: Session) -> None:
    import asyncio

    from bot.outbox.worker import run_worker
    from bot.settings import Settings

    make_team(session, slug="w-no-token", wards=[BEN_THANH], chat="-1005")
    request = submit_aid_request(
        session=session, conversation_id=conversation_id(), data=aid_in()
    ).request
    await asyncio.wait_for(
        run_worker(settings=Settings(telegram_bot_token=None), stop=asyncio.Event()), timeout=5
    )
    assert _outbox(session, request.id).status == OutboxStatus.PENDING
