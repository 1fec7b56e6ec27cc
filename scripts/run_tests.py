"""Runs every test stage and ends with one summary line ("N passed, N failed").

Stages: lint, content files, `rasa data validate`, pytest (unit, integration, end to end with
the real Rasa stack), Rasa test stories, the held-out NLU evaluation by writing style, the
status check by reference code over 500 random codes, and the short fault harness
(`scripts/chaos.py --short`: each process killed under load, PostgreSQL and Redis restarted).

    .venvs/app/bin/python scripts/run_tests.py [--only STAGE ...] [-- pytest args]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.training import MODEL_PATH, RASA_BIN, rasa_env  # noqa: E402

APP_BIN = ROOT / ".venvs" / "app" / "bin"
RASA_PY = ROOT / ".venvs" / "rasa" / "bin" / "python"
NLU_FLOOR = "0.90"  # the test gates only on a floor; the figures go in the closing notes
CODES_FLOOR = "0.98"  # share of messages with a reference code understood as a status check


def stages(pytest_args: list[str]) -> dict[str, tuple[list[str], dict[str, str] | None]]:
    rasa = rasa_env()
    return {
        "lint": (
            [
                str(APP_BIN / "ruff"),
                "check",
                "bot",
                "actions",
                "connectors",
                "hotline_nlu",
                "tests",
                "scripts",
            ],
            None,
        ),
        "format": (
            [
                str(APP_BIN / "ruff"),
                "format",
                "--check",
                "bot",
                "actions",
                "connectors",
                "hotline_nlu",
                "tests",
                "scripts",
            ],
            None,
        ),
        "mypy": ([str(APP_BIN / "mypy")], None),
        "content": ([str(APP_BIN / "hotline"), "content", "check"], None),
        "rasa-validate": (
            [str(RASA_BIN), "data", "validate", "--domain", "domain", "--fail-on-warnings"],
            rasa,
        ),
        "pytest": ([str(APP_BIN / "pytest"), *pytest_args], None),
        "rasa-stories": (
            [
                str(RASA_BIN),
                "test",
                "core",
                "--model",
                str(MODEL_PATH),
                "--stories",
                "tests/stories",
                "--fail-on-prediction-errors",
                "--out",
                "var/results/core",
            ],
            rasa,
        ),
        "nlu-heldout": (
            [
                str(RASA_PY),
                "scripts/nlu_eval.py",
                str(MODEL_PATH),
                "tests/nlu",
                "--min",
                NLU_FLOOR,
                "--json",
                "var/results/nlu_heldout.json",
            ],
            rasa,
        ),
        "nlu-codes": (
            [
                str(RASA_PY),
                "scripts/nlu_codes.py",
                str(MODEL_PATH),
                "--codes",
                "500",
                "--min",
                CODES_FLOOR,
                "--json",
                "var/results/nlu_codes.json",
            ],
            rasa,
        ),
        "chaos": ([str(APP_BIN / "python"), "scripts/chaos.py", "--short"], None),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", help="run only these stages")
    args, pytest_args = parser.parse_known_args()
    pytest_args = [a for a in pytest_args if a != "--"]
    (ROOT / "var" / "results").mkdir(parents=True, exist_ok=True)
    passed, failed = [], []
    for name, (argv, env) in stages(pytest_args).items():
        if args.only and name not in args.only:
            continue
        print(f"\n=== {name} ===", flush=True)
        started = time.monotonic()
        code = subprocess.run(argv, cwd=ROOT, env=env).returncode
        took = time.monotonic() - started
        (passed if code == 0 else failed).append(name)
        print(
            f"=== {name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {took:.0f} s",
            flush=True,
        )
    print()
    if failed:
        print(f"failed stages: {', '.join(failed)}")
    print(f"stages: {len(passed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
