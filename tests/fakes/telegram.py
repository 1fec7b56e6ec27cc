"""A local stand-in for the Telegram Bot API: records calls, can fail on demand."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class FakeTelegram:
    base_url: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failing: bool = False  # answer 502 to everything, as an unreachable API would
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sent(self) -> list[dict[str, Any]]:
        with self.lock:
            return [params for method, params in self.calls if method == "sendMessage"]


def _handler(state: FakeTelegram) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode("utf-8")
            if "json" in (self.headers.get("content-type") or ""):
                params = json.loads(body or "{}")
            else:
                params = {k: v[0] for k, v in parse_qs(body).items()}
            method = self.path.rsplit("/", 1)[-1]
            if state.failing:
                self._reply(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
                return
            with state.lock:
                state.calls.append((method, params))
            if method == "getMe":
                result: Any = {
                    "id": 1,
                    "is_bot": True,
                    "first_name": "Hotline",
                    "username": "hotline_test_bot",
                }
            elif method == "sendMessage":
                result = {
                    "message_id": len(state.calls),
                    "date": int(time.time()),
                    "chat": {"id": int(params.get("chat_id", 0)), "type": "group", "title": "Team"},
                    "text": params.get("text", ""),
                }
            else:
                result = True
            self._reply(200, {"ok": True, "result": result})

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def fake_telegram() -> Iterator[FakeTelegram]:
    """Runs the fake API on a free port for the duration of the block."""
    state = FakeTelegram()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
