"""The Rasa event broker that counts intents (hotline_nlu/stats_broker.py), run for real in the
Rasa environment (a subprocess: Python 3.10, SQLAlchemy 1.4, psycopg2) against a real database
migrated by our Alembic migrations (the suite's `db_url`: SQLite, and PostgreSQL when
HOTLINE_TEST_POSTGRES_URL is set); the counts are read back through the web app's model and
service. The broker commits, so these tests use days of their own (2031) and tidy up today's."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, select, text
from sqlalchemy.orm import Session

from bot.db.migrate import upgrade
from bot.settings import PROJECT_ROOT
from bot.stats.models import IntentDailyCount
from bot.stats.service import intent_stats
from bot.training import RASA_PYTHON, rasa_env
from bot.web.templating import VIETNAM

DRIVER = Path(__file__).with_name("broker_driver.py")

pytestmark = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="no Rasa environment")


class Broker:
    """The driver process in the Rasa environment, one command at a time."""

    def __init__(self) -> None:
        env = rasa_env()
        self.process = subprocess.Popen(
            [str(RASA_PYTHON), str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=PROJECT_ROOT,
        )
        assert self._read() == {"ready": True}

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            assert self.process.stderr is not None
            raise AssertionError(f"broker driver ended: {self.process.stderr.read()[-3000:]}")
        return dict(json.loads(line))

    def send(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer = self._read()
        assert "error" not in answer, answer
        return answer

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    """One driver process for the module (starting Rasa's imports takes seconds)."""
    driver = Broker()
    yield driver
    driver.stop()


def noon(day: date) -> float:
    return datetime(day.year, day.month, day.day, 12, tzinfo=VIETNAM).timestamp()


def user(sender: str, intent: str, at: float, text: str = "xin chào") -> dict[str, Any]:
    """A `user` event as Rasa publishes it (with the conversation id and the message text)."""
    return {
        "sender_id": sender,
        "event": "user",
        "timestamp": at,
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.9},
            "entities": [],
            "text": text,
        },
        "input_channel": "rest",
        "message_id": uuid.uuid4().hex,
        "metadata": {},
    }


def action(sender: str, name: str, at: float) -> dict[str, Any]:
    return {"sender_id": sender, "event": "action", "name": name, "timestamp": at}


def rows(url: str, day: date) -> dict[tuple[str, str], tuple[int, int]]:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            found = session.scalars(select(IntentDailyCount).where(IntentDailyCount.day == day))
            return {(r.intent, r.channel): (r.messages, r.not_understood) for r in found}
    finally:
        engine.dispose()


