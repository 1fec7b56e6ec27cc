"""Benchmark of a conversation turn: our stack against a bare Rasa, in the same run.

    ./dev bench [--turns 150] [--levels 1 10 50] [--redis-url redis://127.0.0.1:6379/11]

Rows (each at 1, 10 and 50 concurrent conversations):
  ours/web      web chat API → web app → our Rasa → action server (what a resident gets)
  ours/rasa     our Rasa's REST channel directly (same actions)
  bare/rasa     Rasa trained on the same domain and data with `rasa init`'s default config
  ours/web×2    (with --redis-url) the web app in front of two Rasa Sanic workers sharing Redis
  ours/rasa×2   (with --redis-url) those two Sanic workers directly

With --long N (600 by default), one conversation of N turns straight to Rasa, p50/p95 per 100
turns: on our stack (our tracker store), and on a Rasa of its own with the same model and
action server on Rasa's own in-memory store; with --redis-url also on our store on Redis and on
Rasa's own Redis store (both with Rasa's Redis lock store, one Sanic worker each).

Prints turns/s, p50/p95 latency, start-up time to ready and resident memory of the Rasa
process. Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db.migrate import upgrade  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.supervisor import ProcessSpec, Supervisor, process_specs, write_endpoints  # noqa: E402
from bot.training import MODEL_PATH, RASA_BIN, rasa_env  # noqa: E402
from scripts.benchlib import cpu_seconds, free_port, rss_mb  # noqa: E402

# One conversation: what residents commonly do (greeting, questions, thanks); no emergencies,
# so the database is not written on every turn.
SCRIPT = [
    "chào bạn",
    "xet nghiem covid o dau vay",
    "cho xin sdt duong day nong",
    "con e 5 tuổi tiêm vx dc ko",
    "cảm ơn nhé",
]
# `rasa init` leaves pipeline and policies empty, so Rasa fills in this file of its own.
RASA_DEFAULT_CONFIG = (
    ROOT
    / ".venvs/rasa/lib/python3.10/site-packages/rasa/engine/recipes/config_files"
    / "default_config.yml"
)


def baseline_config(epochs: int) -> str:
    """Rasa's default config for our language, with the ML components' epochs set to `epochs`.

    Epochs change the weights, not the work per message: a bare model trained for fewer epochs
    answers each turn with the same graph, so its turns cost what the 100-epoch one's do (its
    held-out accuracy is printed so that a reader can see it is a real model, not a broken one).
    100 epochs of the default DIET take over an hour on 2 cores.
    """
    config = yaml.safe_load(RASA_DEFAULT_CONFIG.read_text())
    config["language"] = "vi"
    config["assistant_id"] = "bench-baseline"
    for component in [*config["pipeline"], *config["policies"]]:
        if "epochs" in component:
            component["epochs"] = epochs
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


# The processes whose CPU time each load is charged with (name → pid), set by main().
WATCHED: dict[str, int] = {}


@dataclass
class Result:
    name: str
    level: int
    turns: int
    seconds: float
    latencies: list[float]
    errors: int
    load: float = 0.0
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU ms per turn, by process

    def row(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000 if lat else float("nan")
        p95 = lat[max(0, int(len(lat) * 0.95) - 1)] * 1000 if lat else float("nan")
        cpu = " ".join(f"{name} {ms:.1f}" for name, ms in self.cpu_ms.items())
        return (
            f"{self.name:<12} {self.level:>5} {self.turns:>6} {self.turns / self.seconds:>9.1f}"
            f" {p50:>9.0f} {p95:>9.0f} {self.errors:>6} {self.load:>5.1f}  {cpu}"
        )

    def p(self, q: float) -> float:
        lat = sorted(self.latencies)
        return lat[max(0, int(len(lat) * q) - 1)] * 1000 if lat else float("nan")


async def each_client(
    url: str, level: int, work: Callable[[httpx.AsyncClient], Awaitable[None]]
) -> float:
    """Runs `work` on `level` clients of their own at once; returns the seconds it took."""
    started = time.perf_counter()
    clients = [httpx.AsyncClient(base_url=url, timeout=120) for _ in range(level)]
    try:
        await asyncio.gather(*(work(c) for c in clients))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return time.perf_counter() - started


async def load(name: str, url: str, *, web: bool, level: int, turns: int) -> Result:
    """Runs `turns` turns spread over `level` concurrent conversations."""
    latencies: list[float] = []
    errors = 0
    per_conversation = max(1, turns // level)

    async def conversation(client: httpx.AsyncClient) -> None:
        nonlocal errors
        sender = f"web:bench{uuid.uuid4().hex}"
        if web:
            await client.get("/")
        for i in range(per_conversation):
            text = SCRIPT[i % len(SCRIPT)]
            started = time.perf_counter()
            try:
                if web:
                    response = await client.post("/api/chat/messages", json={"text": text})
                else:
                    response = await client.post(
                        "/webhooks/rest/webhook", json={"sender": sender, "message": text}
                    )
                ok = response.status_code == 200 and bool(response.json())
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started)
            errors += not ok

    cpu_before = {name: cpu_seconds(pid) for name, pid in WATCHED.items()}
    seconds = await each_client(url, level, conversation)
    cpu_ms = {
        name: (cpu_seconds(pid) - cpu_before[name]) * 1000 / max(1, len(latencies))
        for name, pid in WATCHED.items()
    }
    return Result(
        name, level, len(latencies), seconds, latencies, errors, os.getloadavg()[0], cpu_ms
    )


async def client_floor(url: str, level: int, requests: int) -> Result:
    """The load client against a trivial endpoint at the same concurrency: what it adds itself."""
    latencies: list[float] = []
    per_client = max(1, requests // level)

    async def client_loop(client: httpx.AsyncClient) -> None:
        for _ in range(per_client):
            started = time.perf_counter()
            await client.get("/healthz")
            latencies.append(time.perf_counter() - started)

    seconds = await each_client(url, level, client_loop)
    return Result(
        "client/healthz", level, len(latencies), seconds, latencies, 0, os.getloadavg()[0]
    )


def watch(supervisor: Supervisor) -> None:
    """Charges the following loads with the CPU time of this stack's processes."""
    WATCHED.clear()
    WATCHED.update({s.name: s.process.pid for s in supervisor.specs if s.process is not None})


