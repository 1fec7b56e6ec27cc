"""Recall and false-alarm rate of the emergency safety layer, by style and by category.

    .venvs/app/bin/python scripts/safety_eval.py [--set tests/safety] [--prefix heldout2_]
        [--show-errors]

Reads `<prefix>emergencies.yml` and `<prefix>near_misses.yml` from the set folder (no prefix:
the development pair; `heldout_`, `heldout2_`: pairs written after the rules) and prints one
table. Exits 1 below recall 0.99 or above 1 % false
alarms.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.safety.detector import detect_emergency  # noqa: E402
from bot.safety.evaluation import STYLES, Report, Tally, evaluate, load_set  # noqa: E402
from hotline_nlu.normalize import normalize  # noqa: E402

MIN_RECALL = 0.99
MAX_FALSE_ALARMS = 0.01


def _row(name: str, recall: Tally | None, false_alarms: Tally | None) -> str:
    def cell(t: Tally | None) -> str:
        return f"{t.rate:6.3f} ({t.fired:3d}/{t.total:3d})" if t else " " * 16

    return f"{name:<14} {cell(recall)}   {cell(false_alarms)}"


def print_report(report: Report, *, show_errors: bool) -> None:
    print(f"{'':<14} {'recall':<16}   {'false alarms':<16}")
    for key in ("all", *STYLES):
        print(_row(key, report.recall.get(key), report.false_alarms.get(key)))
    groups = sorted({k for k in (*report.recall, *report.false_alarms) if k.startswith("/")})
    print("by category (emergencies) / resembling topic (near-misses):")
    for key in groups:
        print(_row(key[1:], report.recall.get(key), report.false_alarms.get(key)))
    if show_errors:
        print("\nmissed emergencies:")
        print("\n".join(f"  {e}" for e in report.recall["all"].examples) or "  none")
        print("false alarms:")
        print("\n".join(f"  {e}" for e in report.false_alarms["all"].examples) or "  none")


def _per_message_us(texts: list[str], check: Callable[[str], object], rounds: int = 5) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            check(text)
    return (time.perf_counter() - start) / (rounds * len(texts)) * 1e6


def print_speed(paths: list[Path]) -> None:
    """Time per message of the detector, next to the normalisation alone (its baseline)."""
    texts = [t for p in paths for g in load_set(p).values() for m in g.values() for t in m]
    base = _per_message_us(texts, normalize)
    full = _per_message_us(texts, detect_emergency)
    print(f"speed over {len(texts)} messages: normalize {base:.0f} µs, detector {full:.0f} µs")
    # The longest message accepted (MAX_MESSAGE_CHARS), full of matches that must all be read.
    worst = ["hỏi về khó thở, " * 125, "nếu bị co giật " * 133, "spo2 dưới 90 " * 150]
    print(
        f"2,000 characters full of matches: normalize {_per_message_us(worst, normalize):.0f} µs, "
        f"detector {_per_message_us(worst, detect_emergency):.0f} µs"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=Path("tests/safety"))
    parser.add_argument("--prefix", default="", help="which pair: '', heldout_, heldout2_")
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()
    paths = [args.set / f"{args.prefix}emergencies.yml", args.set / f"{args.prefix}near_misses.yml"]
    report = evaluate(*paths)
    print_report(report, show_errors=args.show_errors)
    print_speed(paths)
    ok = (
        report.recall["all"].rate >= MIN_RECALL
        and report.false_alarms["all"].rate <= MAX_FALSE_ALARMS
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
