"""Rasa's event broker on the real stack: messages in the web chat become counts per day,
intent and channel in the database (no text), which the dashboard's service reads."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from bot.db.base import utcnow
from bot.stats.models import IntentDailyCount
from bot.stats.service import intent_stats
from bot.web.templating import VIETNAM
from tests.e2e.conftest import LiveStack, say

pytestmark = pytest.mark.e2e


def counts(stack: LiveStack) -> tuple[Counter[tuple[str, str]], int]:
    """Today's (intent, channel) -> messages, and the messages not understood."""
    engine = create_engine(stack.database_url)
    try:
        with Session(engine) as session:
            rows = session.scalars(
                select(IntentDailyCount).where(
                    IntentDailyCount.day == utcnow().astimezone(VIETNAM).date()
                )
            ).all()
    finally:
        engine.dispose()
    return Counter({(r.intent, r.channel): r.messages for r in rows}), sum(
        r.not_understood for r in rows
    )


def test_messages_become_counts_without_their_text(live_stack: LiveStack) -> None:
    time.sleep(2.5)  # earlier tests' counts land first (the stack flushes every second)
    before, missed_before = counts(live_stack)
    messages = ["xét nghiệm covid ở đâu vậy", "qwxz vbnm plkj", "tiêm vắc xin mũi 3 ở đâu"]
    with live_stack.chat() as client:
        for message in messages:
            say(client, message)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        after, missed_after = counts(live_stack)
        if sum((after - before).values()) >= len(messages):
            break
        time.sleep(0.5)
    added = after - before
    assert sum(added.values()) == len(messages), added
    assert {channel for _intent, channel in added} == {"web"}
    assert added[("ask_testing", "web")] == 1
    assert added[("ask_vaccination", "web")] == 1
    assert missed_after - missed_before == 1  # the mashed keys

    engine = create_engine(live_stack.database_url)
    with engine.connect() as conn:
        dump = repr(conn.execute(text("SELECT * FROM intent_daily_counts")).all())
    with Session(engine) as session:
        today = utcnow().astimezone(VIETNAM).date()
        stats = intent_stats(session=session, first=today, last=today)
    engine.dispose()
    for message in messages:
        assert message not in dump
    assert "web:" not in dump
    assert stats.messages >= len(messages)
    assert "ask_testing" in {t.intent for t in stats.topics}
    assert "intent stats: could not write" not in live_stack.logs()
