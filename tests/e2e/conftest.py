"""The real hotline, started once per test session on free ports: Rasa server (trained model),
action server and web app, talking HTTP to each other, on a real database and Redis.

PostgreSQL and Redis are used when HOTLINE_TEST_POSTGRES_URL / HOTLINE_TEST_REDIS_URL are set
(as in CI); otherwise a fresh SQLite file and the in-process Redis stand-in.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from bot.db.migrate import upgrade
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import Supervisor, process_specs
from bot.training import MODEL_PATH
from tests.fakes import telegram_api, zalo_api
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.zalo_api import FakeZaloAPI

POSTGRES_URL = os.environ.get("HOTLINE_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL")
# The stack gets its own Redis database: the unit tests flush theirs between tests. Several
# checkouts testing on one machine each set their own with HOTLINE_TEST_STACK_REDIS_DB.
STACK_REDIS_DB = os.environ.get("HOTLINE_TEST_STACK_REDIS_DB", "12")
STACK_REDIS_URL = (
    urlunsplit(urlsplit(REDIS_URL)._replace(path=f"/{STACK_REDIS_DB}")) if REDIS_URL else None
)


E2E_TELEGRAM_SECRET = "e2e-telegram-secret"
E2E_ZALO_OA_SECRET = "e2e-zalo-oa-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveStack:
    settings: Settings
    web_url: str
    log_dir: Path
    content_dir: Path
    database_url: str
    supervisor: Supervisor

    @contextmanager
    def chat(self) -> Iterator[httpx.Client]:
        """A new browser-like client: its own cookie, so its own conversation."""
        with httpx.Client(base_url=self.web_url, timeout=60) as client:
            client.get("/")
            yield client

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.log_dir.glob("*.log"))

    def rasa_tracker(self, conversation_id: str) -> dict:
        token = self.settings.rasa_token.get_secret_value()
        response = httpx.get(
            f"{self.settings.rasa_url}/conversations/{conversation_id}/tracker",
            params={"token": token},
            timeout=10,
        )
        response.raise_for_status()
        return dict(response.json())


def handoffs(stack: LiveStack) -> list[tuple[str, str]]:
    """(conversation id, reason) of every hand-off in the stack's database."""
    from bot.handoff.models import HandoffRequest
    from bot.residents.models import Resident

    engine = create_engine(stack.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Resident.conversation_id, HandoffRequest.reason).join(
                Resident, Resident.id == HandoffRequest.resident_id
            )
        ).all()
    engine.dispose()
    return [(r[0], r[1]) for r in rows]


def hand_back_all(stack: LiveStack, conversation_id: str) -> None:
    """Closes the conversation's hand-off as a staff member would (the bot owns it again)."""
    from bot.console.service import Actor, active_handoff, hand_back
    from bot.handoff.models import HandoffOutcome

    engine = create_engine(stack.database_url)
    with Session(engine) as session, session.begin():
        handoff = active_handoff(session=session, conversation_id=conversation_id)
        if handoff is not None:
            hand_back(
                session=session,
                handoff_id=handoff.id,
                actor=Actor(id=0, name="Nhân viên thử", role="admin"),
                outcome=HandoffOutcome.RESOLVED,
            )
    engine.dispose()


def say(client: httpx.Client, text: str, message_id: str | None = None) -> list[dict]:
    body: dict[str, object] = {"text": text}
    if message_id:
        body["message_id"] = message_id
    response = client.post("/api/chat/messages", json=body)
    assert response.status_code == 200, response.text
    return list(response.json()["replies"])