async def long_conversation(name: str, url: str, *, web: bool, turns: int) -> Result:
    """One conversation of `turns` turns, one after the other (a resident who stays for years)."""
    result = await load(name, url, web=web, level=1, turns=turns)
    result.level = turns
    return result


def per_hundred(result: Result) -> list[str]:
    """p50/p95 of each block of 100 turns of one long conversation."""
    lines = []
    for start in range(0, len(result.latencies), 100):
        block = sorted(result.latencies[start : start + 100])
        p50 = statistics.median(block) * 1000
        p95 = block[max(0, int(len(block) * 0.95) - 1)] * 1000
        lines.append(
            f"  turns {start + 1:>4}–{start + len(block):<4}  p50 {p50:6.0f}  p95 {p95:6.0f}"
        )
    return lines


def data_fingerprint() -> str:
    """What the bare model is trained from: the domain and the data (not our config or code)."""
    digest = hashlib.sha256()
    for entry in ("domain", "data/nlu", "data/rules", "data/stories", "requirements/rasa.lock"):
        path = ROOT / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.exists():
                digest.update(str(file.relative_to(ROOT)).encode() + file.read_bytes())
    return digest.hexdigest()


def baseline_model(workdir: Path, epochs: int) -> Path:
    """Trains (once per training-data fingerprint and epochs) the bare model, default config."""
    cache = ROOT / "var" / "bench" / f"baseline-{data_fingerprint()[:12]}-e{epochs}.tar.gz"
    if cache.exists():
        return cache
    cache.parent.mkdir(parents=True, exist_ok=True)
    config = workdir / "baseline-config.yml"
    config.write_text(baseline_config(epochs))
    # The default pipeline cannot load our tokenizer, so train on copies of the data only.
    print(f"training the baseline model (rasa init's default config, {epochs} epochs)…", flush=True)
    started = time.monotonic()
    subprocess.run(
        [
            str(RASA_BIN),
            "train",
            "--config",
            str(config),
            "--domain",
            "domain",
            "--data",
            "data",
            "--out",
            str(workdir),
            "--fixed-model-name",
            "baseline",
        ],
        cwd=ROOT,
        env=rasa_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"baseline trained in {time.monotonic() - started:.0f} s", flush=True)
    shutil.move(workdir / "baseline.tar.gz", cache)
    return cache


