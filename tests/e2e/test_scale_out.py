"""Several instances of every role on PostgreSQL and Redis, as on several machines: two Rasa
servers (each with its own action server), two web apps and two workers, each started by `hotline run
--role …`'s own process specs on its own port.

- A resident starts a form on the conversation's own Rasa server; that server is killed;
  the next turns go to the other one and the form carries on with its slots (Redis tracker).
- Telegram messages reach both web apps; the two workers answer each exactly once.
- Outbound messages queued in the database are each delivered once by the two workers.

Needs HOTLINE_TEST_POSTGRES_URL and HOTLINE_TEST_REDIS_URL (as in CI): without a shared
database and Redis there is nothing to share, and the test is skipped.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bot.conversations.messages import OutboundReply
from bot.conversations.rasa_client import server_order
from bot.db.migrate import upgrade
from bot.outbound.models import OutboundMessage, OutboundStatus
from bot.outbound.service import enqueue
from bot.requests.models import HealthDeclaration
from bot.residents.models import Resident
from bot.settings import Settings
from bot.supervisor import ProcessSpec, Supervisor, role_specs
from bot.training import MODEL_PATH
from tests.e2e.conftest import (
    E2E_TELEGRAM_SECRET,
    POSTGRES_URL,
    STACK_REDIS_URL,
    ChannelFakes,
    create_schema,
    drop_schema,
    free_port,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (POSTGRES_URL and STACK_REDIS_URL),
        reason="needs HOTLINE_TEST_POSTGRES_URL and HOTLINE_TEST_REDIS_URL (shared state)",
    ),
]


@dataclass
class Cluster:
    rasa: dict[str, ProcessSpec]  # URL → its process
    web_urls: list[str]
    workers: list[ProcessSpec]
    database_url: str
    log_dir: Path

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )


def _named(spec: ProcessSpec, name: str) -> ProcessSpec:
    spec.name = name
    spec.log_name = name
    return spec


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, channel_fakes: ChannelFakes
) -> Iterator[Cluster]:
    if not MODEL_PATH.exists():
        pytest.fail("no trained model: run ./dev test (it trains when needed)")
    workdir = tmp_path_factory.mktemp("cluster")
    schema, database_url = create_schema()
    upgrade(database_url)

    rasa_ports = [free_port(), free_port()]
    action_ports = [free_port(), free_port()]
    web_ports = [free_port(), free_port()]
    rasa_urls = [f"http://127.0.0.1:{port}" for port in rasa_ports]
    action_urls = [f"http://127.0.0.1:{port}" for port in action_ports]
    overrides = {
        "ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": STACK_REDIS_URL or "",
        "RASA_URLS": ",".join(rasa_urls),
        "RASA_URL": rasa_urls[0],
        "RASA_TOKEN": uuid.uuid4().hex,
        "ACTION_SERVER_URLS": ",".join(action_urls),
        "WORKER_IN_PROCESS": "false",
        "JOBS_STREAM": f"hotline:jobs:{uuid.uuid4().hex[:10]}",
        "LOG_LEVEL": "INFO",
        **channel_fakes.env,
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in overrides.items():
            mp.setenv(key, value)
        settings = Settings()
        # One Rasa server and its own action server per "machine".
        pairs = [Settings(action_server_url=url) for url in action_urls]
        rasa = [
            _named(role_specs(pair, ["rasa"], port=port)[0], f"rasa-{n}")
            for n, (pair, port) in enumerate(zip(pairs, rasa_ports, strict=True))
        ]
        actions = [
            _named(role_specs(pair, ["actions"], port=port)[0], f"actions-{n}")
            for n, (pair, port) in enumerate(zip(pairs, action_ports, strict=True))
        ]
        webs = [
            _named(role_specs(settings, ["web"], port=port)[0], f"web-{n}")
            for n, port in enumerate(web_ports)
        ]
        workers = [_named(role_specs(settings, ["worker"])[0], f"worker-{n}") for n in range(2)]
    # Started all at once: the Rasa servers load their models side by side.
    supervisor = Supervisor([*rasa, *actions, *webs, *workers], echo=False, log_dir=workdir / "log")
    supervisor.start()
    try:
        failed = supervisor.wait_ready(timeout=300)
        if failed is not None:
            pytest.fail(f"{failed.name} did not become ready:\n" + "\n".join(failed.tail))
        # Not supervised: a killed process stays dead, as a machine that is gone.
        yield Cluster(
            rasa=dict(zip(rasa_urls, rasa, strict=True)),
            web_urls=[f"http://127.0.0.1:{port}" for port in web_ports],
            workers=workers,
            database_url=database_url,
            log_dir=workdir / "log",
        )
    finally:
        supervisor.stop()
        drop_schema(schema)


def _wait(predicate: Callable[[], Any], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError("not in time")


def _chat_key_served_first_by(servers: list[str], server: str) -> str:
    """A web chat cookie whose conversation goes to `server` first."""
    while True:
        key = uuid.uuid4().hex
        if server_order(servers, f"web:{key}")[0] == server:
            return key


def test_a_form_moves_to_the_other_rasa_server_without_losing_its_slots(cluster: Cluster) -> None:
    servers = list(cluster.rasa)
    first, second = servers
    key = _chat_key_served_first_by(servers, first)
    clients = [
        httpx.Client(base_url=url, cookies={"hotline_chat": key}, timeout=60)
        for url in cluster.web_urls
    ]
    turn = 0

    def say(message: str) -> str:
        nonlocal turn
        turn += 1
        response = clients[turn % 2].post("/api/chat/messages", json={"text": message})
        assert response.status_code == 200, response.text
        return "\n".join(reply["text"] for reply in response.json()["replies"])

    consent = say("tôi muốn khai báo y tế")
    assert "Bạn có đồng ý không?" in consent
    say("/affirm")
    asked = say("e tên nguyễn văn an ạ")
    assert "sinh năm nào" in asked
    # Rasa A is gone mid-form, as a machine that died.
    killed = cluster.rasa[first].process
    assert killed is not None
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()

    answers = ["1985", "0912 345 678", "phuong hoan kiem ha noi", "sốt với ho", "/deny"]
    for answer in [*answers, "không đi đâu", "2 mũi"]:
        replies = say(answer)
        assert "hệ thống đang bận" not in replies, (answer, replies)
    assert "Nguyễn Văn An" in replies  # the name was given to the server that died
    assert "Phường Hoàn Kiếm" in replies
    done = say("/affirm")
    assert "Mã tờ khai:" in done
    for client in clients:
        client.close()

    engine = create_engine(cluster.database_url)
    with engine.connect() as conn:
        name, phone = conn.execute(
            select(HealthDeclaration.full_name, HealthDeclaration.phone)
            .join(Resident, Resident.id == HealthDeclaration.resident_id)
            .where(Resident.conversation_id == f"web:{key}")
        ).one()
    engine.dispose()
    assert (name, phone) == ("Nguyễn Văn An", "+84912345678")
    assert cluster.rasa[second].process is not None
    assert cluster.rasa[second].process.poll() is None


def test_telegram_messages_through_both_web_apps_are_answered_once_each(
    cluster: Cluster, channel_fakes: ChannelFakes
) -> None:
    fake = channel_fakes.telegram
    base = 7_100_000 + int(time.time()) % 100_000 * 10
    chats = [base + n for n in range(6)]
    for n, chat_id in enumerate(chats):
        update = {
            "update_id": chat_id,
            "message": {
                "message_id": 1,
                "from": {"id": chat_id, "is_bot": False, "first_name": "Lan"},
                "chat": {"id": chat_id, "type": "private", "first_name": "Lan"},
                "date": int(time.time()),
                "text": "cách ly tại nhà thế nào",
            },
        }
        response = httpx.post(
            f"{cluster.web_urls[n % 2]}/webhooks/telegram",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": E2E_TELEGRAM_SECRET},
            timeout=10,
        )
        assert response.status_code == 200

    def answered() -> Counter[str]:
        sent = Counter(str(call.params.get("chat_id")) for call in fake.sent())
        return sent if all(sent[str(chat)] for chat in chats) else Counter()

    _wait(answered)
    time.sleep(2)  # a second copy would come now
    first_replies = {
        str(chat): [c.params["text"] for c in fake.sent() if c.params.get("chat_id") == str(chat)]
        for chat in chats
    }
    for chat, texts in first_replies.items():
        assert len(texts) == len(set(texts)), (chat, texts)


def test_outbound_messages_are_delivered_once_by_the_two_workers(
    cluster: Cluster, channel_fakes: ChannelFakes
) -> None:
    fake = channel_fakes.telegram
    tag = uuid.uuid4().hex[:6]
    count = 60
    addresses = [str(8_000_000 + n) for n in range(count)]
    engine = create_engine(cluster.database_url)
    with Session(engine) as session, session.begin():
        for n in range(count):
            enqueue(
                session=session,
                channel="telegram",
                address=addresses[n],
                reply=OutboundReply(f"Thông báo thử {tag} số {n}"),
                kind="team_notification",
            )

    def delivered() -> bool:
        with Session(engine) as session:
            open_count = session.scalar(
                select(func.count())
                .select_from(OutboundMessage)
                .where(
                    OutboundMessage.address.in_(addresses),
                    OutboundMessage.status != OutboundStatus.SENT,
                )
            )
        return open_count == 0

    _wait(delivered, timeout=120)
    engine.dispose()
    time.sleep(1)
    texts = Counter(
        call.params["text"] for call in fake.sent() if tag in str(call.params.get("text"))
    )
    assert len(texts) == count
    assert set(texts.values()) == {1}, [t for t, c in texts.items() if c > 1]
    # Which worker sent how many (for the report; the split depends on timing).
    shares = {
        spec.name: sum(
            int(line.split("outbound: ")[1].split(" ")[0])
            for line in (cluster.log_dir / spec.log_file).read_text(errors="replace").splitlines()
            if "outbound: " in line and " sent" in line
        )
        for spec in cluster.workers
    }
    print(f"outbound deliveries per worker: {shares}")
    assert sum(shares.values()) >= count
