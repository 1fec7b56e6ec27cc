"""`./dev chaos`: the real stack under load while its parts are killed, and what was lost.

Private PostgreSQL and Redis on their own ports; Rasa, the action server, the web app and the
delivery worker as separate processes under the same Supervisor `hotline run` uses (so a killed
one is restarted as in production). Simulated residents ask for hardship aid through the web chat
and Telegram webhooks (the fake Bot API hands them the replies) while, in turn, each process is
`kill -9`ed and PostgreSQL and Redis are restarted. At the end one table: requests residents
were told are saved but are missing, duplicates, webhooks acknowledged but never answered,
residents left without a reply, and the time to recover from each fault.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select

from bot.db.migrate import upgrade
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import ProcessSpec, RestartPolicy, Supervisor, process_specs
from tests.chaos.residents import ChatFeed, Outcome, Resident, TelegramResident, WebResident
from tests.chaos.servers import PrivatePostgres, PrivateRedis, free_port, wait_port
from tests.chaos.tally import Fault, MessageRecord, make_table, render
from tests.fakes import telegram_api

TELEGRAM_SECRET = "chaos-telegram-secret"
WORKER_READY_LINE = "workers running"
ROLES = ("rasa", "actions", "web", "worker")


@dataclass(frozen=True)
class Plan:
    web_residents: int
    telegram_residents: int
    settle_seconds: float  # steady load between two faults
    answer_timeout: float  # a Telegram resident waits this long for a reply
    faults: tuple[str, ...]


FULL = Plan(3, 3, 20.0, 240.0, ("actions", "web", "worker", "rasa", "postgres", "redis"))
SHORT = Plan(2, 2, 5.0, 150.0, ("actions", "web", "worker", "rasa", "postgres", "redis"))


def launch_spec(role: str, settings: Settings) -> ProcessSpec:
    """How the harness starts one process of the stack: the one place to change when each role
    gets its own command (`hotline run --role ROLE --port P`)."""
    if role == "worker":
        return ProcessSpec(
            name="worker",
            argv=[sys.executable, "-m", "bot.cli", "worker"],
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
            # It serves no HTTP; ready is its "workers running" log line (see wait_role_ready).
            ready_url=f"http://{settings.web_host}:{settings.web_port}/healthz",
        )
    return next(spec for spec in process_specs(settings) if spec.name == role)


def role_ready(spec: ProcessSpec, client: httpx.Client) -> bool:
    if spec.name == "worker":
        return any(WORKER_READY_LINE in line for line in list(spec.tail))
    try:
        return client.get(spec.ready_url).status_code == 200
    except httpx.HTTPError:
        return False


def wait_role_ready(spec: ProcessSpec, old_pid: int | None, timeout: float) -> float | None:
    """Waits until a new process of this role (not `old_pid`) is ready; when, or None."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            process = spec.process
            fresh = process is not None and process.pid != old_pid and process.returncode is None
            if fresh and role_ready(spec, client):
                return time.monotonic()
            time.sleep(0.2)
    return None


class Load:
    """Resident threads: each runs residents one after the other until stopped."""

    def __init__(self, make: list[Callable[[int], Resident]]) -> None:
        self.make = make
        self.stop = threading.Event()
        self.records: list[MessageRecord] = []
        self.lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self._threads: list[threading.Thread] = []
        self._numbers = iter(range(1, 10**6))

    def start(self) -> None:
        for factory in self.make:
            thread = threading.Thread(target=self._run, args=(factory,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _run(self, factory: Callable[[int], Resident]) -> None:
        while not self.stop.is_set():
            with self.lock:
                number = next(self._numbers)
            outcome = factory(number).converse(self.stop)
            with self.lock:
                self.outcomes.append(outcome)

    def saved(self, channel: str | None = None) -> int:
        with self.lock:
            return sum(len(o.codes) for o in self.outcomes if channel in (None, o.channel))

    def answered_since(self, at: float) -> set[str]:
        """Channels that gave a real answer to a message sent after `at`."""
        with self.lock:
            return {
                r.channel
                for r in self.records
                if r.sent_at >= at and r.answered_at is not None and not r.busy
            }

    def finish(self, timeout: float) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout)


def say(text: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {text}", flush=True)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout:.0f} s")
        time.sleep(0.2)


def stored_requests(database_url: str) -> list[tuple[str, str]]:
    """(conversation id, ref code) of every hardship request in the database."""
    from bot.requests.models import AidRequest
    from bot.residents.models import Resident as ResidentRow

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(ResidentRow.conversation_id, AidRequest.ref_code).join(
                    ResidentRow, ResidentRow.id == AidRequest.resident_id
                )
            ).all()
    finally:
        engine.dispose()
    return [(str(r[0]), str(r[1])) for r in rows]


