"""The safety layer against the classifier alone, on the same sets; run with Rasa's Python.

    .venvs/rasa/bin/python scripts/safety_vs_classifier.py models/hotline.tar.gz [tests/safety]

Before the safety layer, a message got "call 115" and a staff hand-off exactly when the NLU's
final intent was `emergency`. Now the rules decide (`bot.safety`), and the classifier's
`emergency` alone only asks "are you in danger?". Prints both, by style, for every set pair.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.safety.detector import detect_emergency  # noqa: E402
from bot.safety.evaluation import STYLES, load_set  # noqa: E402

PAIRS = ["", "heldout_", "heldout2_", "heldout3_"]


async def _intents(model: str, texts: set[str]) -> dict[str, str]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    return {t: (await agent.parse_message(t))["intent"]["name"] for t in sorted(texts)}


def main() -> int:
    model = sys.argv[1]
    folder = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("tests/safety")
    logging.disable(logging.WARNING)
    sets = {
        p: (load_set(folder / f"{p}emergencies.yml"), load_set(folder / f"{p}near_misses.yml"))
        for p in PAIRS
    }
    texts = {
        t
        for pair in sets.values()
        for data in pair
        for g in data.values()
        for m in g.values()
        for t in m
    }
    intents = asyncio.run(_intents(model, texts))
    print(
        f"{'set':<10} {'style':<11} {'recall before':>14} {'after':>6}   "
        f"{'false alarms before':>20} {'after':>6}   {'asked instead':>13}"
    )
    for prefix, (emergencies, near_misses) in sets.items():
        for style in (*STYLES, "all"):
            styles = STYLES if style == "all" else (style,)
            em = [t for s in styles for g in emergencies[s].values() for t in g]
            nm = [t for s in styles for g in near_misses[s].values() for t in g]
            before_r = sum(intents[t] == "emergency" for t in em) / len(em)
            after_r = sum(detect_emergency(t).is_emergency for t in em) / len(em)
            before_f = sum(intents[t] == "emergency" for t in nm) / len(nm)
            after_f = sum(detect_emergency(t).is_emergency for t in nm) / len(nm)
            asked = sum(
                intents[t] == "emergency" and not detect_emergency(t).is_emergency for t in nm
            )
            print(
                f"{prefix or 'dev':<10} {style:<11} {before_r:>14.3f} {after_r:>6.3f}   "
                f"{before_f:>20.3f} {after_f:>6.3f}   {asked:>6}/{len(nm):<6}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
