"""The web app without Rasa: page, cookies, input limits, health checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.settings import get_settings
from bot.web.app import create_app
from tests.e2e.conftest import free_port


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[TestClient]:
    monkeypatch.setenv("RASA_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ACTION_SERVER_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    from bot.db import session as db_session

    db_session.get_engine.cache_clear()
    with TestClient(create_app()) as test_client:
        yield test_client
    db_session.get_engine().dispose()
    db_session.get_engine.cache_clear()
    get_settings.cache_clear()


def test_chat_page_renders_its_template_and_issues_an_unguessable_cookie(client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.template.name == "chat.html"  # type: ignore[attr-defined]
    assert response.context["title"] == "Tổng đài hỗ trợ"  # type: ignore[attr-defined]
    cookie = response.cookies["hotline_chat"]
    assert len(cookie) >= 22
    assert "httponly" in response.headers["set-cookie"].lower()


def test_a_forged_cookie_is_replaced(client) -> None:
    client.cookies.set("hotline_chat", "../../etc")
    response = client.get("/")
    assert response.cookies["hotline_chat"] != "../../etc"


def test_rasa_down_gets_a_polite_reply_not_an_error(client) -> None:
    response = client.post("/api/chat/messages", json={"text": "chào"})
    assert response.status_code == 200
    assert "hệ thống đang bận" in response.json()["replies"][0]["text"]


@pytest.mark.parametrize(
    "body",
    [{"text": 5}, {"text": None}, {}, {"text": "x" * 20_001}, {"text": "a", "message_id": "a b"}],
)
def test_wrong_types_and_shapes_get_422_with_a_reason(client, body) -> None:
    response = client.post("/api/chat/messages", json=body)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_binary_and_oversized_bodies_are_refused(client) -> None:
    binary = client.post(
        "/api/chat/messages",
        content=bytes(range(256)),
        headers={"content-type": "application/json"},
    )
    assert binary.status_code in (400, 422)
    big = client.post("/api/chat/messages", content=b"{" * 300_000)
    assert big.status_code == 413


def test_health_and_readiness_say_what_is_missing(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["rasa"].startswith("error")
    assert checks["action_server"].startswith("error")
