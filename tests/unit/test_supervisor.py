"""The supervisor with real child processes (small Python programs, no Rasa)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.ports import port_owners
from bot.settings import PROJECT_ROOT
from bot.supervisor import (
    ProcessSpec,
    RestartPolicy,
    Supervisor,
    exit_status,
)
from tests.e2e.conftest import free_port
from tests.fakes.supervised import READY_LINE, child_argv

SERVE = (
    "import http.server, sys\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers(); self.wfile.write(b'ok')\n"
    "    def log_message(self, *a): pass\n"
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n"
)


def server(name: str) -> ProcessSpec:
    port = free_port()
    return ProcessSpec(
        name=name,
        argv=[sys.executable, "-c", SERVE, str(port)],
        env={},
        ready_url=f"http://127.0.0.1:{port}/",
    )


def test_waits_until_all_are_ready_and_stops_all(tmp_path: Path) -> None:
    specs = [server("a"), server("b")]
    supervisor = Supervisor(specs, echo=False, log_dir=tmp_path)
    supervisor.start()
    try:
        assert supervisor.wait_ready(timeout=20) is None
    finally:
        supervisor.stop()
    assert all(s.process is not None and s.process.poll() is not None for s in specs)


def test_a_dying_process_is_reported_and_the_others_stopped(tmp_path: Path) -> None:
    dying = ProcessSpec(
        name="dies",
        argv=[sys.executable, "-c", "import sys; print('boom: bad config'); sys.exit(3)"],
        env={},
        ready_url="http://127.0.0.1:1/",
    )
    healthy = server("ok")
    supervisor = Supervisor([healthy, dying], echo=False, log_dir=tmp_path)
    supervisor.start()
    try:
        failed = supervisor.wait_ready(timeout=20)
        assert failed is dying
        deadline = time.monotonic() + 5
        while "boom: bad config" not in dying.tail and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "boom: bad config" in dying.tail
        assert dying.process is not None and exit_status(dying.process) == 3
    finally:
        supervisor.stop()
    assert healthy.process is not None and healthy.process.poll() is not None
    assert "boom: bad config" in (tmp_path / "dies.log").read_text()


# --- `hotline run`'s code path in a real process of its own, over small fake children ---

HOLD_PORT = (
    "import socket, sys, time\n"
    "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
    "print('holding', flush=True); time.sleep(60)\n"
)


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants(pid: int) -> set[int]:
    """Every live process below pid (children, their workers, …)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, ValueError):
                continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {p for p in found if alive(p)}


