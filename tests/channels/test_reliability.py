"""Every job ends in a reply, a recorded incident or a dead letter an operator can list and
replay: never a silent loss, never an endless retry. Malformed updates never reach the queue."""

from __future__ import annotations

import asyncio
import copy
import json

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from bot.channels.models import ChannelIncident
from bot.cli import app as cli
from bot.conversations.messages import InboundMessage
from bot.conversations.pipeline import ConversationPipeline
from bot.delivery.models import DeadJob
from bot.delivery.queue import Job, JobQueue
from bot.delivery.worker import JOB_MAX_ATTEMPTS, DeliveryWorker
from bot.outbound.models import OutboundMessage
from bot.outbound.policy import RetryPolicy
from bot.outbound.sender import ChannelPauses, OutboundSender
from connectors.telegram.channel import TelegramChannel
from tests.channels.conftest import (
    drained,
    fixture,
    running_app,
    telegram_headers,
    wait_for,
    zalo_headers,
)

pytestmark = pytest.mark.usefixtures("committed_db")


def _telegram(change) -> dict:  # type: ignore[no-untyped-def]
    body = copy.deepcopy(fixture("telegram/text_message.json"))
    change(body)
    return body


def _zalo(change) -> bytes:  # type: ignore[no-untyped-def]
    body = copy.deepcopy(fixture("zalo/user_send_text.json"))
    change(body)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    "body",
    [
        _telegram(lambda b: b["message"]["chat"].update(id="1111111")),
        _telegram(lambda b: b["message"]["chat"].update(id="abc")),
        _telegram(lambda b: b["message"].update(text=123)),
        _telegram(lambda b: b["message"].update(text={"a": 1})),
        _telegram(lambda b: b["message"].update(text=["xin", "chào"])),
        _telegram(lambda b: b["message"].update(chat={"id": 1111111})),
        _telegram(lambda b: b["message"].update(location={"latitude": "x", "longitude": 1})),
        _telegram(lambda b: b["message"].update(contact={"phone_number": 84912345678})),
    ],
    ids=[
        "chat-id-str",
        "chat-id-word",
        "text-num",
        "text-obj",
        "text-list",
        "no-type",
        "loc",
        "phone",
    ],
)
async def test_malformed_telegram_updates_get_400_and_nothing_is_queued(
    settings, redis, rasa_client, body
):
    quiet = settings.model_copy(update={"worker_in_process": False})
    async with running_app(quiet, redis, rasa_client) as (app, client):
        response = await client.post("/webhooks/telegram", json=body, headers=telegram_headers())
        assert response.status_code == 400
        assert "not a Telegram update" in response.json()["detail"]
        assert await app.state.queue.redis.xlen(app.state.queue.stream) == 0


@pytest.mark.parametrize(
    "body",
    [
        _zalo(lambda b: b["message"].update(text=123)),
        _zalo(lambda b: b["message"].update(text={"a": 1})),
        _zalo(lambda b: b.update(sender={"id": {"x": 1}})),
        _zalo(lambda b: b["message"].update(msg_id=["m"])),
    ],
    ids=["text-num", "text-obj", "sender-obj", "msg-id-list"],
)
async def test_malformed_zalo_events_get_400_and_nothing_is_queued(
    settings, redis, rasa_client, body
):
    quiet = settings.model_copy(update={"worker_in_process": False})
    async with running_app(quiet, redis, rasa_client) as (app, client):
        response = await client.post("/webhooks/zalo", content=body, headers=zalo_headers(body))
        assert response.status_code == 400
        assert await app.state.queue.redis.xlen(app.state.queue.stream) == 0


async def test_a_turn_cancelled_midway_is_answered_when_retried(
    settings, redis, rasa_client, telegram_fake, fake_rasa
):
    """The worker stops (deploy, Ctrl-C) while Rasa is thinking: the job stays pending, and
    the worker that takes it over runs the turn and sends the reply."""
    quick = settings.model_copy(update={"worker_claim_idle_seconds": 0.3})
    fake_rasa.hang_first = True
    queue = JobQueue(redis)
    await queue.ensure_group()
    channel = TelegramChannel(settings=quick, redis=redis)
    first = DeliveryWorker(
        settings=quick,
        queue=queue,
        pipeline=ConversationPipeline(settings=quick, rasa=rasa_client, redis=redis),
        sender=OutboundSender(
            channels={"telegram": channel}, redis=redis, policy=RetryPolicy.from_settings(quick)
        ),
    )
    running = asyncio.create_task(first.run())
    message = InboundMessage("telegram:4242", "xin chào", platform_message_id="7001")
    await queue.put(Job("turn", "telegram", "telegram:4242", message))
    await wait_for(lambda: len(fake_rasa.turns) == 1)
    await first.stop(timeout=0.05)  # the turn under way is cancelled
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    await channel.aclose()
    assert telegram_fake.sent() == []

    async with running_app(quick, redis, rasa_client) as (app, _):
        await wait_for(lambda: len(telegram_fake.sent()) == 1)
        await drained(app.state.queue)
    assert telegram_fake.sent()[0].params["text"] == "Đã nhận: xin chào"
    assert len(fake_rasa.turns) == 2


