"""Runs in the Rasa environment (Python 3.10, SQLAlchemy 1.4): drives the real event broker
for tests/stats/test_stats_broker.py, one JSON command per line on stdin, one JSON answer per
line on stdout.

Commands: {"open": {"url": …, "flush_seconds": …, "now": epoch or null}} (a broker; `now`
fixes its clock), {"publish": event}, {"flush": true} (answers the keys written),
{"close": true} (Rasa's shutdown), {"sleep": seconds}.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from hotline_nlu.stats_broker import IntentStatsBroker


def main() -> None:
    broker: IntentStatsBroker | None = None
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command: dict[str, Any] = json.loads(line)
        answer: dict[str, Any] = {"ok": True}
        if "open" in command:
            options = command["open"]
            now = options.get("now")
            broker = IntentStatsBroker(
                url=options["url"],
                flush_seconds=options.get("flush_seconds", 300),
                **({"clock": lambda at=float(now): at} if now is not None else {}),
            )
        elif broker is None:
            answer = {"error": "no broker open"}
        elif "publish" in command:
            broker.publish(command["publish"])
        elif "flush" in command:
            answer["written"] = broker.flush()
        elif "close" in command:
            asyncio.run(broker.close())
            broker = None
        elif "sleep" in command:
            asyncio.run(asyncio.sleep(float(command["sleep"])))
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