def stack_env(workdir: Path, redis_url: str | None) -> tuple[dict[str, str], Settings]:
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    upgrade(database_url)
    env = {
        "ENV": "test",
        "DATABASE_URL": database_url,
        "RASA_URL": f"http://127.0.0.1:{free_port()}",
        "ACTION_SERVER_URL": f"http://127.0.0.1:{free_port()}",
        "WEB_PORT": str(free_port()),
        "RASA_TOKEN": uuid.uuid4().hex,
        "LOG_LEVEL": "WARNING",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ.update(env)
    return env, Settings()


def start(specs: list[ProcessSpec], log_dir: Path) -> tuple[Supervisor, float]:
    supervisor = Supervisor(specs, echo=False, log_dir=log_dir)
    started = time.monotonic()
    supervisor.start()
    failed = supervisor.wait_ready(timeout=300)
    if failed is not None:
        supervisor.stop()
        raise SystemExit(f"{failed.name} did not start:\n" + "\n".join(failed.tail))
    return supervisor, time.monotonic() - started


async def measure(name: str, url: str, web: bool, levels: list[int], turns: int) -> list[Result]:
    await load(name, url, web=web, level=2, turns=10)  # warm-up: first calls load graphs
    return [await load(name, url, web=web, level=lv, turns=turns) for lv in levels]


def bare_endpoints(settings: Settings, workdir: Path) -> Path:
    """Our action server for the bare Rasa, and nothing else: Rasa's own tracker store."""
    ours = ROOT / "var" / "run" / f"endpoints-{settings.rasa_url.rsplit(':', 1)[1]}.yml"
    endpoints = yaml.safe_load(ours.read_text())
    path = workdir / "bare-endpoints.yml"
    path.write_text(yaml.safe_dump({"action_endpoint": endpoints["action_endpoint"]}))
    return path


def redis_endpoints(settings: Settings, workdir: Path, redis_url: str, *, rasa_store: bool) -> Path:
    """Endpoints on Redis as `hotline run` writes them (our action server, our tracker store,
    Rasa's Redis lock store), or with Rasa's own Redis tracker store instead (`rasa_store`)."""
    written = write_endpoints(
        settings.model_copy(update={"redis_url": redis_url}), port=free_port()
    )
    endpoints = yaml.safe_load(written.read_text())
    written.unlink()
    if rasa_store:
        endpoints["tracker_store"]["type"] = "redis"
    path = workdir / f"endpoints-redis-{'rasa' if rasa_store else 'ours'}.yml"
    path.write_text(yaml.safe_dump(endpoints))
    return path


def long_on_store(
    name: str, settings: Settings, workdir: Path, turns: int, *, endpoints: Path
) -> Result:
    """The long conversation on our model and actions, on a Rasa of its own given `endpoints`
    (a tracker store to compare, in the same run)."""
    port = free_port()
    spec = ProcessSpec(
        name="rasa-long",
        argv=[
            *(str(RASA_BIN), "run", "--model", str(MODEL_PATH)),
            *("--endpoints", str(endpoints)),
            *("-i", "127.0.0.1", "-p", str(port)),
        ],
        env=rasa_env(),
        ready_url=f"http://127.0.0.1:{port}/",
    )
    url = f"http://127.0.0.1:{port}"
    supervisor, _ = start([spec], workdir / f"log-{uuid.uuid4().hex[:6]}")
    try:
        asyncio.run(load("warm", url, web=False, level=1, turns=1))
        return asyncio.run(long_conversation(name, url, web=False, turns=turns))
    finally:
        supervisor.stop()


def stack_rss(supervisor: Supervisor) -> tuple[float, float]:
    """Resident memory of the Rasa process, and of the whole stack, in MB."""
    sizes = [rss_mb(spec.process.pid) if spec.process else 0.0 for spec in supervisor.specs]
    return sizes[0], sum(sizes)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=150, help="turns per concurrency level")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--long", type=int, default=600, help="turns of one long conversation")
    parser.add_argument("--long-web", action="store_true", help="the long one via the web app too")
    parser.add_argument("--redis-url", help="also run two Sanic workers on this Redis")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--baseline-epochs",
        type=int,
        default=20,
        help="epochs of the bare model's DIET (Rasa's default is 100; same cost per turn)",
    )
    args = parser.parse_args()
    if not MODEL_PATH.exists():
        raise SystemExit("no trained model: run ./dev train first")

    results: list[Result] = []
    long: list[Result] = []
    startup: dict[str, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        base_model = None if args.skip_baseline else baseline_model(workdir, args.baseline_epochs)

        _, settings = stack_env(workdir, None)
        supervisor, took = start(process_specs(settings), workdir / "log-ours")
        try:
            web_url = f"http://127.0.0.1:{settings.web_port}"
            results.append(asyncio.run(client_floor(web_url, max(args.levels), 2000)))
            watch(supervisor)
            results += asyncio.run(measure("ours/web", web_url, True, args.levels, args.turns))
            startup["ours"] = (took, *stack_rss(supervisor))
            results += asyncio.run(
                measure("ours/rasa", settings.rasa_url, False, args.levels, args.turns)
            )
            if args.long and args.long_web:
                long.append(
                    asyncio.run(long_conversation("ours/web", web_url, web=True, turns=args.long))
                )
            if args.long:
                long.append(
                    asyncio.run(
                        long_conversation(
                            "ours/rasa", settings.rasa_url, web=False, turns=args.long
                        )
                    )
                )
                long.append(
                    long_on_store(
                        "ours/rasa, Rasa's store",
                        settings,
                        workdir,
                        args.long,
                        endpoints=bare_endpoints(settings, workdir),
                    )
                )
            if args.long and args.redis_url:
                for rasa_store, name in ((False, "our store"), (True, "Rasa's store")):
                    endpoints = redis_endpoints(
                        settings, workdir, args.redis_url, rasa_store=rasa_store
                    )
                    long.append(
                        long_on_store(
                            f"ours/rasa on Redis, {name}",
                            settings,
                            workdir,
                            args.long,
                            endpoints=endpoints,
                        )
                    )
            if base_model is not None:
                bare_port = free_port()
                bare = ProcessSpec(
                    name="bare-rasa",
                    argv=[
                        str(RASA_BIN),
                        "run",
                        "--model",
                        str(base_model),
                        "--endpoints",
                        str(bare_endpoints(settings, workdir)),
                        "-i",
                        "127.0.0.1",
                        "-p",
                        str(bare_port),
                    ],
                    env=rasa_env(),
                    ready_url=f"http://127.0.0.1:{bare_port}/",
                )
                bare_url = f"http://127.0.0.1:{bare_port}"
                bare_sup, bare_took = start([bare], workdir / "log-bare")
                watch(bare_sup)
                try:
                    # "/" answers before the model is loaded: wait for a real reply.
                    started = time.monotonic()
                    asyncio.run(load("warm", bare_url, web=False, level=1, turns=1))
                    bare_took += time.monotonic() - started
                    results += asyncio.run(
                        measure("bare/rasa", bare_url, False, args.levels, args.turns)
                    )
                    rasa_mb = rss_mb(bare.process.pid) if bare.process else 0.0
                    startup["bare"] = (bare_took, rasa_mb, rasa_mb)
                    if args.long:
                        long.append(
                            asyncio.run(
                                long_conversation("bare/rasa", bare_url, web=False, turns=args.long)
                            )
                        )
                finally:
                    bare_sup.stop()
        finally:
            supervisor.stop()

        if args.redis_url:
            _, settings = stack_env(workdir, args.redis_url)
            supervisor, took = start(process_specs(settings, rasa_workers=2), workdir / "log-2w")
            watch(supervisor)
            try:
                web_url = f"http://127.0.0.1:{settings.web_port}"
                results += asyncio.run(
                    measure("ours/web×2", web_url, True, args.levels, args.turns)
                )
                startup["ours×2"] = (took, *stack_rss(supervisor))
                results += asyncio.run(
                    measure("ours/rasa×2", settings.rasa_url, False, args.levels, args.turns)
                )
            finally:
                supervisor.stop()

    print("\nconversation turn benchmark (2 cores; latency in ms; load = 1-min load average)")
    print(
        f"{'stack':<12} {'conc':>5} {'turns':>6} {'turns/s':>9} {'p50':>9} {'p95':>9} {'errors':>6}"
        f" {'load':>5}  CPU ms per turn"
    )
    for result in results:
        print(result.row())
    print("\nstart-up to ready and memory (RSS after the load above)")
    for name, (seconds, rasa_mb, total_mb) in startup.items():
        print(
            f"{name:<12} ready in {seconds:5.1f} s   rasa RSS {rasa_mb:7.0f} MB"
            f"   whole stack {total_mb:7.0f} MB"
        )
    for result in long:
        print(f"\none conversation of {result.turns} turns, {result.name} (load {result.load:.1f})")
        print("\n".join(per_hundred(result)))
    print_targets(results, long)
    return 0


def print_targets(results: list[Result], long: list[Result]) -> None:
    """The issue's targets, met or not, from the figures above."""
    rows = {(r.name, r.level): r for r in results}
    print("\ntargets")
    top = max((r.level for r in results), default=0)
    bare = rows.get(("bare/rasa", top))
    for name in ("ours/web", "ours/web×2"):
        web = rows.get((name, top))
        if web and bare:
            ratio = (web.turns / web.seconds) / (bare.turns / bare.seconds)
            print(f"  {name} at {top}: {ratio:.2f}× the bare Rasa's turns/s (target ≥ 2)")
            print(f"  {name} at {top}: p95 {web.p(0.95):.0f} ms (target ≤ 1000)")
    web1, bare1 = rows.get(("ours/web", 1)), rows.get(("bare/rasa", 1))
    if web1 and bare1:
        print(
            f"  one conversation: p50 {statistics.median(web1.latencies) * 1000:.0f} ms ours/web,"
            f" {statistics.median(bare1.latencies) * 1000:.0f} ms bare (target: below the bare)"
        )
    for result in long:
        if len(result.latencies) >= 600:
            first = statistics.median(result.latencies[:100])
            last = statistics.median(result.latencies[500:600])
            print(
                f"  {result.name}: p50 of turns 501–600 is {last / first:.2f}× turns 1–100"
                " (target ≤ 1.10)"
            )


if __name__ == "__main__":
    sys.exit(main())
