"""Rasa's own `emergency` intent agrees with the safety layer: 115 and a hand-off only when the
rules fire or the resident confirms; a short check (and the SpO2 answer) otherwise."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from actions.handoff import ActionEmergency
from bot.handoff.emergency import wait_for_alerts
from bot.settings import get_settings
from tests.fakes import telegram_api
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.safety.test_pipeline_emergency import (  # noqa: F401 (fixture)
    STAFF_CHAT,
    broken_database,
)
from tests.unit.test_actions import handoff_reasons, run, tracker, user


@pytest.mark.parametrize(
    "text", ["spo2 bao nhiêu là bình thường", "mua máy đo spo2 ở đâu", "spo2 của tôi 98"]
)
async def test_a_question_about_spo2_gets_an_answer_not_a_false_alarm(
    session: Session, text: str
) -> None:
    messages, _ = await run(ActionEmergency, tracker(user("emergency", text)))
    assert messages[0]["text"].startswith("Bạn hoặc người thân có đang gặp nguy hiểm không?")
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/emergency"]
    assert "SpO2 dưới 94%" in messages[1]["text"]
    assert handoff_reasons(session) == []


async def test_the_classifier_alone_gets_the_check_question(session: Session) -> None:
    messages, _ = await run(ActionEmergency, tracker(user("emergency", "hỏi về khó thở sau tiêm")))
    assert len(messages) == 1 and "gọi ngay 115" in messages[0]["text"]
    assert handoff_reasons(session) == []


async def test_confirming_the_danger_escalates(session: Session) -> None:
    messages, _ = await run(ActionEmergency, tracker(user("emergency", "/emergency")))
    assert messages[0]["text"].startswith("Hãy gọi ngay 115")
    assert handoff_reasons(session) == ["emergency"]


@pytest.fixture
def staff_chat(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTelegramAPI]:
    """The action server's settings (read from the environment) point at a fake Telegram."""
    fake = FakeTelegramAPI().start()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", telegram_api.TOKEN)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", fake.url)
    monkeypatch.setenv("STAFF_TELEGRAM_CHAT_ID", STAFF_CHAT)
    get_settings.cache_clear()
    yield fake
    get_settings.cache_clear()
    fake.stop()


async def test_with_the_database_down_the_action_says_115_first_and_alerts_staff(
    broken_database: None,  # noqa: F811
    staff_chat: FakeTelegramAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        messages, _ = await run(ActionEmergency, tracker(user("emergency", "ba tôi co giật")))
        await wait_for_alerts()
    assert messages[0]["text"].startswith("Hãy gọi ngay 115")
    assert any("EMERGENCY hand-off not recorded" in r.getMessage() for r in caplog.records)
    assert [c.params["chat_id"] for c in staff_chat.sent()] == [STAFF_CHAT]
