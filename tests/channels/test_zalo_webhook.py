"""The Zalo webhook: signature first (mac = sha256(app id + body + timestamp + OA key))."""

from __future__ import annotations

import hashlib
import json

import pytest

from bot.settings import Settings
from connectors.zalo import signature
from connectors.zalo.events import MalformedEvent, parse_event
from tests.channels.conftest import ZALO_OA_SECRET, fixture, running_app, zalo_headers
from tests.fakes.zalo_api import APP_ID

pytestmark = pytest.mark.usefixtures("committed_db")


def _raw(name: str) -> bytes:
    return json.dumps(fixture(name), ensure_ascii=False).encode()


@pytest.fixture
def webhook_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"worker_in_process": False})


async def _queued(app) -> int:  # type: ignore[no-untyped-def]
    return int(await app.state.queue.redis.xlen(app.state.queue.stream))


def test_signature_matches_the_documented_formula():
    body = b'{"event_name":"user_send_text","timestamp":"1764150000000"}'
    expected = hashlib.sha256(
        ("app" + body.decode() + "1764150000000" + "oa-key").encode()
    ).hexdigest()
    header = signature.signature_header(
        app_id="app", body=body, timestamp="1764150000000", oa_secret_key="oa-key"
    )
    assert header == f"mac={expected}"
    assert signature.verify(
        header, app_id="app", body=body, timestamp="1764150000000", oa_secret_key="oa-key"
    )
    # any byte of the body, the timestamp or the key changes it
    assert not signature.verify(
        header, app_id="app", body=body + b" ", timestamp="1764150000000", oa_secret_key="oa-key"
    )
    assert not signature.verify(
        header, app_id="app", body=body, timestamp="1764150000001", oa_secret_key="oa-key"
    )
    assert not signature.verify(
        header, app_id="app", body=body, timestamp="1764150000000", oa_secret_key="app-secret"
    )


@pytest.mark.parametrize("kind", ["missing", "forged", "other_key", "other_app"])
async def test_missing_or_forged_signature_is_refused(webhook_settings, redis, rasa_client, kind):
    body = _raw("zalo/user_send_text.json")
    headers = {
        "missing": {"Content-Type": "application/json"},
        "forged": {"X-ZEvent-Signature": "mac=" + "0" * 64},
        "other_key": zalo_headers(body, secret="not-our-key"),
        "other_app": zalo_headers(body, app_id="999"),
    }[kind]
    async with running_app(webhook_settings, redis, rasa_client) as (app, client):
        response = await client.post("/webhooks/zalo", content=body, headers=headers)
        assert response.status_code == (401 if kind == "missing" else 403)
        assert await _queued(app) == 0


async def test_replayed_event_is_queued_once(webhook_settings, redis, rasa_client):
    body = _raw("zalo/user_send_text.json")
    async with running_app(webhook_settings, redis, rasa_client) as (app, client):
        for _ in range(3):
            response = await client.post("/webhooks/zalo", content=body, headers=zalo_headers(body))
            assert response.status_code == 200
        assert await _queued(app) == 1
        job = (await app.state.queue.read("t", count=5, block_ms=10))[0][1]
        assert job.conversation_id == "zalo:246845883529197922"
        assert job.message.text == "xin chao"


async def test_old_events_are_refused_when_an_age_limit_is_set(settings, redis, rasa_client):
    strict = settings.model_copy(
        update={"worker_in_process": False, "zalo_webhook_max_age_seconds": 3600}
    )
    body = _raw("zalo/user_send_text.json")  # recorded sample: timestamp long past
    async with running_app(strict, redis, rasa_client) as (app, client):
        response = await client.post("/webhooks/zalo", content=body, headers=zalo_headers(body))
        assert response.status_code == 403
        assert await _queued(app) == 0


@pytest.mark.parametrize(
    "data",
    [
        {"timestamp": "1", "event_name": 5},
        {
            "timestamp": "1",
            "event_name": "user_send_text",
            "sender": {"id": "1"},
            "message": {"msg_id": 3},
        },
        {
            "timestamp": "1",
            "event_name": "user_send_text",
            "sender": "x",
            "message": {"msg_id": "3", "text": "a"},
        },
        {
            "timestamp": "1",
            "event_name": "user_send_location",
            "sender": {"id": "1"},
            "message": {
                "msg_id": "3",
                "attachments": [{"payload": {"coordinates": {"latitude": "abc", "longitude": 1}}}],
            },
        },
        {"timestamp": "1", "event_name": "follow", "follower": {"id": "../../etc"}},
    ],
)
async def test_wrong_types_get_400(webhook_settings, redis, rasa_client, data):
    body = json.dumps(data).encode()
    async with running_app(webhook_settings, redis, rasa_client) as (app, client):
        response = await client.post("/webhooks/zalo", content=body, headers=zalo_headers(body))
        assert response.status_code == 400
        assert await _queued(app) == 0


async def test_malformed_json_and_huge_bodies(webhook_settings, redis, rasa_client):
    async with running_app(webhook_settings, redis, rasa_client) as (app, client):
        headers = {"X-ZEvent-Signature": "mac=00"}
        assert (
            await client.post("/webhooks/zalo", content=b"{oops", headers=headers)
        ).status_code == 400
        assert (
            await client.post("/webhooks/zalo", content=b'{"a": 1}', headers=headers)
        ).status_code == 400
        big = b'{"timestamp": "1", "x": "' + b"a" * (5 * 1024 * 1024) + b'"}'
        assert (
            await client.post("/webhooks/zalo", content=big, headers=headers)
        ).status_code == 413
        assert await _queued(app) == 0


def test_recorded_samples_parse():
    text = parse_event(fixture("zalo/user_send_text.json"))
    assert text.event_id == "96d3cdf3af150460909"
    location = parse_event(fixture("zalo/user_send_location.json")).job.message.location
    assert (location.latitude, location.longitude) == (21.0285, 105.8542)
    assert parse_event(fixture("zalo/user_send_image.json")).job.message.attachments == ["image"]
    assert parse_event(fixture("zalo/follow.json")).job.kind == "replies"
    assert parse_event(fixture("zalo/unfollow.json")).job.kind == "unreachable"
    info = parse_event(fixture("zalo/user_submit_info.json")).job.message
    assert info.contact_phone == "84912345678"
    assert info.metadata == {"address": "12 Nguyễn Huệ"}
    assert parse_event({"event_name": "oa_send_text", "timestamp": "1"}).job is None
    with pytest.raises(MalformedEvent):
        parse_event({"event_name": "user_send_text"})


def test_fixture_app_id_is_the_test_app():
    assert fixture("zalo/user_send_text.json")["app_id"] == APP_ID
    assert ZALO_OA_SECRET
