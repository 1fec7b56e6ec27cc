"""Zalo end to end against the fake OpenAPI, reply-window errors, and OAuth token refresh."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channels.base import OutsideWindow
from bot.channels.models import ChannelIncident
from bot.conversations.messages import OutboundReply, ReplyButton
from bot.db.base import utcnow
from bot.residents.models import Resident
from connectors.zalo.channel import ZaloChannel
from connectors.zalo.tokens import TokenPair, TokenUnavailable, ZaloTokens, load_pair, save_pair
from tests.channels.conftest import drained, fixture, running_app, wait_for, zalo_headers

pytestmark = pytest.mark.usefixtures("committed_db")
USER = "246845883529197922"


def _event(name: str, **changes) -> bytes:  # type: ignore[no-untyped-def]
    data = copy.deepcopy(fixture(f"zalo/{name}.json"))
    message = changes.pop("message", None)
    data.update(changes)
    if message:
        data["message"].update(message)
    return json.dumps(data, ensure_ascii=False).encode()


async def _post(client, body: bytes) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/webhooks/zalo", content=body, headers=zalo_headers(body))
    assert response.status_code == 200


async def test_conversation_over_zalo(settings, redis, rasa_client, zalo_fake, fake_rasa):
    async with running_app(settings, redis, rasa_client) as (app, client):
        await _post(client, _event("follow"))
        await wait_for(lambda: len(zalo_fake.sent) == 1)
        assert zalo_fake.sent[0].user_id == USER
        assert "Cảm ơn bạn đã quan tâm" in zalo_fake.sent[0].text

        await _post(client, _event("user_send_text", message={"text": "buttons", "msg_id": "m1"}))
        await wait_for(lambda: len(zalo_fake.sent) == 2)
        assert zalo_fake.sent[1].text.startswith("Bạn cần gì?\n\n1. Hỏi đáp\n2. Gặp nhân viên")

        await _post(client, _event("user_send_text", message={"text": "2", "msg_id": "m2"}))
        await wait_for(lambda: len(zalo_fake.sent) == 3)
        assert fake_rasa.turns[-1]["message"] == "/human_handoff"

        await _post(client, _event("user_send_location", timestamp="1764150009000"))
        await wait_for(lambda: len(zalo_fake.sent) == 4)
        assert "Phường Hoàn Kiếm, Thành phố Hà Nội" in zalo_fake.sent[3].text
        await _post(client, _event("user_send_text", message={"text": "1", "msg_id": "m3"}))
        await wait_for(lambda: len(fake_rasa.turns) == 3)
        assert fake_rasa.turns[-1]["message"] == "Tôi ở Phường Hoàn Kiếm, Thành phố Hà Nội"

        await _post(client, _event("user_send_image"))
        await wait_for(lambda: len(zalo_fake.sent) == 6)
        assert "chỉ đọc được tin nhắn chữ" in zalo_fake.sent[5].text

        await _post(client, _event("user_submit_info"))
        await wait_for(lambda: len(fake_rasa.turns) == 4)
        assert fake_rasa.turns[-1]["message"] == "84912345678"
        assert fake_rasa.turns[-1]["metadata"] == {"address": "12 Nguyễn Huệ"}
        await wait_for(lambda: len(zalo_fake.sent) == 7)
        await drained(app.state.queue)
    # the first pair came from the settings with an unknown age, so it was refreshed once
    assert zalo_fake.refresh_calls == 1


async def test_unfollow_marks_the_resident_not_reachable(
    settings, redis, rasa_client, committed_db
):
    async with running_app(settings, redis, rasa_client) as (app, client):
        await _post(client, _event("unfollow"))

        def unreachable() -> bool:
            with Session(committed_db) as session:
                resident = session.scalar(
                    select(Resident).where(Resident.conversation_id == f"zalo:{USER}")
                )
                return resident is not None and resident.reachable is False

        await wait_for(unreachable)
        await _post(client, _event("follow", timestamp="1764150099000"))  # back again
        await wait_for(lambda: not unreachable())


def _fresh_pair(access: str = "access-0", refresh: str = "refresh-0", hours: int = 20) -> TokenPair:
    return TokenPair(access, refresh, utcnow() + timedelta(hours=hours))


async def test_long_texts_are_split_at_2000(settings, redis, zalo_fake):
    save_pair(_fresh_pair())
    channel = ZaloChannel(settings=settings, redis=redis)
    await channel.send(address=USER, reply=OutboundReply("chữ " * 900), context={})
    await channel.aclose()
    assert len(zalo_fake.sent) == 2
    assert all(len(s.text) <= 2000 for s in zalo_fake.sent)


async def test_outside_the_reply_window_is_recorded_not_retried(
    settings, redis, rasa_client, zalo_fake, committed_db
):
    save_pair(_fresh_pair())
    zalo_fake.error_codes = [-230]
    async with running_app(settings, redis, rasa_client) as (app, client):
        await _post(client, _event("user_send_text", message={"text": "xin chào", "msg_id": "w1"}))

        def recorded() -> bool:
            with Session(committed_db) as session:
                return session.scalar(select(ChannelIncident)) is not None

        await wait_for(recorded)
        with Session(committed_db) as session:
            incident = session.scalars(select(ChannelIncident)).one()
            assert (incident.kind, incident.code, incident.conversation_id) == (
                "outside_window",
                "-230",
                f"zalo:{USER}",
            )
        await drained(app.state.queue)
        assert zalo_fake.sent == []  # no retry after -230
        assert zalo_fake.error_codes == []


@pytest.mark.parametrize("code", [-213, -305])
async def test_other_window_codes(settings, redis, zalo_fake, code):
    save_pair(_fresh_pair())
    zalo_fake.error_codes = [code]
    channel = ZaloChannel(settings=settings, redis=redis)
    with pytest.raises(OutsideWindow):
        await channel.send(address=USER, reply=OutboundReply("a"), context={})
    await channel.aclose()


async def test_rate_limit_and_expired_token_are_retried(settings, redis, rasa_client, zalo_fake):
    save_pair(_fresh_pair())
    zalo_fake.error_codes = [-32]
    zalo_fake.http_failures = [503]
    zalo_fake.valid_access = {"access-other"}  # the stored token was revoked: -216
    zalo_fake.valid_refresh = {"refresh-0"}
    async with running_app(settings, redis, rasa_client) as (_, client):
        await _post(client, _event("user_send_text", message={"text": "xin chào", "msg_id": "r1"}))
        await wait_for(lambda: len(zalo_fake.sent) == 1)
    assert zalo_fake.refresh_calls == 1
    assert load_pair().refresh_token in zalo_fake.valid_refresh


async def test_no_reply_lost_when_30_percent_of_sends_fail(settings, redis, rasa_client, zalo_fake):
    save_pair(_fresh_pair())
    zalo_fake.random_failure_rate = 0.3
    users, per_user = 20, 3
    async with running_app(settings, redis, rasa_client) as (app, client):
        for turn in range(per_user):
            for user in range(users):
                body = _event(
                    "user_send_text",
                    sender={"id": str(7000 + user)},
                    message={"text": f"tin {turn} của {user}", "msg_id": f"x{turn}-{user}"},
                )
                await _post(client, body)
        await wait_for(lambda: len(zalo_fake.sent) >= users * per_user, timeout=60)
        await drained(app.state.queue)
        delivered = [(s.user_id, s.text) for s in zalo_fake.sent]
        expected = {
            (str(7000 + u), f"Đã nhận: tin {t} của {u}")
            for u in range(users)
            for t in range(per_user)
        }
        assert set(delivered) == expected and len(delivered) == len(expected)


def _refresh_in_own_loop(settings, results: list, barrier: threading.Barrier) -> None:  # type: ignore[no-untyped-def]
    async def main() -> str:
        tokens = ZaloTokens(settings=settings)
        try:
            barrier.wait()
            return await tokens.access_token()
        finally:
            await tokens.aclose()

    results.append(asyncio.run(main()))


def test_refresh_race_between_two_workers_ends_with_one_valid_pair(settings, zalo_fake):
    save_pair(_fresh_pair(hours=0))  # due now
    zalo_fake.refresh_delay = 0.3  # both workers see the pair as due before either stores one
    results: list[str] = []
    barrier = threading.Barrier(2)
    workers = [
        threading.Thread(target=_refresh_in_own_loop, args=(settings, results, barrier))
        for _ in range(2)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert zalo_fake.refresh_calls == 1  # the single-use refresh token was used once
    stored = load_pair()
    assert stored.refresh_token in zalo_fake.valid_refresh
    assert stored.access_token in zalo_fake.valid_access
    assert results == [stored.access_token, stored.access_token]


async def test_failed_refresh_alerts_the_admins(settings, zalo_fake, committed_db, caplog):
    save_pair(_fresh_pair(refresh="refresh-stolen", hours=0))
    tokens = ZaloTokens(settings=settings)
    with caplog.at_level(logging.ERROR), pytest.raises(TokenUnavailable):
        await tokens.access_token()
    await tokens.aclose()
    assert any(
        "refresh failed" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR
    )
    with Session(committed_db) as session:
        incident = session.scalars(select(ChannelIncident)).one()
        assert incident.kind == "token_refresh_failed"
    # the lease is released: a later refresh can try again
    zalo_fake.valid_refresh.add("refresh-stolen")
    tokens = ZaloTokens(settings=settings)
    assert await tokens.access_token() == "access-1"
    await tokens.aclose()


async def test_buttons_become_numbered_choices(settings, redis, zalo_fake):
    save_pair(_fresh_pair())
    channel = ZaloChannel(settings=settings, redis=redis)
    reply = OutboundReply("Chọn:", [ReplyButton("Có", "/affirm"), ReplyButton("Không", "/deny")])
    await channel.send(address=USER, reply=reply, context={})
    await channel.aclose()
    assert zalo_fake.sent[0].text == "Chọn:\n\n1. Có\n2. Không\n(Bạn trả lời bằng số, ví dụ: 1)"


async def test_a_number_answers_the_last_choices_only(settings, redis, zalo_fake):
    from connectors.zalo.choices import resolve_choice

    save_pair(_fresh_pair())
    channel = ZaloChannel(settings=settings, redis=redis)
    conversation = f"zalo:{USER}"
    choices = OutboundReply("Chọn:", [ReplyButton("Có", "/affirm"), ReplyButton("Không", "/deny")])
    await channel.send(address=USER, reply=choices, context={"job_id": "1-0"})
    assert await resolve_choice(redis, conversation, "2") == "/deny"
    assert await resolve_choice(redis, conversation, "3") is None
    assert await resolve_choice(redis, conversation, "22") is None
    # a later reply in the same turn keeps them; a question in the next turn drops them
    await channel.send(address=USER, reply=OutboundReply("Thêm"), context={"job_id": "1-0"})
    assert await resolve_choice(redis, conversation, "1") == "/affirm"
    question = OutboundReply("Nhà bạn có mấy người?")
    await channel.send(address=USER, reply=question, context={"job_id": "2-0"})
    assert await resolve_choice(redis, conversation, "2") is None
    await channel.aclose()


async def test_a_refused_refresh_token_pauses_zalo_instead_of_retrying(
    settings, redis, rasa_client, zalo_fake, committed_db
):
    """The stored pair expired and Zalo refuses its refresh token: every send would fail the
    same way, so the channel is paused with an alert and the replies wait as dead letters."""
    from bot.outbound.models import OutboundMessage

    save_pair(_fresh_pair(refresh="refresh-revoked", hours=0))
    async with running_app(settings, redis, rasa_client) as (app, client):
        for n in range(2):
            await _post(
                client, _event("user_send_text", message={"text": f"tin {n}", "msg_id": f"a{n}"})
            )
        await drained(app.state.queue)
    assert zalo_fake.sent == []
    assert zalo_fake.refresh_calls == 1  # one refused refresh, not one per reply and retry
    with Session(committed_db) as session:
        kinds = sorted(session.scalars(select(ChannelIncident.kind)))
        assert kinds == ["auth_failed", "token_refresh_failed"]
        letters = session.scalars(select(OutboundMessage)).all()
        assert [(m.kind, m.status) for m in letters] == [("bot_reply", "dead")] * 2
