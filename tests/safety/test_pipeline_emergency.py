"""The pipeline's safety check: 115 first, the staff queue, Rasa never asked, forms kept,
and a failed hand-off logged at ERROR and sent to the staff group."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.audit.models import AuditEvent
from bot.conversations.messages import InboundMessage
from bot.conversations.pipeline import ConversationPipeline
from bot.conversations.rasa_client import RasaClient
from bot.db import session as db_session
from bot.handoff.emergency import wait_for_alerts
from bot.handoff.models import HandoffRequest
from bot.residents.models import Resident
from bot.settings import Settings
from tests.fakes import telegram_api
from tests.fakes.http import FakeServer
from tests.fakes.telegram_api import FakeTelegramAPI

CID = "telegram:4242"
STAFF_CHAT = "-100777"
FAINTED = "em gái tôi ngất xỉu trong phòng trọ"


class FakeRasa(FakeServer):
    """Rasa's REST channel and tracker endpoint (and the action server's /health, which the
    client asks first), recording the turns it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.turns: list[str] = []
        self.active_loop: str | None = None

    def handle(
        self, method: str, url: Any, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        import json

        if url.path == "/webhooks/rest/webhook":
            message = json.loads(body)["message"]
            with self.lock:
                self.turns.append(message)
            return 200, [{"recipient_id": "x", "text": "Rasa trả lời."}]
        if url.path == "/health":
            return 200, {"status": "ok"}
        if url.path.endswith("/tracker"):
            return 200, {"active_loop": {"name": self.active_loop} if self.active_loop else {}}
        return 404, {}


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa().start()
    yield fake
    fake.stop()


@pytest.fixture
def telegram() -> Iterator[FakeTelegramAPI]:
    fake = FakeTelegramAPI().start()
    yield fake
    fake.stop()


@pytest.fixture
async def pipeline(redis, fake_rasa, telegram) -> AsyncIterator[ConversationPipeline]:  # type: ignore[no-untyped-def]
    settings = Settings(
        rasa_url=fake_rasa.url,
        action_server_url=fake_rasa.url,
        telegram_bot_token=telegram_api.TOKEN,
        telegram_api_base_url=telegram.url,
        staff_telegram_chat_id=STAFF_CHAT,
    )
    rasa = RasaClient(settings)
    yield ConversationPipeline(settings=settings, rasa=rasa, redis=redis)
    await rasa.aclose()


@pytest.fixture
def broken_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every session the code opens talks to a database that cannot be opened."""
    engine = create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'hotline.db'}")
    monkeypatch.setattr(db_session, "get_sessionmaker", lambda: sessionmaker(bind=engine))


def emergency_handoffs(session: Session, cid: str = CID) -> list[str]:
    return list(
        session.scalars(
            select(HandoffRequest.reason).join(Resident).where(Resident.conversation_id == cid)
        )
    )


async def test_an_emergency_gets_115_first_and_a_handoff_without_asking_rasa(
    pipeline: ConversationPipeline, fake_rasa: FakeRasa, session: Session
) -> None:
    replies = await pipeline.handle(InboundMessage(CID, FAINTED))
    assert replies[0].text.startswith("Hãy gọi ngay 115")
    assert "nhân viên" in replies[1].text
    assert fake_rasa.turns == []  # the classifier-dependent path is never taken
    assert emergency_handoffs(session) == ["emergency"]
    audit = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "emergency_detected")
    ).one()
    assert audit.detail == {"category": "unconscious"}
    assert audit.actor == "safety"


async def test_ordinary_messages_still_go_to_rasa(
    pipeline: ConversationPipeline, fake_rasa: FakeRasa, session: Session
) -> None:
    replies = await pipeline.handle(InboundMessage(CID, "spo2 bao nhiêu là bình thường"))
    assert [r.text for r in replies] == ["Rasa trả lời."]
    assert fake_rasa.turns == ["spo2 bao nhiêu là bình thường"]
    assert emergency_handoffs(session) == []


async def test_in_the_middle_of_a_form_115_first_then_a_person_answers(
    pipeline: ConversationPipeline, fake_rasa: FakeRasa, session: Session
) -> None:
    fake_rasa.active_loop = "aid_request_form"
    replies = await pipeline.handle(InboundMessage(CID, "me toi kho tho qua"))
    assert replies[0].text.startswith("Hãy gọi ngay 115")
    assert fake_rasa.turns == []
    # The conversation is in the staff queue now: the next message goes to a person (the
    # transcript), not to the form in Rasa.
    await pipeline.handle(InboundMessage(CID, "gạo với mì"))
    assert fake_rasa.turns == []
    assert emergency_handoffs(session) == ["emergency"]


async def test_a_failed_handoff_is_logged_and_the_staff_group_alerted(
    pipeline: ConversationPipeline,
    telegram: FakeTelegramAPI,
    broken_database: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        replies = await pipeline.handle(InboundMessage(CID, FAINTED))
        await wait_for_alerts()
    assert replies[0].text.startswith("Hãy gọi ngay 115")
    assert "gọi ngay 115" in replies[1].text  # no promise that a person was told
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("EMERGENCY hand-off not recorded" in r.getMessage() for r in errors)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bot.")]  # httpx: WARNING
    assert ours
    assert not any(FAINTED in m or "4242" in m for m in ours)
    sent = telegram.sent()
    assert [c.params["chat_id"] for c in sent] == [STAFF_CHAT]
    assert CID in sent[0].params["text"]
    assert "bất tỉnh" in sent[0].params["text"]
    assert FAINTED not in sent[0].params["text"]


async def test_a_failed_handoff_without_a_staff_chat_still_answers_115_first(
    redis,
    fake_rasa: FakeRasa,
    broken_database: None,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    settings = Settings(
        rasa_url=fake_rasa.url, action_server_url=fake_rasa.url, staff_telegram_chat_id=""
    )
    rasa = RasaClient(settings)
    with caplog.at_level(logging.ERROR):
        replies = await ConversationPipeline(settings=settings, rasa=rasa, redis=redis).handle(
            InboundMessage(CID, "t muốn chết")
        )
        await wait_for_alerts()
    await rasa.aclose()
    assert replies[0].text.startswith("Hãy gọi ngay 115")
    messages = [r.getMessage() for r in caplog.records]
    assert any("STAFF_TELEGRAM_CHAT_ID" in m for m in messages)