def wait_until(condition: Callable[[], bool], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def owner_pids(port: int) -> set[int]:
    return {pid for pid, _ in port_owners(port) if alive(pid)}


class Harness:
    """A supervisor process (Supervisor.run, as `hotline run`) and its output, line by line."""

    def __init__(
        self, tmp_path: Path, children: list[dict[str, Any]], policy: dict[str, float] | None = None
    ) -> None:
        config = tmp_path / "supervise.json"
        config.write_text(
            json.dumps(
                {
                    "children": children,
                    "log_dir": str(tmp_path / "log"),
                    "policy": policy
                    or {"limit": 3, "window_seconds": 60, "backoff_base_seconds": 0.1},
                }
            )
        )
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.supervised", "supervise", str(config)],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # signals in the tests reach it alone
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.append(raw.decode("utf-8", "replace").rstrip())

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = 20) -> None:
        assert wait_until(lambda: text in self.output, timeout), self.output

    def finish(self, timeout: float = 30) -> int:
        """Waits for the supervisor to exit and for all of its output; its exit code."""
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def end(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        self.finish()
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def harnesses() -> Iterator[list[Harness]]:
    started: list[Harness] = []
    yield started
    for harness in started:
        harness.end()


def child(name: str, **options: Any) -> dict[str, Any]:
    port = free_port()
    return {"name": name, "port": port, "argv": child_argv(port, **options)}


def test_a_killed_child_is_restarted_with_its_workers_while_the_others_keep_serving(
    tmp_path: Path, harnesses: list[Harness]
) -> None:
    actions, web = child("actions", worker=True), child("web")
    harness = Harness(tmp_path, [actions, web])
    harnesses.append(harness)
    harness.wait_for(READY_LINE)
    (worker,) = owner_pids(actions["port"])
    (manager,) = {p for p in descendants(harness.process.pid) if worker in descendants(p)}
    (web_pid,) = owner_pids(web["port"])

    os.kill(manager, signal.SIGKILL)  # as the OOM killer would

    # Its worker went with it, and a new one serves the port.
    assert wait_until(lambda: not alive(worker))
    assert wait_until(lambda: bool(owner_pids(actions["port"]) - {worker}))
    assert httpx.get(f"http://127.0.0.1:{actions['port']}/").status_code == 200
    # The other process was never touched, and the supervisor goes on.
    assert owner_pids(web["port"]) == {web_pid}
    assert harness.process.poll() is None
    assert "The actions process stopped (killed by SIGKILL); the others keep serving" in (
        harness.output
    )
    assert "Restarted actions" in harness.output


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_leaves_no_child_or_worker_running(
    tmp_path: Path, harnesses: list[Harness], signum: signal.Signals
) -> None:
    children = [child("rasa", worker=True), child("actions", worker=True), child("web")]
    harness = Harness(tmp_path, children)
    harnesses.append(harness)
    harness.wait_for(READY_LINE)
    below = descendants(harness.process.pid)
    assert len(below) == 5  # three children, two workers

    os.kill(harness.process.pid, signum)  # SIGHUP: the terminal window was closed

    assert harness.finish() == 0
    assert not {p for p in below if alive(p)}
    assert all(not owner_pids(c["port"]) for c in children)


def test_ctrl_c_with_the_output_pipe_gone_still_stops_every_child(tmp_path: Path) -> None:
    # `hotline run | tee up.log`, then Ctrl-C: tee dies first, so every later write to the
    # pipe fails; the supervisor must stop its children all the same.
    web = child("web", worker=True)
    config = tmp_path / "supervise.json"
    config.write_text(
        json.dumps(
            {
                "children": [web],
                "log_dir": str(tmp_path / "log"),
                "policy": {"limit": 3, "window_seconds": 60},
            }
        )
    )
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.supervised", "supervise", str(config)],
        cwd=PROJECT_ROOT,
        stdout=write_end,
        stderr=write_end,
        start_new_session=True,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            seen = b""
            while READY_LINE.encode() not in seen:
                chunk = pipe.read1(4096)  # type: ignore[attr-defined]
                assert chunk, seen.decode()
                seen += chunk
            below = descendants(process.pid)
        # The reader (tee) is gone; now Ctrl-C.
        os.kill(process.pid, signal.SIGINT)
        process.wait(timeout=30)
        assert not {p for p in below if alive(p)}
        assert not owner_pids(web["port"])
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_children_die_with_a_killed_supervisor(tmp_path: Path, harnesses: list[Harness]) -> None:
    children = [child("actions"), child("web")]
    harness = Harness(tmp_path, children)
    harnesses.append(harness)
    harness.wait_for(READY_LINE)
    below = descendants(harness.process.pid)
    assert len(below) == 2

    os.kill(harness.process.pid, signal.SIGKILL)  # no chance to clean up: the kernel does it
    harness.finish(timeout=10)

    assert wait_until(lambda: not {p for p in below if alive(p)}, timeout=10)


def test_a_taken_port_names_the_process_holding_it_and_starts_nothing(
    tmp_path: Path, harnesses: list[Harness]
) -> None:
    free, taken = child("actions"), child("web")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_PORT, str(taken["port"]), "--auth-token", "s3cret-value"],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"holding\n"
        harness = Harness(tmp_path, [free, taken])
        harnesses.append(harness)
        assert harness.finish() == 1
        assert f"web cannot start: port {taken['port']} (127.0.0.1) is already in use by " in (
            harness.output
        )
        assert f"pid {holder.pid}: {sys.executable} -c" in harness.output
        assert "--auth-token ***" in harness.output and "s3cret-value" not in harness.output
        assert not owner_pids(free["port"])  # nothing was started
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()


def test_a_restart_storm_gives_up_with_a_clear_message(
    tmp_path: Path, harnesses: list[Harness]
) -> None:
    crashing, web = child("actions", exit_after=1.0), child("web")
    harness = Harness(
        tmp_path,
        [crashing, web],
        policy={"limit": 2, "window_seconds": 60, "backoff_base_seconds": 0.05},
    )
    harnesses.append(harness)
    harness.wait_for(READY_LINE)
    below = descendants(harness.process.pid)

    assert harness.finish() == 1

    assert "Restarting it in 0.1 s (restart 2 of at most 2 within 60 s)" in harness.output
    assert (
        "The actions process failed 3 times within 60 s (last: exit code 3); giving up and "
        "stopping the hotline." in harness.output
    )
    assert not {p for p in below if alive(p)}
    assert not owner_pids(web["port"])


def test_backoff_doubles_up_to_its_ceiling() -> None:
    policy = RestartPolicy(backoff_base_seconds=1, backoff_max_seconds=30)
    assert [policy.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