def run(plan: Plan, *, keep: bool = False) -> int:
    """The whole run; the exit code is 1 when anything that must be 0 is not."""
    workdir = Path(tempfile.mkdtemp(prefix="hotline-chaos-"))
    say(f"working in {workdir} (logs in {workdir / 'log'})")
    postgres = PrivatePostgres(workdir / "pg")
    redis = PrivateRedis(workdir / "redis")
    feed = ChatFeed().start()
    supervisor: Supervisor | None = None
    load: Load | None = None
    failed = True
    try:
        redis.start()
        postgres.init()
        postgres.start()
        upgrade(postgres.url)
        say(f"PostgreSQL on {postgres.port}, Redis on {redis.port}: migrated")
        web_port = free_port()
        overrides = {
            "ENV": "test",
            "LOG_LEVEL": "INFO",
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis.url,
            "RASA_URL": f"http://127.0.0.1:{free_port()}",
            "ACTION_SERVER_URL": f"http://127.0.0.1:{free_port()}",
            "WEB_HOST": "127.0.0.1",
            "WEB_PORT": str(web_port),
            "RASA_TOKEN": uuid.uuid4().hex,
            "TELEGRAM_BOT_TOKEN": telegram_api.TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "TELEGRAM_API_BASE_URL": feed.url,
            "TELEGRAM_BOT_USERNAME": "hotline_chaos_bot",
            "WORKER_IN_PROCESS": "false",
            # A restarted worker takes over its predecessor's jobs after this idle time.
            "WORKER_CLAIM_IDLE_SECONDS": "15",
        }
        os.environ.update(overrides)
        subprocess.run(
            [sys.executable, "-m", "bot.cli", "teams", "import-demo", "--if-empty"],
            cwd=PROJECT_ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        settings = Settings()
        supervisor = Supervisor(
            [launch_spec(role, settings) for role in ROLES],
            echo=False,
            log_dir=workdir / "log",
            policy=RestartPolicy(
                limit=20, window_seconds=600, backoff_base_seconds=0.5, backoff_max_seconds=5
            ),
        )
        started = time.monotonic()
        supervisor.start()
        specs = {spec.name: spec for spec in supervisor.specs}
        for role in ROLES:
            if wait_role_ready(specs[role], None, 400) is None:
                tail = "\n".join(specs[role].tail)
                raise RuntimeError(f"{role} did not become ready:\n{tail}")
        say(f"stack ready in {time.monotonic() - started:.0f} s")
        threading.Thread(target=supervisor.supervise, daemon=True).start()

        base = f"http://127.0.0.1:{web_port}"
        makers: list[Callable[[int], Resident]] = []
        records: list[MessageRecord] = []
        load = Load(makers)
        records = load.records
        for _ in range(plan.web_residents):
            makers.append(lambda n: WebResident(n, load.records, load.lock, base_url=base))
        for _ in range(plan.telegram_residents):
            makers.append(
                lambda n: TelegramResident(
                    n,
                    load.records,
                    load.lock,
                    webhook_url=f"{base}/webhooks/telegram",
                    secret=TELEGRAM_SECRET,
                    feed=feed,
                    answer_timeout=plan.answer_timeout,
                )
            )
        load.start()
        wait_for(
            lambda: load.saved("web") > 0 and load.saved("telegram") > 0,
            300,
            "a first saved request on each channel",
        )
        say(f"steady load: {load.saved()} requests saved so far")

        faults: list[Fault] = []
        for name in plan.faults:
            time.sleep(plan.settle_seconds)
            fault = Fault(name, time.monotonic())
            faults.append(fault)
            if name in specs:
                spec = specs[name]
                if spec.process is None:
                    raise RuntimeError(f"{name} is not running")
                old = spec.process.pid
                os.kill(old, signal.SIGKILL)  # as the OOM killer does
                say(f"kill -9 {name} (pid {old})")
                fault.ready_at = wait_role_ready(spec, old, 400)
            elif name == "postgres":
                say("restarting PostgreSQL (immediate stop: every connection cut)")
                postgres.restart()
                fault.ready_at = time.monotonic()
            elif name == "redis":
                say("restarting Redis (SHUTDOWN, start)")
                redis.restart()
                wait_port(redis.port, 30)
                fault.ready_at = time.monotonic()
            say(
                f"{name} back after "
                f"{'—' if fault.ready_at is None else f'{fault.ready_at - fault.at:.1f} s'}"
            )
            try:
                wait_for(
                    lambda f=fault: load.answered_since(f.at) >= {"web", "telegram"},
                    plan.answer_timeout,
                    f"residents answered again after {name}",
                )
            except TimeoutError as exc:
                say(str(exc))
        time.sleep(plan.settle_seconds)
        say("stopping the load; waiting for answers still on their way")
        end = time.monotonic()
        load.finish(plan.answer_timeout + 30)
        told: dict[str, list[str]] = {}
        for outcome in load.outcomes:
            if outcome.codes:
                told.setdefault(outcome.conversation_id, []).extend(outcome.codes)
        table = make_table(
            told=told,
            stored=stored_requests(postgres.url),
            records=records,
            faults=faults,
            gave_up=sum(1 for o in load.outcomes if o.gave_up),
            end=end,
        )
        print()
        print(
            f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
            f"{plan.web_residents} web + {plan.telegram_residents} Telegram residents at a time"
        )
        print(render(table))
        for conversation, code in table.missing:
            print(f"MISSING: {code} told to {conversation}")
        failed = bool(table.missing or table.duplicates or table.webhooks_acked_unanswered)
        print("\nchaos: " + ("FAILED (a count that must be 0 is not)" if failed else "ok"))
        return 1 if failed else 0
    finally:
        if load is not None:
            load.stop.set()
        if supervisor is not None:
            supervisor.stop()
        redis.stop()
        with contextlib.suppress(RuntimeError):
            postgres.stop("immediate")
        feed.stop()
        if failed or keep:
            say(f"logs kept in {workdir / 'log'}")
            shutil.rmtree(workdir / "pg", ignore_errors=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
