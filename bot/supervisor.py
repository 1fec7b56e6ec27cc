"""Starts the Rasa server, the action server and the web app together, keeps them running, and
stops them together.

- Ctrl-C, SIGTERM and SIGHUP (the terminal window closed) stop all three. Each child runs in its
  own process group, which is killed as a whole, so workers a child started go with it; on Linux
  a child is also killed by the kernel if the supervisor itself is killed (PR_SET_PDEATHSIG).
- A child that dies after start-up (a crash, the OOM killer) is restarted with exponential
  back-off while the others keep serving; after too many restarts within a window the supervisor
  gives up, says why, and stops everything.
- A port already taken is reported with the process holding it, before anything is started.

Children are started from the thread that calls `start()` / `supervise()`: the kernel sends the
parent-death signal when that *thread* ends, so it must be the one that lives until `stop()`.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import httpx
import yaml

from bot.ports import PortTaken, check_port_free
from bot.privacy.registry import RASA_REDIS_KEY_PREFIX, RASA_TRACKER_EXPIRY_SECONDS
from bot.settings import PROJECT_ROOT, Settings
from bot.training import MODEL_PATH, RASA_PYTHON, rasa_env

RUN_DIR = PROJECT_ROOT / "var" / "run"
LOG_DIR = PROJECT_ROOT / "var" / "log"
# Rasa's tracker store, in memory or on Redis (hotline_nlu/tracker_store.py, loaded inside Rasa).
COMPACT_TRACKER_STORE = "hotline_nlu.tracker_store.CompactTrackerStore"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class RestartPolicy:
    """How often a dying process is restarted before the supervisor gives up."""

    limit: int = 5
    window_seconds: float = 300.0
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RestartPolicy:
        return cls(
            limit=settings.supervisor_restart_limit,
            window_seconds=settings.supervisor_restart_window_seconds,
            backoff_base_seconds=settings.supervisor_backoff_base_seconds,
            backoff_max_seconds=settings.supervisor_backoff_max_seconds,
        )

    def delay(self, failures: int) -> float:
        """Seconds to wait before restart number `failures` (1, 2, …) within the window."""
        return float(
            min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** max(0, failures - 1))
        )


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready_url: str | None  # None: ready as soon as it runs (the worker has no port)
    port: int | None = None  # checked free before every start
    host: str = "127.0.0.1"
    log_name: str = ""  # var/log/<log_name>.log; the name by default
    process: subprocess.Popen[bytes] | None = None
    tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=30))
    failures: collections.deque[float] = field(default_factory=collections.deque)
    restart_at: float | None = None  # set while the process waits to be restarted

    @property
    def log_file(self) -> str:
        return f"{self.log_name or self.name}.log"


def write_endpoints(settings: Settings, *, port: int | None = None) -> Path:
    """Writes the endpoints file a Rasa server runs with: the action server, our tracker
    store (on Redis if configured, with Rasa's Redis lock store: what lets several Rasa servers
    share conversations)."""
    from bot.actionserver import authorization_header

    token = settings.action_server_token.get_secret_value()
    endpoints: dict[str, object] = {
        "action_endpoint": {
            "url": f"{settings.action_server_url.rstrip('/')}/webhook",
            # Rasa's EndpointConfig sends these headers with every action call.
            "headers": {"Authorization": authorization_header(token)},
        }
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
        # Rasa's own Redis store rewrites the whole conversation every turn; ours appends.
        endpoints["tracker_store"] = {
            **redis,
            "type": COMPACT_TRACKER_STORE,
            "record_exp": RASA_TRACKER_EXPIRY_SECONDS,
        }
        endpoints["lock_store"] = dict(redis)
    else:
        # In memory; a turn's cost does not grow with the conversation's length either way.
        endpoints["tracker_store"] = {"type": COMPACT_TRACKER_STORE}
    if settings.intent_stats_enabled:
        # Counts of messages per day, intent and channel; reads DATABASE_URL (process_specs).
        endpoints["event_broker"] = {
            "type": "hotline_nlu.stats_broker.IntentStatsBroker",
            "flush_seconds": settings.intent_stats_flush_seconds,
        }
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    # One file per Rasa port, so a test stack and a developer's stack never share one.
    port = port or settings.rasa_port or urlsplit(settings.rasa_url).port or 5005
    path = RUN_DIR / f"endpoints-{port}.yml"
    # It holds secrets: readable by this user only, from the first byte on.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(yaml.safe_dump(endpoints, sort_keys=False))
    return path


# `hotline run --role …`: what one machine runs. The default is every role but `worker`
# (the web app then runs the workers in its own process, as WORKER_IN_PROCESS says).
ROLES = ("rasa", "actions", "web", "worker")
ALL_IN_ONE = ("rasa", "actions", "web")
LISTENING_ROLES = ("rasa", "actions", "web")


def parse_roles(values: list[str]) -> list[str]:
    """Roles from `--role` values (repeatable, or comma-separated), in start-up order."""
    named = {part.strip().lower() for value in values for part in value.split(",") if part.strip()}
    unknown = sorted(named - set(ROLES))
    if unknown:
        raise ValueError(f"unknown role {', '.join(unknown)}: choose from {', '.join(ROLES)}")
    return [role for role in ROLES if role in named] or list(ALL_IN_ONE)


def _probe_host(host: str) -> str:
    """The address to check a server at: a wildcard bind is reachable on loopback."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 — compared, not bound


