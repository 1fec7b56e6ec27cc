"""A fake Telegram Bot API: records calls, answers like Telegram, fails on demand."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.http import FakeServer, form_or_json

TOKEN = "123456:TEST-token"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class FakeTelegramAPI(FakeServer):
    def __init__(self, *, token: str = TOKEN, seed: int = 4) -> None:
        super().__init__()
        self.token = token
        self.calls: list[Call] = []
        self.failures: list[tuple[int, dict[str, Any]]] = []  # (status, extra) for next sends
        self.random_failure_rate = 0.0
        self.updates: list[dict[str, Any]] = []
        self._rng = random.Random(seed)
        self._message_id = 0

    def fail_next(self, status: int, *, retry_after: int | None = None, times: int = 1) -> None:
        extra = {"parameters": {"retry_after": retry_after}} if retry_after is not None else {}
        self.failures.extend([(status, extra)] * times)

    def sent(self, method: str = "sendMessage") -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def handle(
        self, method: str, url: Any, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        prefix = f"/bot{self.token}/"
        if not url.path.startswith(prefix):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        api_method = url.path[len(prefix) :]
        params = form_or_json(headers, body, url.query)
        with self.lock:
            if api_method == "sendMessage":
                if self.failures:
                    status, extra = self.failures.pop(0)
                    return status, {
                        "ok": False,
                        "error_code": status,
                        "description": "fake failure",
                        **extra,
                    }
                if self._rng.random() < self.random_failure_rate:
                    status = self._rng.choice([429, 500, 502])
                    extra = {"parameters": {"retry_after": 0}} if status == 429 else {}
                    return status, {
                        "ok": False,
                        "error_code": status,
                        "description": "random",
                        **extra,
                    }
            self.calls.append(Call(api_method, params))
            self._message_id += 1
            message_id = self._message_id
        if api_method == "getMe":
            return 200, {
                "ok": True,
                "result": {
                    "id": 123456,
                    "is_bot": True,
                    "first_name": "Hotline",
                    "username": "hotline_test_bot",
                },
            }
        if api_method == "sendMessage":
            chat_id = int(params["chat_id"])
            return 200, {
                "ok": True,
                "result": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "text": params.get("text", ""),
                },
            }
        if api_method in ("answerCallbackQuery", "setWebhook", "deleteWebhook"):
            return 200, {"ok": True, "result": True}
        if api_method == "getUpdates":
            offset = int(params.get("offset") or 0)
            with self.lock:
                pending = [u for u in self.updates if u["update_id"] >= offset]
            if not pending:
                time.sleep(0.05)  # a long poll that ends early
            return 200, {"ok": True, "result": pending}
        return 400, {"ok": False, "error_code": 400, "description": f"unknown method {api_method}"}


def reply_markup(call: Call) -> dict[str, Any] | None:
    raw = call.params.get("reply_markup")
    if raw is None:
        return None
    return raw if isinstance(raw, dict) else json.loads(raw)
