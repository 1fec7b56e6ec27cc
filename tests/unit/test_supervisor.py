"""The supervisor with real child processes (small Python programs, no Rasa)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bot.supervisor import ProcessSpec, Supervisor, exit_status
from tests.e2e.conftest import free_port

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
