"""A tiny threaded HTTP server on an ephemeral port, the base of the platform fakes."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class _Server(ThreadingHTTPServer):
    # socketserver's backlog of 5 drops the connections of a round of concurrent sends
    # (the client then retries after a second); a platform takes them all.
    request_queue_size = 128


class FakeServer:
    """Subclasses implement `handle(method, path, headers, body) -> (status, json)`."""

    def __init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, payload = fake.handle(
                    self.command, urlparse(self.path), dict(self.headers), raw
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(
        self, method: str, url: Any, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        raise NotImplementedError


def form_or_json(headers: dict[str, str], body: bytes, query: str = "") -> dict[str, Any]:
    """The parameters of a request, whatever its encoding."""
    params: dict[str, Any] = {k: v[0] for k, v in parse_qs(query).items()}
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if "json" in content_type and body:
        params.update(json.loads(body))
    elif "multipart/form-data" in content_type:
        boundary = content_type.split("boundary=")[1].encode()
        for part in body.split(b"--" + boundary):
            if b'name="' not in part:
                continue
            head, _, value = part.partition(b"\r\n\r\n")
            name = head.split(b'name="')[1].split(b'"')[0].decode()
            params[name] = value.rstrip(b"\r\n").decode()
    elif body:
        params.update({k: v[0] for k, v in parse_qs(body.decode()).items()})
    return params
