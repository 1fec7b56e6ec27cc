"""Small real programs for the supervisor tests (no Rasa).

python -m tests.fakes.supervised serve PORT [--worker] [--exit-after SECONDS]
    an HTTP server answering 200; with --worker it forks a worker that holds the port while
    the first process only waits, as Sanic's worker manager does.
python -m tests.fakes.supervised supervise CONFIG.json
    `hotline run`'s code path (Supervisor.run) over the children the config lists.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import sys
import threading
import time
from pathlib import Path

READY_LINE = "SUPERVISED-READY"


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def serve(port: int, *, worker: bool, exit_after: float | None) -> None:
    if worker and os.fork() != 0:
        while True:  # the manager: holds nothing, waits for its worker
            try:
                os.wait()
            except ChildProcessError:
                return
    server = http.server.HTTPServer(("127.0.0.1", port), _Ok)
    print(f"serving on {port} (pid {os.getpid()})", flush=True)
    if exit_after is not None:
        threading.Timer(exit_after, lambda: os._exit(3)).start()
    server.serve_forever()


def child_argv(port: int, *, worker: bool = False, exit_after: float | None = None) -> list[str]:
    argv = [sys.executable, "-m", "tests.fakes.supervised", "serve", str(port)]
    if worker:
        argv.append("--worker")
    if exit_after is not None:
        argv += ["--exit-after", str(exit_after)]
    return argv


def supervise(config_path: Path) -> int:
    from bot.supervisor import ProcessSpec, RestartPolicy, Supervisor

    config = json.loads(config_path.read_text())
    specs = [
        ProcessSpec(
            name=c["name"],
            argv=c["argv"],
            env=dict(os.environ),
            ready_url=f"http://127.0.0.1:{c['port']}/",
            port=c["port"],
        )
        for c in config["children"]
    ]
    supervisor = Supervisor(
        specs, log_dir=Path(config["log_dir"]), policy=RestartPolicy(**config["policy"])
    )
    started = time.monotonic()
    code = supervisor.run(ready_timeout=30, on_ready=lambda took: READY_LINE)
    print(f"supervisor exits with {code} after {time.monotonic() - started:.1f} s", flush=True)
    return code


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    serve_args = sub.add_parser("serve")
    serve_args.add_argument("port", type=int)
    serve_args.add_argument("--worker", action="store_true")
    serve_args.add_argument("--exit-after", type=float)
    supervise_args = sub.add_parser("supervise")
    supervise_args.add_argument("config", type=Path)
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.port, worker=args.worker, exit_after=args.exit_after)
    else:
        sys.exit(supervise(args.config))


if __name__ == "__main__":
    main()