def role_specs(
    settings: Settings,
    roles: list[str],
    *,
    rasa_workers: int = 1,
    host: str | None = None,
    port: int | None = None,
) -> list[ProcessSpec]:
    """How to start each process of the given roles; `host`/`port` are those of the one
    listening role (refused with several)."""
    listening = [role for role in roles if role in LISTENING_ROLES]
    if (host or port) and len(listening) != 1:
        raise ValueError("--host and --port need exactly one of the roles rasa, actions, web")
    builders = {"rasa": _rasa_spec, "actions": _actions_spec, "web": _web_spec}
    specs = []
    for role in roles:
        if role == "worker":
            specs.append(_worker_spec())
            continue
        spec = builders[role](settings, roles=roles, host=host, port=port)
        if role == "rasa" and rasa_workers > 1:
            spec.env["SANIC_WORKERS"] = str(rasa_workers)
        specs.append(spec)
    return specs


def process_specs(settings: Settings, *, rasa_workers: int = 1) -> list[ProcessSpec]:
    """Returns how to start the all-in-one hotline: Rasa, the action server, the web app."""
    return role_specs(settings, list(ALL_IN_ONE), rasa_workers=rasa_workers)


def _log_name(role: str, port: int | None) -> str:
    # Several instances of a role on one machine each keep their own log.
    return f"{role}-{port}" if port else role


def _rasa_spec(
    settings: Settings, *, roles: list[str], host: str | None, port: int | None
) -> ProcessSpec:
    url = urlsplit(settings.rasa_url)
    bind = host or settings.rasa_host or url.hostname or "127.0.0.1"
    chosen = port or settings.rasa_port or url.port or 5005
    token = settings.rasa_token.get_secret_value()
    env = rasa_env()
    # The event broker writes to the app's database, which may come from .env (not Rasa's env).
    env["DATABASE_URL"] = settings.database_url
    # A Rasa server killed mid-turn leaves the conversation's lock in Redis; another server
    # waits for it to expire. Nobody waits for a turn longer than RASA_TIMEOUT_SECONDS.
    env.setdefault("TICKET_LOCK_LIFETIME", str(max(1, int(settings.rasa_timeout_seconds))))
    return ProcessSpec(
        name="rasa",
        argv=[
            str(RASA_PYTHON),
            "-m",
            "hotline_nlu.launch",  # Rasa's command line, set up for the hotline first
            "run",
            "--model",
            str(MODEL_PATH),
            "--endpoints",
            str(write_endpoints(settings, port=chosen)),
            "--credentials",
            str(PROJECT_ROOT / "credentials.yml"),
            "--enable-api",
            "--auth-token",
            token,
            "-i",
            bind,
            "-p",
            str(chosen),
        ],
        env=env,
        ready_url=f"http://{_probe_host(bind)}:{chosen}/status?token={token}",
        port=chosen,
        host=bind,
        log_name=_log_name("rasa", port),
    )


