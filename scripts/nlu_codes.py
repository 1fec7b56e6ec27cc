"""Status checks by reference code: how often a message with a code is understood; rasa Python.

    .venvs/rasa/bin/python scripts/nlu_codes.py models/hotline.tar.gz [--codes 500] [--seed 7]
        [--min 0.98] [--json out.json]

Draws codes with the project's own generator (bot/requests/codes.py, seeded here), writes each
in four forms (XXXX-XXXX, XXXXXXXX, and both in lower case) inside the messages of
tests/nlu/refcode_messages.txt (never trained on), and parses them with the trained model.
"Understood" means the final intent, after the fallback, is check_request_status; "code
reaches the action" means the status action would read this very code (from the ref_code
entity, else from the text, as actions/requests_status.py does). Exits 1 below --min.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import importlib.util
import json
import random
import sys
from pathlib import Path
from types import ModuleType

from nlu_eval import quiet_rasa

ROOT = Path(__file__).resolve().parent.parent
INTENT = "check_request_status"
FORMS = {
    "XXXX-XXXX": lambda code, fmt: fmt(code),
    "XXXXXXXX": lambda code, fmt: code,
    "xxxx-xxxx": lambda code, fmt: fmt(code).lower(),
    "xxxxxxxx": lambda code, fmt: code.lower(),
}


def _codes_module(seed: int) -> ModuleType:
    """Loads bot/requests/codes.py on its own (no app imports) with a seeded generator."""
    spec = importlib.util.spec_from_file_location("_ref_codes", ROOT / "bot/requests/codes.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # new_ref_code draws with secrets.choice; a seeded Random has the same method.
    module.secrets = random.Random(seed)  # type: ignore[attr-defined]
    return module


def _templates(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


async def _evaluate(model: str, messages: list[tuple[str, str, str, str]]) -> list[dict]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    rows = []
    for code, form, template, text in messages:
        parsed = await agent.parse_message(text)
        entity = next(
            (e["value"] for e in parsed.get("entities", []) if e["entity"] == "ref_code"), None
        )
        ranking = parsed.get("intent_ranking") or []
        top = next((r for r in ranking if r["name"] != "nlu_fallback"), parsed["intent"])
        rows.append(
            {
                "code": code,
                "form": form,
                "template": template,
                "text": text,
                "intent": parsed["intent"]["name"],
                "top": top["name"],
                "entity": entity,
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--codes", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--templates", type=Path, default=ROOT / "tests/nlu/refcode_messages.txt")
    parser.add_argument("--min", type=float, default=0.0, help="floor for the share understood")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    quiet_rasa()

    codes = _codes_module(args.seed)
    templates = _templates(args.templates)
    messages = []
    for i in range(args.codes):
        code = codes.new_ref_code()
        template = templates[i % len(templates)]
        for form, write in FORMS.items():
            messages.append(
                (code, form, template, template.format(code=write(code, codes.format_ref)))
            )
    rows = asyncio.run(_evaluate(args.model, messages))

    def share(selected: list[dict], key: str = "understood") -> float:
        return sum(r[key] for r in selected) / max(1, len(selected))

    for row in rows:
        row["understood"] = row["intent"] == INTENT
        row["classified"] = row["top"] == INTENT
        typed = row["entity"] or row["text"]
        row["reaches_action"] = codes.parse_ref(str(typed)) == row["code"]

    print(f"{args.codes} codes x {len(FORMS)} forms = {len(rows)} messages, seed {args.seed}")
    print(f"{'form':<10} {'understood':>10} {'top intent':>10} {'code to action':>14}")
    for form in [*FORMS, "all"]:
        selected = [r for r in rows if form in ("all", r["form"])]
        print(
            f"{form:<10} {share(selected):>10.3f} {share(selected, 'classified'):>10.3f} "
            f"{share(selected, 'reaches_action'):>14.3f}"
        )
    by_template = collections.defaultdict(list)
    for row in rows:
        by_template[row["template"]].append(row)
    print("weakest messages (share understood):")
    for template, selected in sorted(by_template.items(), key=lambda kv: share(kv[1]))[:6]:
        print(f"  {share(selected):.3f}  {template}")
    wrong = collections.Counter(r["intent"] for r in rows if not r["understood"])
    print("understood instead:", dict(wrong.most_common(6)))
    kiem_tra = by_template.get("kiểm tra {code}", [])
    overall = share(rows)
    summary = {
        "codes": args.codes,
        "messages": len(rows),
        "understood": round(overall, 4),
        "kiem_tra": round(share(kiem_tra), 4),
        "reaches_action": round(share(rows, "reaches_action"), 4),
        "by_form": {f: round(share([r for r in rows if r["form"] == f]), 4) for f in FORMS},
    }
    print(f"'kiểm tra <code>': {summary['kiem_tra']:.3f} of {len(kiem_tra)}")
    if args.json:
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    if overall < args.min:
        print(f"FAILED: {overall:.3f} understood, below the floor {args.min}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
