"""Starts the Rasa server, the action server and the web app together, and stops them together.

Ctrl-C (or SIGTERM) stops all three; if one dies, the others are stopped and the reason is
printed with the last lines that process wrote.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

from bot.privacy.registry import RASA_REDIS_KEY_PREFIX, RASA_TRACKER_EXPIRY_SECONDS
from bot.settings import PROJECT_ROOT, Settings
from bot.training import MODEL_PATH, RASA_BIN, rasa_env

RUN_DIR = PROJECT_ROOT / "var" / "run"
LOG_DIR = PROJECT_ROOT / "var" / "log"


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready_url: str
    process: subprocess.Popen[bytes] | None = None
    tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=30))


def write_endpoints(settings: Settings) -> Path:
    """Writes the endpoints file Rasa runs with: action server, and Redis stores if configured."""
    endpoints: dict[str, object] = {
        "action_endpoint": {"url": f"{settings.action_server_url.rstrip('/')}/webhook"}
    }
    if settings.redis_url:
        url = urlsplit(settings.redis_url)
        redis = {
            "type": "redis",
            "url": url.hostname or "127.0.0.1",
            "port": url.port or 6379,
            "db": int((url.path or "/0").lstrip("/") or 0),
            "key_prefix": RASA_REDIS_KEY_PREFIX,
        }
        if url.password:
            redis["password"] = url.password
        endpoints["tracker_store"] = {**redis, "record_exp": RASA_TRACKER_EXPIRY_SECONDS}
        endpoints["lock_store"] = dict(redis)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    # One file per Rasa port, so a test stack and a developer's stack never share one.
    path = RUN_DIR / f"endpoints-{urlsplit(settings.rasa_url).port or 5005}.yml"
    path.write_text(yaml.safe_dump(endpoints, sort_keys=False))
    return path


def process_specs(settings: Settings, *, rasa_workers: int = 1) -> list[ProcessSpec]:
    """Returns how to start each of the three processes with these settings."""
    rasa_url = urlsplit(settings.rasa_url)
    action_url = urlsplit(settings.action_server_url)
    env = dict(os.environ)
    rasa = rasa_env()
    if rasa_workers > 1:
        rasa["SANIC_WORKERS"] = str(rasa_workers)
    return [
        ProcessSpec(
            name="rasa",
            argv=[
                str(RASA_BIN),
                "run",
                "--model",
                str(MODEL_PATH),
                "--endpoints",
                str(write_endpoints(settings)),
                "--credentials",
                str(PROJECT_ROOT / "credentials.yml"),
                "--enable-api",
                "--auth-token",
                settings.rasa_token.get_secret_value(),
                "-i",
                rasa_url.hostname or "127.0.0.1",
                "-p",
                str(rasa_url.port or 5005),
            ],
            env=rasa,
            ready_url=f"{settings.rasa_url}/status?token={settings.rasa_token.get_secret_value()}",
        ),
        ProcessSpec(
            name="actions",
            argv=[
                sys.executable,
                "-m",
                "rasa_sdk",
                "--actions",
                "actions",
                "-p",
                str(action_url.port or 5055),
            ],
            env={**env, "PYTHONWARNINGS": "ignore"},
            ready_url=f"{settings.action_server_url}/health",
        ),
        ProcessSpec(
            name="web",
            argv=[
                sys.executable,
                "-m",
                "uvicorn",
                "bot.web.app:create_app",
                "--factory",
                "--host",
                settings.web_host,
                "--port",
                str(settings.web_port),
                "--no-access-log",
            ],
            env=env,
            ready_url=f"http://{settings.web_host}:{settings.web_port}/healthz",
        ),
    ]


class Supervisor:
    """Owns the child processes: start, wait until ready, watch, stop."""

    def __init__(
        self, specs: list[ProcessSpec], *, echo: bool = True, log_dir: Path = LOG_DIR
    ) -> None:
        self.specs = specs
        self.echo = echo
        self.log_dir = log_dir
        self._stopping = threading.Event()
        self._pumps: list[threading.Thread] = []

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.specs:
            spec.process = subprocess.Popen(
                spec.argv,
                cwd=PROJECT_ROOT,
                env=spec.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            pump = threading.Thread(target=self._pump, args=(spec,), daemon=True)
            pump.start()
            self._pumps.append(pump)

    def _pump(self, spec: ProcessSpec) -> None:
        assert spec.process is not None and spec.process.stdout is not None
        with spec.process.stdout, (self.log_dir / f"{spec.name}.log").open("ab") as log:
            for raw in spec.process.stdout:
                log.write(raw)
                log.flush()
                line = raw.decode("utf-8", "replace").rstrip()
                spec.tail.append(line)
                if self.echo and line:
                    print(f"[{spec.name}] {line}", flush=True)

    def dead(self) -> ProcessSpec | None:
        """Returns a process that has exited, if any."""
        return next((s for s in self.specs if s.process and s.process.poll() is not None), None)

    def wait_ready(self, timeout: float) -> ProcessSpec | None:
        """Waits until every process answers its ready URL; returns the first that failed."""
        deadline = time.monotonic() + timeout
        pending = list(self.specs)
        with httpx.Client(timeout=2) as client:
            while pending:
                if (dead := self.dead()) is not None or self._stopping.is_set():
                    return dead
                if time.monotonic() > deadline:
                    return pending[0]
                spec = pending[0]
                try:
                    if client.get(spec.ready_url).status_code == 200:
                        pending.pop(0)
                        continue
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
        return None

    def stop(self) -> None:
        self._stopping.set()
        for spec in reversed(self.specs):
            if spec.process and spec.process.poll() is None:
                os.killpg(spec.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for spec in self.specs:
            if spec.process is None:
                continue
            try:
                spec.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(spec.process.pid, signal.SIGKILL)
                spec.process.wait()
        for pump in self._pumps:
            pump.join(timeout=5)

    def run_until_stopped(self) -> int:
        """Blocks until Ctrl-C / SIGTERM (returns 0) or a child dies (returns 1)."""
        # Installed explicitly: a shell starts background jobs with SIGINT ignored.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self._stopping.set())
        try:
            while not self._stopping.is_set():
                if (dead := self.dead()) is not None:
                    report_death(dead)
                    return 1
                time.sleep(0.5)
            return 0
        except KeyboardInterrupt:
            return 0
        finally:
            print("Stopping the hotline…", flush=True)
            self.stop()


def report_death(spec: ProcessSpec) -> None:
    code = spec.process.returncode if spec.process else "?"
    print(
        f"\nThe {spec.name} process stopped (exit code {code}); stopping the others.",
        file=sys.stderr,
    )
    print(f"Its last lines (full log: var/log/{spec.name}.log):", file=sys.stderr)
    for line in list(spec.tail)[-15:]:
        print(f"  {line}", file=sys.stderr)