@dataclass
class ChannelFakes:
    telegram: FakeTelegramAPI
    zalo: FakeZaloAPI

    @property
    def env(self) -> dict[str, str]:
        """The stack's channel settings: both connectors on, pointed at the fakes."""
        return {
            "TELEGRAM_BOT_TOKEN": telegram_api.TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": E2E_TELEGRAM_SECRET,
            "TELEGRAM_API_BASE_URL": self.telegram.url,
            "TELEGRAM_BOT_USERNAME": "hotline_test_bot",
            "ZALO_APP_ID": zalo_api.APP_ID,
            "ZALO_APP_SECRET": zalo_api.APP_SECRET,
            "ZALO_OA_SECRET_KEY": E2E_ZALO_OA_SECRET,
            "ZALO_ACCESS_TOKEN": "access-0",
            "ZALO_REFRESH_TOKEN": "refresh-0",
            "ZALO_API_BASE_URL": self.zalo.url,
            "ZALO_OAUTH_BASE_URL": self.zalo.url,
        }


@pytest.fixture(scope="session")
def channel_fakes() -> Iterator[ChannelFakes]:
    """The fake Telegram Bot API and Zalo OpenAPI the stack's connectors talk to."""
    fakes = ChannelFakes(FakeTelegramAPI().start(), FakeZaloAPI().start())
    yield fakes
    fakes.telegram.stop()
    fakes.zalo.stop()


def create_schema() -> tuple[str, str]:
    """A fresh schema in the test PostgreSQL database: its name and a URL that uses it."""
    schema = f"e2e_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL or "")
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()  # an engine left to the GC leaves its connection open (ResourceWarning)
    return schema, f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


def drop_schema(schema: str) -> None:
    admin = create_engine(POSTGRES_URL or "")
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def live_stack(
    tmp_path_factory: pytest.TempPathFactory, channel_fakes: ChannelFakes
) -> Iterator[LiveStack]:
    if not MODEL_PATH.exists():
        pytest.fail("no trained model: run ./dev test (it trains when needed)")
    workdir = tmp_path_factory.mktemp("stack")
    content_dir = workdir / "content"
    shutil.copytree(PROJECT_ROOT / "data" / "content", content_dir)

    schema = None
    if POSTGRES_URL:
        schema, database_url = create_schema()
    else:
        database_url = f"sqlite:///{workdir / 'hotline.db'}"
    upgrade(database_url)

    rasa_port, action_port, web_port = free_port(), free_port(), free_port()
    overrides = {
        "ENV": "test",
        "DATABASE_URL": database_url,
        "RASA_URL": f"http://127.0.0.1:{rasa_port}",
        "ACTION_SERVER_URL": f"http://127.0.0.1:{action_port}",
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(web_port),
        "RASA_TOKEN": uuid.uuid4().hex,
        "CONTENT_DIR": str(content_dir),
        "LOG_LEVEL": "INFO",
        # Rasa's event broker writes its intent counts every second (5 s by default).
        "INTENT_STATS_FLUSH_SECONDS": "1",
        **channel_fakes.env,
        # Redis db 12 may be shared with other runs: a queue of this run's own.
        "JOBS_STREAM": f"hotline:jobs:{uuid.uuid4().hex[:10]}",
    }
    if STACK_REDIS_URL:
        overrides["REDIS_URL"] = STACK_REDIS_URL
    with pytest.MonkeyPatch.context() as mp:
        for key, value in overrides.items():
            mp.setenv(key, value)
        if not STACK_REDIS_URL:
            mp.delenv("REDIS_URL", raising=False)
        settings = Settings()
        supervisor = Supervisor(process_specs(settings), echo=False, log_dir=workdir / "log")
        supervisor.start()
    try:
        failed = supervisor.wait_ready(timeout=240)
        if failed is not None:
            tail = "\n".join(failed.tail)
            pytest.fail(f"{failed.name} did not become ready:\n{tail}")
        # Watched as `hotline run` does: a process that dies is restarted.
        threading.Thread(target=supervisor.supervise, daemon=True).start()
        yield LiveStack(
            settings=settings,
            web_url=f"http://127.0.0.1:{web_port}",
            log_dir=workdir / "log",
            content_dir=content_dir,
            database_url=database_url,
            supervisor=supervisor,
        )
    finally:
        supervisor.stop()
        if schema:
            drop_schema(schema)
