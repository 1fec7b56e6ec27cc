"""Held-out NLU evaluation by writing style; run with the rasa environment's Python.

    .venvs/rasa/bin/python scripts/nlu_eval.py models/hotline.tar.gz tests/nlu [--min 0.85]
        [--json out.json] [--thresholds]

Reads every held-out set in the folder (<set>_diacritics.yml, <set>_plain.yml,
<set>_teencode.yml), prints intent accuracy per set and style (with diacritics / without /
teencode), the worst confusions, and with --thresholds how a FallbackClassifier threshold would
trade correct answers for fallbacks. Exits 1 when any style of any set is below --min.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LONG_WORDS = 40  # long, multi-sentence questions are reported apart as well
STYLES = {"diacritics": "có dấu", "plain": "không dấu", "teencode": "teencode"}


def quiet_rasa() -> None:
    """Silences Rasa's per-message debug lines (structlog) and library warnings."""
    import structlog

    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def heldout_files(folder: Path) -> dict[str, Path]:
    """Returns the held-out files of the folder by label ("heldout2 teencode")."""
    files = {}
    for path in sorted(folder.glob("*_*.yml")):
        name, _, style = path.stem.rpartition("_")
        if style in STYLES:
            files[f"{name} {STYLES[style]}"] = path
    return files


async def _evaluate(model: str, folder: Path) -> dict[str, list[tuple[str, str, str, float]]]:
    from rasa.core.agent import Agent
    from rasa.shared.nlu.training_data.loading import load_data

    agent = Agent.load(model)
    results: dict[str, list[tuple[str, str, str, float]]] = {}
    for name, path in heldout_files(folder).items():
        data = load_data(str(path))
        rows = []
        for example in data.intent_examples:
            parsed = await agent.parse_message(example.get("text"))
            # Score what the classifier said before the fallback replaced it.
            ranking = parsed.get("intent_ranking") or []
            top = next((r for r in ranking if r["name"] != "nlu_fallback"), parsed["intent"])
            rows.append(
                (example.get("text"), example.get("intent"), top["name"], top["confidence"])
            )
        results[name] = rows
    return results


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _training_texts(folder: Path) -> set[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    return {_key(example.get("text")) for example in load_data(str(folder)).intent_examples}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--min", type=float, default=0.0, help="floor for every style")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--thresholds", action="store_true")
    parser.add_argument("--training", type=Path, default=ROOT / "data" / "nlu")
    args = parser.parse_args()
    quiet_rasa()

    results = asyncio.run(_evaluate(args.model, args.folder))
    trained = _training_texts(args.training)
    failed = False
    # "unseen": without the held-out messages that are also, word for word, training examples.
    print(f"{'set and style':<20} {'n':>4} {'accuracy':>9} {'unseen n':>9} {'unseen acc':>11}")
    summary = {}
    for name, rows in results.items():
        accuracy = sum(gold == pred for _, gold, pred, _ in rows) / len(rows)
        unseen = [r for r in rows if _key(r[0]) not in trained]
        unseen_accuracy = sum(gold == pred for _, gold, pred, _ in unseen) / max(1, len(unseen))
        summary[name] = {
            "n": len(rows),
            "accuracy": round(accuracy, 4),
            "unseen_n": len(unseen),
            "unseen_accuracy": round(unseen_accuracy, 4),
        }
        failed |= accuracy < args.min
        print(
            f"{name:<20} {len(rows):>4} {accuracy:>9.3f} {len(unseen):>9} {unseen_accuracy:>11.3f}"
        )
    every = [row for rows in results.values() for row in rows]
    long = [row for row in every if len(row[0].split()) > LONG_WORDS]
    if long:
        accuracy = sum(gold == pred for _, gold, pred, _ in long) / len(long)
        summary[f"over {LONG_WORDS} words"] = {"n": len(long), "accuracy": round(accuracy, 4)}
        print(f"{f'over {LONG_WORDS} words':<20} {len(long):>4} {accuracy:>9.3f}")
    confusions = collections.Counter((g, p) for _, g, p, _ in every if g != p)
    print("most frequent confusions (gold -> predicted):")
    for (gold, pred), n in confusions.most_common(8):
        print(f"  {n:>3}  {gold} -> {pred}")
    if args.thresholds:
        print(f"{'threshold':>9} {'correct kept':>13} {'errors caught':>14} {'fallbacks':>10}")
        for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            kept = sum(g == p and c >= threshold for _, g, p, c in every) / len(every)
            wrong = [c for _, g, p, c in every if g != p]
            caught = sum(c < threshold for c in wrong) / max(1, len(wrong))
            fallbacks = sum(c < threshold for *_, c in every) / len(every)
            print(f"{threshold:>9.2f} {kept:>13.3f} {caught:>14.3f} {fallbacks:>10.3f}")
    if args.json:
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    if failed:
        print(f"FAILED: a style is below the floor {args.min}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
