"""`./dev chaos [--short]`: the fault harness (tests/chaos/harness.py) — the real stack under
a steady load of residents while each process is killed and PostgreSQL and Redis restart.

    .venvs/app/bin/python scripts/chaos.py [--short] [--keep]

Prints one table; exits 1 when a request a resident was told is saved is missing, a request is
duplicated, or an acknowledged webhook was never answered.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.training import MODEL_PATH  # noqa: E402
from tests.chaos.harness import FULL, SHORT, run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the CI version (a few minutes)")
    parser.add_argument("--keep", action="store_true", help="keep the logs of a passing run")
    args = parser.parse_args()
    if not MODEL_PATH.exists():
        print("No trained model: run ./dev train first.", file=sys.stderr)
        return 2
    return run(SHORT if args.short else FULL, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
