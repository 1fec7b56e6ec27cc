"""A fake Zalo OpenAPI (OA message API) and OAuth v4 server, with single-use refresh tokens."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.http import FakeServer, form_or_json

APP_ID = "1234567890123456789"
APP_SECRET = "fake-app-secret"


@dataclass
class Sent:
    user_id: str
    text: str
    at: float = field(default_factory=time.monotonic)


class FakeZaloAPI(FakeServer):
    def __init__(self, *, seed: int = 7) -> None:
        super().__init__()
        self.sent: list[Sent] = []
        self.valid_access = {"access-0"}
        self.valid_refresh = {"refresh-0"}
        self.refresh_calls = 0
        self.refresh_delay = 0.0  # widens the window of a refresh race
        self.error_codes: list[int] = []  # Zalo error codes for the next sends
        self.http_failures: list[int] = []
        self.random_failure_rate = 0.0
        self._rng = random.Random(seed)
        self._serial = 0
        self._refresh_lock = threading.Lock()

    def handle(
        self, method: str, url: Any, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        params = form_or_json(headers, body, url.query)
        lower = {k.lower(): v for k, v in headers.items()}
        if url.path == "/v4/oa/access_token":
            return self._refresh(lower, params)
        if url.path == "/v3.0/oa/message/cs":
            return self._send(lower, params)
        return 404, {"error": -209, "message": "Not supported API"}

    def _refresh(self, headers: dict[str, str], params: dict[str, Any]) -> tuple[int, Any]:
        if headers.get("secret_key") != APP_SECRET or params.get("app_id") != APP_ID:
            return 200, {"error": -14001, "error_name": "Invalid app"}
        time.sleep(self.refresh_delay)
        with self._refresh_lock:
            self.refresh_calls += 1
            token = params.get("refresh_token")
            if token not in self.valid_refresh:
                return 200, {"error": -14014, "error_name": "Invalid refresh token"}
            self.valid_refresh.discard(token)  # single use
            self._serial += 1
            access, refresh = f"access-{self._serial}", f"refresh-{self._serial}"
            self.valid_access = {access}
            self.valid_refresh.add(refresh)
        return 200, {"access_token": access, "refresh_token": refresh, "expires_in": "90000"}

    def _send(self, headers: dict[str, str], params: dict[str, Any]) -> tuple[int, Any]:
        with self.lock:
            if self.http_failures:
                return self.http_failures.pop(0), {"error": -1, "message": "fake HTTP failure"}
            if headers.get("access_token") not in self.valid_access:
                return 200, {"error": -216, "message": "Access token is invalid or expired"}
            if self.error_codes:
                code = self.error_codes.pop(0)
                return 200, {"error": code, "message": f"fake error {code}"}
            if self._rng.random() < self.random_failure_rate:
                if self._rng.random() < 0.5:
                    return 502, {"error": -1, "message": "bad gateway"}
                return 200, {"error": -32, "message": "Rate limited"}
            user_id = params["recipient"]["user_id"]
            self.sent.append(Sent(user_id, params["message"]["text"]))
            self._serial += 1
            return 200, {
                "error": 0,
                "message": "Success",
                "data": {"message_id": f"m{self._serial}", "user_id": user_id},
            }
