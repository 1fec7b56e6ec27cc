"""Rasa's log keeps no resident's words (hotline_nlu/rasa_logs.py), run in the rasa environment
with Rasa's own logging set-up: the REST channel's failure event, as Rasa logs it when its
stores are unreachable, before and after our processor is installed."""

from __future__ import annotations

import subprocess

import pytest

from bot.settings import PROJECT_ROOT
from bot.training import RASA_PYTHON, rasa_env

PHRASE = "nhà tôi ở hẻm con cá vàng"
PHONE = "0912345678"

# What rasa/core/channels/rest.py does when a turn raises: `structlogger.exception(...)` with
# the message, inside the `except` (the traceback's frames hold the message in their locals).
_SCRIPT = """
import sys
from rasa.utils.log_utils import configure_structlog
configure_structlog()
from rasa.core.channels.rest import structlogger

def turn(text):
    raise ConnectionError("Error 111 connecting to 127.0.0.1:1. " + text)

def failing_turn(text):
    try:
        turn(text)
    except Exception:
        structlogger.exception("rest.message.received.failure", text=text)

text = sys.argv[1]
failing_turn(text)
print("---installed---", flush=True)
from hotline_nlu.rasa_logs import keep_personal_data_out_of_logs
keep_personal_data_out_of_logs()
failing_turn(text)
"""


@pytest.fixture(scope="module")
def logged() -> tuple[str, str]:
    if not RASA_PYTHON.exists():
        pytest.skip("no rasa environment (./dev setup)")
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", _SCRIPT, f"{PHRASE}, gọi {PHONE}"],
        capture_output=True,
        text=True,
        env={**rasa_env(), "FORCE_JSON_LOGGING": "1"},
        cwd=PROJECT_ROOT,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    before, _, after = done.stdout.partition("---installed---")
    return before, after


def test_rasa_alone_logs_the_message(logged: tuple[str, str]) -> None:
    """Why the processor exists: the same event without it carries the message."""
    before, _ = logged
    assert "rest.message.received.failure" in before
    assert PHONE in before


def test_the_failure_is_logged_without_the_message(logged: tuple[str, str]) -> None:
    _, after = logged
    assert "rest.message.received.failure" in after
    assert PHONE not in after
    assert "con cá vàng" not in after
    assert "con c\\u00e1 v\\u00e0ng" not in after  # as JSON escapes it


def test_the_traceback_keeps_where_and_what_but_not_the_locals(logged: tuple[str, str]) -> None:
    _, after = logged
    assert "builtins.ConnectionError" in after
    assert "in turn" in after  # the frame that raised
    assert "Error 111" not in after  # the exception's message may quote the input