def _actions_spec(
    settings: Settings, *, roles: list[str], host: str | None, port: int | None
) -> ProcessSpec:
    bind = host or settings.action_server_host
    chosen = port or settings.action_server_port or urlsplit(settings.action_server_url).port
    chosen = chosen or 5055
    return ProcessSpec(
        name="actions",
        argv=[sys.executable, "-m", "bot.actionserver"],
        env={
            **os.environ,
            "PYTHONWARNINGS": "ignore",
            # The child reads the same values the endpoints file was written from.
            "ACTION_SERVER_URL": settings.action_server_url,
            "ACTION_SERVER_HOST": bind,
            "ACTION_SERVER_PORT": str(chosen),
            "ACTION_SERVER_TOKEN": settings.action_server_token.get_secret_value(),
        },
        ready_url=f"http://{_probe_host(bind)}:{chosen}/health",
        port=chosen,
        host=bind,
        log_name=_log_name("actions", port),
    )


def _web_spec(
    settings: Settings, *, roles: list[str], host: str | None, port: int | None
) -> ProcessSpec:
    bind = host or settings.web_host
    chosen = port or settings.web_port
    env = dict(os.environ)
    if "worker" in roles:  # the workers have a process of their own here
        env["WORKER_IN_PROCESS"] = "false"
    return ProcessSpec(
        name="web",
        argv=[
            sys.executable,
            "-m",
            "uvicorn",
            "bot.web.app:create_app",
            "--factory",
            "--host",
            bind,
            "--port",
            str(chosen),
            "--no-access-log",
        ],
        env=env,
        ready_url=f"http://{_probe_host(bind)}:{chosen}/healthz",
        port=chosen,
        host=bind,
        log_name=_log_name("web", port),
    )


def _worker_spec() -> ProcessSpec:
    return ProcessSpec(
        name="worker",
        argv=[sys.executable, "-m", "bot.cli", "worker"],
        env=dict(os.environ),
        ready_url=None,  # no port: ready once it runs (it says "workers running" in its log)
        log_name=f"worker-{os.getpid()}",
    )


# --- children die with the supervisor (Linux) ---

_PR_SET_PDEATHSIG = 1


def _parent_death_hook() -> Callable[[], None] | None:
    """Returns a pre-exec function asking the kernel to SIGKILL the child when we die."""
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    # Looked up here, in the parent: the child between fork and exec should do as little as it can.
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    parent = os.getpid()

    def die_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request was made
            os._exit(1)

    return die_with_parent


def exit_status(process: subprocess.Popen[bytes]) -> int | None:
    """The child's return code (negative: killed by that signal) or None, without reaping it.

    An exited but unreaped child keeps its pid, and so its process group id, reserved: the
    group can then be killed without any risk of hitting an unrelated process that got the id.
    """
    if process.returncode is not None:
        return process.returncode
    try:
        info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped elsewhere
        return process.poll()
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def _has_exited(process: subprocess.Popen[bytes]) -> bool:
    return exit_status(process) is not None


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Signals the child's whole process group (it leads its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


