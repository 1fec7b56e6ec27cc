"""The broker inside a real `rasa run` (Rasa 3.6.21 loads it from the endpoints file by its
class path): messages through the REST channel land as counts while it runs, and a clean stop
(SIGTERM) writes what is left. A tiny model (keywords and rules, trained in under a minute) so
this does not wait for the hotline's own model; tests/e2e/test_intent_stats_e2e.py runs the
whole stack."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.db.migrate import upgrade
from bot.stats.models import IntentDailyCount
from bot.training import RASA_BIN, rasa_env
from bot.web.templating import VIETNAM

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not RASA_BIN.exists(), reason="no Rasa environment"),
]

PROJECT = {
    "config.yml": {
        "recipe": "default.v1",
        "language": "vi",
        "assistant_id": "broker-test",
        "pipeline": [{"name": "WhitespaceTokenizer"}, {"name": "KeywordIntentClassifier"}],
        "policies": [{"name": "RulePolicy"}],
    },
    "domain.yml": {
        "version": "3.1",
        "intents": ["greet", "ask_testing"],
        "responses": {
            "utter_greet": [{"text": "Xin chào"}],
            "utter_testing": [{"text": "Trạm y tế phường"}],
        },
    },
    "data/nlu.yml": {
        "version": "3.1",
        "nlu": [
            {"intent": "greet", "examples": "- chào\n- xin chào\n"},
            {"intent": "ask_testing", "examples": "- xét nghiệm\n- test covid\n"},
        ],
    },
    "data/rules.yml": {
        "version": "3.1",
        "rules": [
            {"rule": "g", "steps": [{"intent": "greet"}, {"action": "utter_greet"}]},
            {"rule": "t", "steps": [{"intent": "ask_testing"}, {"action": "utter_testing"}]},
        ],
    },
}


# Long enough that a count written right after the stop can only come from the broker's close().
FLUSH_SECONDS = 45


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    for name, content in PROJECT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    subprocess.run(
        [str(RASA_BIN), "train", "--fixed-model-name", "tiny", "--out", "models"],
        cwd=root,
        env=rasa_env(),
        check=True,
        capture_output=True,
        timeout=600,
    )
    return root / "models" / "tiny.tar.gz"


@pytest.fixture
def rasa(tiny_model: Path, tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """`rasa run` with our broker on a migrated SQLite database."""
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        yaml.safe_dump(
            {
                "event_broker": {
                    "type": "hotline_nlu.stats_broker.IntentStatsBroker",
                    "flush_seconds": FLUSH_SECONDS,
                }
            }
        )
    )
    port = free_port()
    log = (tmp_path / "rasa.log").open("wb")
    process = subprocess.Popen(
        [
            str(RASA_BIN),
            "run",
            "--model",
            str(tiny_model),
            "--endpoints",
            str(endpoints),
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=tmp_path,
        env={**rasa_env(), "DATABASE_URL": url},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(base, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (tmp_path / "rasa.log").read_text()
            time.sleep(1)
        yield base, url, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        log.close()


def counts(url: str) -> dict[tuple[str, str], tuple[int, int]]:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            rows = session.scalars(
                select(IntentDailyCount).where(IntentDailyCount.day == datetime.now(VIETNAM).date())
            )
            return {(r.intent, r.channel): (r.messages, r.not_understood) for r in rows}
    finally:
        engine.dispose()


def say(base: str, sender: str, text: str) -> None:
    response = httpx.post(
        f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60
    )
    assert response.status_code == 200


def test_counts_land_while_rasa_runs_and_on_a_clean_stop(
    rasa: tuple[str, str, subprocess.Popen[bytes]],
) -> None:
    base, url, process = rasa
    say(base, "telegram:1", "chào")
    say(base, "telegram:1", "xét nghiệm")
    say(base, "zalo:2", "xét nghiệm")
    expected = {("greet", "telegram"): (1, 0), ("ask_testing", "telegram"): (1, 0)}
    expected[("ask_testing", "zalo")] = (1, 0)
    deadline = time.monotonic() + FLUSH_SECONDS + 30
    while counts(url) != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    assert counts(url) == expected

    say(base, "web:3", "chào")  # then stopped at once, well before the next flush
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert counts(url)[("greet", "web")] == (1, 0)
