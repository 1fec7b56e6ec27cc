"""Runs a short script in the rasa environment: JSON in on stdin, JSON out on its last line."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from bot.training import RASA_PYTHON, rasa_env


def run_in_rasa(script: str, payload: Any, *, timeout: float = 180) -> Any:
    """Returns what `script` printed last, parsed; skips the test without a rasa environment."""
    if not RASA_PYTHON.exists():
        pytest.skip("no rasa environment (./dev setup)")
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", script],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env=rasa_env(),
        check=True,
        timeout=timeout,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])