class Supervisor:
    """Owns the child processes: start, wait until ready, restart the fallen, stop."""

    def __init__(
        self,
        specs: list[ProcessSpec],
        *,
        echo: bool = True,
        log_dir: Path = LOG_DIR,
        policy: RestartPolicy | None = None,
    ) -> None:
        self.specs = specs
        self.echo = echo
        self.log_dir = log_dir
        self.policy = policy or RestartPolicy()
        self._stopping = threading.Event()
        # `step` (which may restart a child) and `stop` never run at once, so no child is
        # started after `stop` collected the ones to end.
        self._lock = threading.Lock()
        self._pumps: list[threading.Thread] = []
        self._preexec = _parent_death_hook()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def request_stop(self, *_: object) -> None:
        """Asks the supervising loop to stop (safe from a signal handler)."""
        self._stopping.set()

    def install_signal_handlers(self) -> None:
        """Ctrl-C, SIGTERM and SIGHUP stop everything; main thread only."""

        # Installed explicitly: a shell starts background jobs with SIGINT ignored, and SIGHUP's
        # default (die at once) would leave the children running.
        def handler(signum: int, frame: FrameType | None) -> None:
            self.request_stop()

        for signum in STOP_SIGNALS:
            signal.signal(signum, handler)

    def say(self, text: str, *, err: bool = True) -> None:
        """Prints a line for the operator; a closed terminal or pipe (`| tee`) is not an error."""
        with contextlib.suppress(OSError, ValueError):
            print(text, file=sys.stderr if err else sys.stdout, flush=True)

    def check_ports(self) -> None:
        """Raises PortTaken if any child's port is held by another process."""
        for spec in self.specs:
            if spec.port is not None:
                check_port_free(spec.name, spec.host, spec.port)

    def start(self) -> None:
        """Starts every child; raises PortTaken (starting nothing) if a port is taken."""
        self.check_ports()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.specs:
            self._spawn(spec)

    def _spawn(self, spec: ProcessSpec) -> None:
        spec.restart_at = None
        spec.process = subprocess.Popen(  # noqa: S603 — fixed argv built by us, no shell
            spec.argv,
            cwd=PROJECT_ROOT,
            env=spec.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, out of reach of the terminal's ^C
            preexec_fn=self._preexec,
        )
        pump = threading.Thread(target=self._pump, args=(spec, spec.process), daemon=True)
        pump.start()
        self._pumps.append(pump)

    def _pump(self, spec: ProcessSpec, process: subprocess.Popen[bytes]) -> None:
        if process.stdout is None:
            raise RuntimeError("process.stdout is missing")
        with process.stdout, (self.log_dir / spec.log_file).open("ab") as log:
            for raw in process.stdout:
                log.write(raw)
                log.flush()
                line = raw.decode("utf-8", "replace").rstrip()
                spec.tail.append(line)
                if self.echo and line:
                    try:
                        print(f"[{spec.name}] {line}", flush=True)
                    except (OSError, ValueError):
                        # `| tee` ended or the terminal closed: keep logging to the file.
                        self.echo = False

    def dead(self) -> ProcessSpec | None:
        """Returns a process that has exited, if any."""
        return next((s for s in self.specs if s.process and _has_exited(s.process)), None)

    def wait_ready(self, timeout: float) -> ProcessSpec | None:
        """Waits until every process answers its ready URL; returns the first that failed.

        Returns None also when a stop was requested meanwhile (see `stopping`).
        """
        deadline = time.monotonic() + timeout
        pending = list(self.specs)
        with httpx.Client(timeout=2) as client:
            while pending:
                if (dead := self.dead()) is not None or self._stopping.is_set():
                    return dead
                if time.monotonic() > deadline:
                    return pending[0]
                spec = pending[0]
                if spec.ready_url is None:
                    pending.pop(0)
                    continue
                try:
                    if client.get(spec.ready_url).status_code == 200:
                        pending.pop(0)
                        continue
                except httpx.HTTPError:
                    pass
                self._stopping.wait(0.5)
        return None

    def step(self) -> str | None:
        """One round of watching: reaps fallen children, restarts those due; a message on giving up."""
        with self._lock:
            if self._stopping.is_set():
                return None
            return self._step(time.monotonic())

    def _step(self, now: float) -> str | None:
        for spec in self.specs:
            if spec.restart_at is not None:
                due = now >= spec.restart_at
                if due and (message := self._restart(spec, now)) is not None:
                    return message
                continue
            if spec.process is None or not _has_exited(spec.process):
                continue
            # Anything the child started (Sanic or uvicorn workers) must not keep its port.
            _signal_group(spec.process, signal.SIGKILL)
            spec.process.wait()
            if (message := self._schedule_restart(spec, now, describe_exit(spec))) is not None:
                return message
        return None

    def _schedule_restart(self, spec: ProcessSpec, now: float, reason: str) -> str | None:
        while spec.failures and now - spec.failures[0] > self.policy.window_seconds:
            spec.failures.popleft()
        spec.failures.append(now)
        if len(spec.failures) > self.policy.limit:
            return (
                f"The {spec.name} process failed {len(spec.failures)} times within "
                f"{self.policy.window_seconds:.0f} s (last: {reason}); giving up and stopping "
                f"the hotline. Its log: {self.log_dir / spec.log_file}"
            )
        delay = self.policy.delay(len(spec.failures))
        spec.restart_at = now + delay
        self.say(
            f"\nThe {spec.name} process stopped ({reason}); the others keep serving. "
            f"Restarting it in {delay:.1f} s (restart {len(spec.failures)} of at most "
            f"{self.policy.limit} within {self.policy.window_seconds:.0f} s)."
        )
        self._say_tail(spec)
        return None

    def _restart(self, spec: ProcessSpec, now: float) -> str | None:
        try:
            if spec.port is not None:
                check_port_free(spec.name, spec.host, spec.port)
        except PortTaken as exc:
            spec.restart_at = None
            return self._schedule_restart(spec, now, str(exc))
        spec.tail.clear()
        self._spawn(spec)
        if spec.process is None:
            raise RuntimeError("spec.process is missing")
        self.say(f"Restarted {spec.name} (pid {spec.process.pid}).")
        return None

    def _say_tail(self, spec: ProcessSpec) -> None:
        lines = [line for line in list(spec.tail)[-15:] if line]
        if lines:
            self.say(f"Its last lines (full log: {self.log_dir / spec.log_file}):")
            for line in lines:
                self.say(f"  {line}")

    def supervise(self) -> int:
        """Watches until a stop is requested (returns 0) or a process keeps failing (1)."""
        while not self._stopping.is_set():
            if (message := self.step()) is not None:
                self.say(f"\n{message}")
                return 1
            self._stopping.wait(POLL_SECONDS)
        return 0

    def run(self, *, ready_timeout: float, on_ready: Callable[[float], str]) -> int:
        """`hotline run`: start, wait until ready, supervise, always stop; the exit code."""
        self.install_signal_handlers()
        started = time.monotonic()
        try:
            self.start()
        except PortTaken as exc:
            self.say(str(exc))
            return 1
        try:
            failed = self.wait_ready(ready_timeout)
            if self.stopping:
                return 0
            if failed is not None:
                if failed.process and _has_exited(failed.process):
                    self.say(f"\nThe {failed.name} process stopped ({describe_exit(failed)}).")
                    self._say_tail(failed)
                else:
                    self.say(f"{failed.name} was not ready after {ready_timeout:.0f} s.")
                return 1
            self.say(on_ready(time.monotonic() - started), err=False)
            return self.supervise()
        finally:
            self.say("Stopping the hotline…")
            self.stop()

    def stop(self, grace_seconds: float = 15.0) -> None:
        """Stops every child and everything it started: SIGTERM, then SIGKILL after the grace."""
        self._stopping.set()
        with self._lock:
            self._stop_children(grace_seconds)
        for pump in self._pumps:
            pump.join(timeout=5)

    def _stop_children(self, grace_seconds: float) -> None:
        # Reaped ones (returncode set) had their group killed when they were reaped.
        running = [s.process for s in self.specs if s.process and s.process.returncode is None]
        for process in reversed(running):
            if not _has_exited(process):
                _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline and not all(_has_exited(p) for p in running):
            time.sleep(0.05)
        # Leader gone or not, members of its group (workers) may remain: no survivors.
        for process in running:
            _signal_group(process, signal.SIGKILL)
            process.wait()


def describe_exit(spec: ProcessSpec) -> str:
    code = exit_status(spec.process) if spec.process else None
    if code is None:
        return "exit code ?"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
