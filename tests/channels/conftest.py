"""Fixtures for the channel tests: the fakes, settings pointing at them, a fake Rasa, the app."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import sessionmaker

from bot.channels.models import ChannelIncident, ChannelToken
from bot.console.content import DAYS
from bot.conversations.rasa_client import RasaClient
from bot.db import session as db_session
from bot.delivery.models import DeadJob
from bot.outbound.models import OutboundMessage
from bot.residents.models import Resident
from bot.settings import PROJECT_ROOT, Settings
from tests.fakes import telegram_api, zalo_api
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.zalo_api import FakeZaloAPI

FIXTURES = Path(__file__).parent.parent / "fixtures"
TELEGRAM_SECRET = "tg-webhook-secret_1"
ZALO_OA_SECRET = "zalo-oa-secret-key"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def telegram_fake() -> Iterator[FakeTelegramAPI]:
    fake = FakeTelegramAPI().start()
    yield fake
    fake.stop()


@pytest.fixture
def zalo_fake() -> Iterator[FakeZaloAPI]:
    fake = FakeZaloAPI().start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(
    telegram_fake: FakeTelegramAPI, zalo_fake: FakeZaloAPI, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    # The shipped content, with staff answering around the clock: a console test must not
    # depend on the hour it runs at (outside hours the resident gets a notice first).
    content = tmp_path_factory.mktemp("content")
    shutil.copytree(PROJECT_ROOT / "data" / "content", content, dirs_exist_ok=True)
    days = "\n".join(f'  {day}: "00:00-23:59"' for day in DAYS)
    (content / "staff_hours.yml").write_text(
        f"timezone: Asia/Ho_Chi_Minh\ndays:\n{days}\n", encoding="utf-8"
    )
    return Settings(
        content_dir=content,
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        telegram_bot_token=telegram_api.TOKEN,
        telegram_webhook_secret=TELEGRAM_SECRET,
        telegram_api_base_url=telegram_fake.url,
        telegram_bot_username="hotline_test_bot",
        telegram_chat_interval_seconds=0.01,
        zalo_app_id=zalo_api.APP_ID,
        zalo_app_secret=zalo_api.APP_SECRET,
        zalo_oa_secret_key=ZALO_OA_SECRET,
        zalo_access_token="access-0",
        zalo_refresh_token="refresh-0",
        zalo_api_base_url=zalo_fake.url,
        zalo_oauth_base_url=zalo_fake.url,
        zalo_webhook_max_age_seconds=0,
        outbound_backoff_base_seconds=0.01,
        outbound_backoff_max_seconds=0.05,
        rasa_url="http://rasa.test",
    )


class FakeRasa:
    """Rasa's REST channel answer: echoes the message, with buttons when asked."""

    def __init__(self) -> None:
        self.turns: list[dict[str, Any]] = []
        self.broken = False  # answers 200 with a body that is not REST channel output
        self.hang_first = False  # the first turn never answers (until cancelled)

    async def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/health":  # the action server
            return httpx.Response(200)
        body = json.loads(request.content)
        self.turns.append(body)
        if self.hang_first and len(self.turns) == 1:
            await asyncio.Event().wait()
        if self.broken:
            return httpx.Response(200, json=["not a bot message"])
        text = body["message"]
        if text == "buttons":
            return httpx.Response(
                200,
                json=[
                    {
                        "recipient_id": body["sender"],
                        "text": "Bạn cần gì?",
                        "buttons": [
                            {"title": "Hỏi đáp", "payload": "/ask_testing"},
                            {"title": "Gặp nhân viên", "payload": "/human_handoff"},
                        ],
                    }
                ],
            )
        if text == "phone":
            return httpx.Response(
                200,
                json=[
                    {
                        "recipient_id": body["sender"],
                        "text": "Bạn cho tôi số điện thoại nhé.",
                        "buttons": [{"title": "Gửi số điện thoại", "payload": "/share_phone"}],
                    }
                ],
            )
        return httpx.Response(
            200, json=[{"recipient_id": body["sender"], "text": f"Đã nhận: {text}"}]
        )


@pytest.fixture
def fake_rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
def rasa_client(settings: Settings, fake_rasa: FakeRasa) -> RasaClient:
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(fake_rasa.handler), base_url=settings.rasa_url
    )
    return RasaClient(settings, client=client)


@pytest.fixture
def committed_db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """Sessions that really commit (worker threads and "other processes" share them);
    the channel tables are emptied afterwards."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    monkeypatch.setattr(db_session, "get_sessionmaker", lambda: factory)
    yield engine
    with engine.begin() as conn:
        for model in (ChannelIncident, ChannelToken, DeadJob, OutboundMessage, Resident):
            conn.execute(delete(model))


@asynccontextmanager
async def running_app(
    settings: Settings, redis: Any, rasa: RasaClient
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The web app with its lifespan (and, per settings, its worker) running."""
    from bot.web.app import create_app

    app = create_app(settings, redis=redis, rasa=rasa)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as client:
            yield app, client


def zalo_headers(
    body: bytes, *, app_id: str = zalo_api.APP_ID, secret: str = ZALO_OA_SECRET
) -> dict[str, str]:
    from connectors.zalo.events import event_timestamp
    from connectors.zalo.signature import signature_header

    timestamp = event_timestamp(json.loads(body))
    return {
        "Content-Type": "application/json",
        "X-ZEvent-Signature": signature_header(
            app_id=app_id, body=body, timestamp=timestamp, oa_secret_key=secret
        ),
    }


def telegram_headers(secret: str = TELEGRAM_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}


async def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:  # noqa: ASYNC109 — the caller's bound on a wait, not a per-call timeout
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def drained(queue: Any, timeout: float = 15.0) -> None:  # noqa: ASYNC109 — the caller's bound on a wait, not a per-call timeout
    """Waits until the worker has acknowledged every job (a send is recorded by the fake
    before the worker hears back and acknowledges)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await queue.pending_count() or await queue.redis.xlen(queue.stream):
        if loop.time() > deadline:
            raise AssertionError("jobs still pending")
        await asyncio.sleep(0.02)