async def test_a_job_that_always_fails_becomes_a_dead_letter_then_is_replayed(
    settings, redis, rasa_client, telegram_fake, fake_rasa, committed_db: Engine
):
    quick = settings.model_copy(update={"worker_claim_idle_seconds": 0.3})
    fake_rasa.broken = True  # every turn raises in the worker
    runner = CliRunner()
    async with running_app(quick, redis, rasa_client) as (app, client):
        body = _telegram(lambda b: b["message"].update(text="cứu tôi"))
        await client.post("/webhooks/telegram", json=body, headers=telegram_headers())
        # tried JOB_MAX_ATTEMPTS times, then the resident hears the "busy" answer
        await wait_for(lambda: len(telegram_fake.sent()) == 1)
        await drained(app.state.queue)
        assert len(fake_rasa.turns) == JOB_MAX_ATTEMPTS
        assert "hệ thống đang bận" in telegram_fake.sent()[0].params["text"]
        with Session(committed_db) as session:
            dead = session.scalars(select(DeadJob)).one()
            assert (dead.attempts, dead.error) == (JOB_MAX_ATTEMPTS, "AttributeError")
            incident = session.scalars(select(ChannelIncident)).one()
            assert (incident.kind, incident.conversation_id) == ("job_failed", "telegram:1111111")
        listed = runner.invoke(cli, ["jobs", "dead", "--json"])
        assert listed.exit_code == 0, listed.output
        rows = json.loads(listed.output)
        assert [(r["id"], r["error"]) for r in rows] == [(dead.id, "AttributeError")]
        assert "cứu tôi" not in listed.output  # the message text is never shown

        fake_rasa.broken = False  # the cause is fixed; the operator replays the job
        replayed = runner.invoke(cli, ["jobs", "replay", str(dead.id)])
        assert replayed.exit_code == 0, replayed.output
        await wait_for(lambda: len(telegram_fake.sent()) == 2)
        await drained(app.state.queue)
    assert telegram_fake.sent()[1].params["text"] == "Đã nhận: cứu tôi"
    with Session(committed_db) as session:
        assert session.scalars(select(DeadJob)).all() == []


async def test_a_refused_bot_token_dead_letters_the_reply_instead_of_retrying(
    settings, redis, rasa_client, telegram_fake, committed_db: Engine
):
    telegram_fake.fail_next(401, times=50)
    runner = CliRunner()
    async with running_app(settings, redis, rasa_client) as (app, client):
        seen: list = []
        app.state.delivery_events.subscribe(seen.append)  # as the console will
        body = fixture("telegram/text_message.json")
        await client.post("/webhooks/telegram", json=body, headers=telegram_headers())
        await drained(app.state.queue)
        assert [(e.kind, e.status) for e in seen] == [("bot_reply", "dead")]
        assert len(telegram_fake.failures) == 49  # one try, not DELIVERY attempts × replies

        with Session(committed_db) as session:
            letter = session.scalars(select(OutboundMessage)).one()
            assert (letter.kind, letter.status, letter.conversation_id) == (
                "bot_reply",
                "dead",
                "telegram:1111111",
            )
            assert session.scalars(select(ChannelIncident.kind)).all() == ["auth_failed"]
        listed = runner.invoke(cli, ["outbound", "list", "--status", "dead", "--json"])
        assert [r["id"] for r in json.loads(listed.output)] == [letter.id]
        assert "Đã nhận" not in listed.output

        # the token is fixed: resume the channel and replay the dead letters
        telegram_fake.failures.clear()
        assert await ChannelPauses(redis).resume("telegram")
        replayed = runner.invoke(cli, ["outbound", "replay", "--all-dead"])
        assert replayed.exit_code == 0
        assert "1 message" in replayed.output
        await wait_for(lambda: len(telegram_fake.sent()) == 1)
        await wait_for(lambda: len(seen) == 2)
        assert (seen[1].message_id, seen[1].status) == (letter.id, "sent")
    assert telegram_fake.sent()[0].params["text"] == "Đã nhận: xin chao"


async def test_a_job_that_failed_once_is_tried_again_by_its_worker_within_seconds(
    settings, redis, rasa_client, telegram_fake, fake_rasa, committed_db: Engine
):
    # The take-over time is for workers that died; a blip (here: one broken answer) is over
    # long before it, and the same worker tries the job again after 2 s.
    slow_takeover = settings.model_copy(update={"worker_claim_idle_seconds": 120.0})
    fake_rasa.broken = True
    async with running_app(slow_takeover, redis, rasa_client) as (app, client):
        body = _telegram(lambda b: b["message"].update(text="hết gạo rồi"))
        await client.post("/webhooks/telegram", json=body, headers=telegram_headers())
        await wait_for(lambda: len(fake_rasa.turns) == 1)
        fake_rasa.broken = False
        await wait_for(lambda: len(telegram_fake.sent()) == 1, timeout=10)
        await drained(app.state.queue)
    assert len(fake_rasa.turns) == 2
    assert telegram_fake.sent()[0].params["text"] == "Đã nhận: hết gạo rồi"