def test_counts_per_day_intent_and_channel_without_text_or_ids(broker: Broker, db_url: str) -> None:
    day = date(2031, 3, 1)
    now = noon(day)
    broker.send(open={"url": db_url, "now": now})
    events = [
        user("web:a1", "greet", now),
        action("web:a1", "utter_greet", now),
        action("web:a1", "action_listen", now),
        user("telegram:42", "ask_testing", now, "xet nghiem o dau, sdt 0912345678"),
        action("telegram:42", "action_listen", now),
        # The FallbackClassifier's answer: not understood by its intent alone.
        user("zalo:9", "nlu_fallback", now, "Nguyễn Văn An hỏi linh tinh"),
        action("zalo:9", "action_handle_fallback", now),
        action("zalo:9", "action_listen", now),
        # A form answer outside a form: the bot answers with the fallback action.
        user("web:b2", "inform", now),
        action("web:b2", "action_handle_fallback", now),
        action("web:b2", "action_listen", now),
        # History written again (a trimmed tracker replaced through the HTTP API): not counted.
        user("telegram:42", "ask_testing", now - 3600),
        # A name that is no intent never reaches the table as such.
        user("messenger:1", "x'); DROP TABLE intent_daily_counts; --", now),
    ]
    for event in events:
        broker.send(publish=event)
    assert broker.send(flush=True)["written"] == 5
    assert rows(db_url, day) == {
        ("greet", "web"): (1, 0),
        ("ask_testing", "telegram"): (1, 0),
        ("nlu_fallback", "zalo"): (1, 1),
        ("inform", "web"): (1, 1),
        ("unknown", "other"): (1, 0),
    }

    # Later flushes add to the same rows.
    broker.send(publish=user("telegram:7", "ask_testing", now + 60))
    broker.send(publish=user("telegram:8", "ask_testing", now + 61))
    assert broker.send(flush=True)["written"] == 1
    assert broker.send(flush=True)["written"] == 0  # nothing new
    assert rows(db_url, day)[("ask_testing", "telegram")] == (3, 0)

    # Nothing personal in the table: no text, no conversation id.
    engine = create_engine(db_url)
    with engine.connect() as conn:
        dump = repr(conn.execute(text("SELECT * FROM intent_daily_counts")).all())
    engine.dispose()
    for secret in ("0912345678", "Nguyễn", "telegram:42", "web:a1", "xin chào", "DROP"):
        assert secret not in dump

    # What the web app reads from it.
    engine = create_engine(db_url)
    with Session(engine) as session:
        stats = intent_stats(session=session, first=day, last=day)
    engine.dispose()
    assert (stats.messages, stats.not_understood) == (7, 2)
    assert [(t.intent, t.label, t.messages) for t in stats.topics] == [
        ("ask_testing", "Xét nghiệm", 3)
    ]
    broker.send(close=True)


def test_the_day_is_vietnams(broker: Broker, db_url: str) -> None:
    # 23:30 UTC on 1 April is 06:30 on 2 April in Vietnam.
    at = datetime.fromisoformat("2031-04-01T23:30:00+00:00").timestamp()
    broker.send(open={"url": db_url, "now": at})
    broker.send(publish=user("web:c", "ask_vaccination", at))
    broker.send(close=True)  # Rasa's shutdown writes what is left
    assert rows(db_url, date(2031, 4, 1)) == {}
    assert rows(db_url, date(2031, 4, 2)) == {("ask_vaccination", "web"): (1, 0)}


def test_counts_wait_while_the_table_cannot_be_written(
    broker: Broker, tmp_path: Path, db_url: str
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the same path on SQLite is enough")
    url = f"sqlite:///{tmp_path / 'later.db'}"
    at = noon(date(2031, 5, 1))
    broker.send(open={"url": url, "now": at})
    broker.send(publish=user("web:d", "ask_hotline", at))
    assert broker.send(flush=True)["written"] == 0  # no table yet: kept, not lost
    upgrade(url)
    broker.send(publish=user("web:e", "ask_hotline", at))
    assert broker.send(flush=True)["written"] == 1
    assert rows(url, date(2031, 5, 1)) == {("ask_hotline", "web"): (2, 0)}
    broker.send(close=True)


def test_the_background_thread_writes_and_a_kill_loses_at_most_one_interval(db_url: str) -> None:
    """With the real clock: counts land within the flush interval, and a kill -9 loses only
    what came after the last flush."""
    driver = Broker()
    try:
        today = datetime.now(VIETNAM).date()
        driver.send(open={"url": db_url, "flush_seconds": 0.5})
        driver.send(publish=user("zalo:k1", "ask_return_home", time.time()))
        deadline = time.monotonic() + 10
        while not rows(db_url, today) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rows(db_url, today) == {("ask_return_home", "zalo"): (1, 0)}
        driver.process.send_signal(signal.SIGKILL)
    finally:
        driver.stop()
    assert rows(db_url, today) == {("ask_return_home", "zalo"): (1, 0)}
    # Tidy for the module's other tests (they use 2031).
    engine = create_engine(db_url)
    with Session(engine) as session, session.begin():
        session.execute(delete(IntentDailyCount).where(IntentDailyCount.day == today))
    engine.dispose()
