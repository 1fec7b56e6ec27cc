"""Training time, start-up, memory and accuracy of Rasa configurations, measured in one run.

    .venvs/app/bin/python scripts/bench_configs.py config.yml var/exp/other.yml [...]
        [--skip-stories] [--skip-codes]

For each configuration: `rasa train` from an empty Rasa cache (wall and CPU seconds), `rasa run`
until the first real reply (wall and CPU seconds) and its resident memory after a few turns,
the held-out NLU accuracy per set and style (scripts/nlu_eval.py; also the share answered right
and the share of fallbacks at the FallbackClassifier threshold of 0.6), the status checks by
reference code (scripts/nlu_codes.py) and the Rasa test stories. Prints the load average beside
each figure: the machine is shared. Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.benchlib import cpu_seconds, free_port, rss_mb  # noqa: E402

RASA_BIN = ROOT / ".venvs" / "rasa" / "bin" / "rasa"
RASA_PY = ROOT / ".venvs" / "rasa" / "bin" / "python"
WARM_TURNS = ["chào bạn", "xet nghiem covid o dau vay", "cảm ơn nhé"]


def rasa_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env["RASA_CACHE_DIRECTORY"] = str(cache)  # an empty cache: what a fresh clone pays
    env.update(
        TF_CPP_MIN_LOG_LEVEL="3",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        RASA_TELEMETRY_ENABLED="false",
        PYTHONWARNINGS="ignore",
        TF_INTER_OP_PARALLELISM_THREADS="1",
        TF_INTRA_OP_PARALLELISM_THREADS="2",
    )
    return env


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def train(config: Path, out: Path, name: str, env: dict[str, str]) -> dict[str, object]:
    cpu, started, before = children_cpu(), time.monotonic(), load()
    subprocess.run(
        [
            *(str(RASA_BIN), "train", "--config", str(config), "--domain", "domain"),
            *("--data", "data", "--out", str(out), "--fixed-model-name", name),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return {
        "train_s": round(time.monotonic() - started, 1),
        "train_cpu_s": round(children_cpu() - cpu, 1),
        "train_load": f"{before}→{load()}",
    }


def _turn(port: int, sender: str, text: str) -> bool:
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/rest/webhook",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return bool(json.loads(response.read()))
    except OSError:
        return False


def start(model: Path, env: dict[str, str]) -> dict[str, object]:
    port = free_port()
    before = load()
    started = time.monotonic()
    process = subprocess.Popen(
        [str(RASA_BIN), "run", "--model", str(model), "-i", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not _turn(port, "bench-start", "chào bạn"):
            if process.poll() is not None or time.monotonic() - started > 600:
                raise SystemExit(f"rasa did not start with {model}")
            time.sleep(0.25)
        ready = time.monotonic() - started
        ready_cpu = cpu_seconds(process.pid)
        for text in WARM_TURNS * 3:
            _turn(port, "bench-warm", text)
        return {
            "ready_s": round(ready, 1),
            "ready_cpu_s": round(ready_cpu, 1),
            "rss_mb": round(rss_mb(process.pid)),
            "start_load": f"{before}→{load()}",
        }
    finally:
        process.terminate()
        process.wait(30)


def nlu(model: Path, work: Path, env: dict[str, str]) -> dict[str, object]:
    out = work / "nlu.json"
    run = subprocess.run(
        [
            str(RASA_PY),
            "scripts/nlu_eval.py",
            str(model),
            "tests/nlu",
            "--json",
            str(out),
            "--thresholds",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(out.read_text())
    result: dict[str, object] = {name: row["accuracy"] for name, row in summary.items()}
    # The row of the threshold in config.yml: right answers kept, and fallbacks.
    row = re.search(r"^\s+0\.60\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", run.stdout, re.MULTILINE)
    if row:
        result["right@0.6"] = float(row.group(1))
        result["fallback@0.6"] = float(row.group(3))
    return result


def codes(model: Path, work: Path, env: dict[str, str]) -> dict[str, object]:
    out = work / "codes.json"
    subprocess.run(
        [str(RASA_PY), "scripts/nlu_codes.py", str(model), "--codes", "500", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=True,
    )
    summary = json.loads(out.read_text())
    return {"codes": summary.get("understood", summary)}


def stories(model: Path, work: Path, env: dict[str, str]) -> dict[str, object]:
    run = subprocess.run(
        [
            *(str(RASA_BIN), "test", "core", "--model", str(model), "--stories", "tests/stories"),
            *("--fail-on-prediction-errors", "--out", str(work / "core")),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    failed = (work / "core" / "failed_test_stories.yml").read_text() if run.returncode else ""
    return {
        "stories": "all correct" if run.returncode == 0 else f"FAILED ({failed.count('story:')})"
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("configs", nargs="+", type=Path)
    parser.add_argument("--skip-stories", action="store_true")
    parser.add_argument("--skip-codes", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    table: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for config in args.configs:
            name = config.stem
            work = Path(tmp) / name
            work.mkdir()
            env = rasa_env(work / "cache")
            print(f"== {config} (load {load()})", flush=True)
            row = train(config, work, name, env)
            model = work / f"{name}.tar.gz"
            row |= start(model, env)
            row |= nlu(model, work, env)
            if not args.skip_codes:
                row |= codes(model, work, env)
            if not args.skip_stories:
                row |= stories(model, work, env)
            table[name] = row
            print(json.dumps(row, ensure_ascii=False), flush=True)
    keys = list(dict.fromkeys(k for row in table.values() for k in row))
    print("\n| figure | " + " | ".join(table) + " |")
    print("|---" * (len(table) + 1) + "|")
    for key in keys:
        print(f"| {key} | " + " | ".join(str(row.get(key, "")) for row in table.values()) + " |")
    if args.json:
        args.json.write_text(json.dumps(table, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
