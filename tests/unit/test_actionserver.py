"""The action server as `hotline run` starts it: a real process on a real database, listening on
loopback, and refusing every call that does not carry the token Rasa is given."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.conversations.rasa_client import COMMAND_KEY
from bot.privacy.runtime import ERASE_COMMAND
from bot.requests.models import AidRequest
from bot.requests.service import submit_aid_request
from bot.residents.models import Resident
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import ProcessSpec, process_specs, write_endpoints
from tests.e2e.conftest import free_port
from tests.requests.factories import aid_in, conversation_id


@dataclass
class ActionServer:
    url: str
    port: int
    endpoints: dict[str, Any]  # the action endpoint Rasa is configured with

    def call(
        self, action: str, sender_id: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """Posts an action call as Rasa 3.6 does, for a made-up tracker with this sender id."""
        tracker = {
            "sender_id": sender_id,
            "slots": {},
            "latest_message": {"text": "xem thông tin của tôi", "intent": {}, "entities": []},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
        body = {"next_action": action, "sender_id": sender_id, "tracker": tracker, "domain": {}}
        return httpx.post(f"{self.url}/webhook", json=body, headers=headers or {}, timeout=10)


def listening_addresses(port: int) -> list[str]:
    """The local addresses (hex, as in /proc/net/tcp*) of the sockets listening on the port."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(hex_port, 16) == port:
                found.append(f"{Path(table).name}:{address}")
    return found


@pytest.fixture(scope="module")
def action_server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    port = free_port()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        database_url=db_url,
        rasa_url=f"http://127.0.0.1:{free_port()}",
        action_server_url=f"http://127.0.0.1:{port}",
        action_server_token=uuid.uuid4().hex,
    )
    (spec,) = [s for s in process_specs(settings) if s.name == "actions"]
    spec.env["DATABASE_URL"] = db_url
    endpoints_file = write_endpoints(settings)
    endpoints = yaml.safe_load(endpoints_file.read_text())["action_endpoint"]
    process = start(spec, tmp_path_factory.mktemp("actions") / "actions.log")
    try:
        yield ActionServer(url=settings.action_server_url, port=port, endpoints=endpoints)
    finally:
        process.terminate()
        process.wait(timeout=15)
        endpoints_file.unlink()


def start(spec: ProcessSpec, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            spec.argv, cwd=PROJECT_ROOT, env=spec.env, stdout=out, stderr=out
        )
    with httpx.Client(timeout=1) as client:
        for _ in range(200):
            try:
                if client.get(spec.ready_url).status_code == 200:
                    return process
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    pytest.fail(f"the action server did not start:\n{log.read_text()}")


def kept(engine: Engine, cid: str) -> tuple[int, int]:
    """(residents, aid requests) the database holds for this conversation."""
    with Session(engine) as session:
        residents = session.scalar(
            select(func.count()).select_from(Resident).where(Resident.conversation_id == cid)
        )
        requests = session.scalar(
            select(func.count())
            .select_from(AidRequest)
            .join(Resident, Resident.id == AidRequest.resident_id)
            .where(Resident.conversation_id == cid)
        )
    return int(residents or 0), int(requests or 0)


@pytest.fixture
def resident_with_request(engine: Engine) -> str:
    cid = conversation_id()
    with Session(engine) as session:
        submit_aid_request(session=session, conversation_id=cid, data=aid_in())
        session.commit()
    assert kept(engine, cid) == (1, 1)
    return cid


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Bearer " + "0" * 32},
        {"Authorization": ""},
        {"X-Token": "anything"},
    ],
    ids=["none", "wrong", "same-length", "empty", "other-header"],
)
def test_a_forged_call_without_the_token_is_refused_and_changes_nothing(
    action_server: ActionServer, resident_with_request: str, engine: Engine, headers: dict[str, str]
) -> None:
    cid = resident_with_request
    viewed = action_server.call("action_view_my_data", cid, headers)
    erased = action_server.call("action_delete_my_data", cid, headers)
    assert (viewed.status_code, erased.status_code) == (401, 401)
    assert viewed.json() == erased.json() == {"error": "missing or wrong token"}
    assert kept(engine, cid) == (1, 1)
    # The token in the query string, as Rasa's `token:` option would send it, is not enough.
    response = httpx.post(
        f"{action_server.url}/webhook",
        params={"token": action_server.endpoints["headers"]["Authorization"].split()[-1]},
        json={"next_action": "action_delete_my_data", "tracker": {"sender_id": cid}},
    )
    assert response.status_code == 401
    assert kept(engine, cid) == (1, 1)
    # Other routes are closed too; /health answers, and says nothing.
    assert httpx.get(f"{action_server.url}/actions").status_code == 401
    health = httpx.get(f"{action_server.url}/health")
    assert (health.status_code, health.content) == (200, b"")


def test_rasa_s_configured_header_is_accepted(
    action_server: ActionServer, resident_with_request: str, engine: Engine
) -> None:
    # The same forged call with the header from the endpoints file Rasa is given does run:
    # the refusal above is the token's doing, not a broken request.
    cid = resident_with_request
    headers = action_server.endpoints["headers"]
    assert action_server.endpoints["url"] == f"{action_server.url}/webhook"
    viewed = action_server.call("action_view_my_data", cid, headers)
    assert viewed.status_code == 200
    assert "Tổng đài đang lưu" in viewed.json()["responses"][0]["text"]
    erased = action_server.call("action_delete_my_data", cid, headers)
    assert erased.status_code == 200
    # The action asks the web app to erase once Rasa's turn is over (tests/privacy, e2e).
    assert erased.json()["responses"][0]["custom"] == {COMMAND_KEY: ERASE_COMMAND}


def test_it_listens_on_loopback_only(action_server: ActionServer) -> None:
    # 0100007F is 127.0.0.1; 00000000 would be every interface.
    assert listening_addresses(action_server.port) == ["tcp:0100007F"]


def test_the_endpoints_file_is_readable_by_this_user_only(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        rasa_url=f"http://127.0.0.1:{free_port()}",
        action_server_token="t" * 32,
        redis_url=None,
    )
    path = write_endpoints(settings)
    assert path.stat().st_mode & 0o777 == 0o600
    endpoints = yaml.safe_load(path.read_text())
    assert endpoints["action_endpoint"]["headers"] == {"Authorization": "Bearer " + "t" * 32}
    # Without Redis, Rasa keeps conversations with the store whose turns do not slow down.
    assert endpoints["tracker_store"] == {"type": "hotline_nlu.tracker_store.CompactTrackerStore"}
    path.unlink()


REAL = {"rasa_token": "r" * 32, "secret_key": "s" * 32}


@pytest.mark.parametrize("token", ["dev-action-token", "change-me", ""])
def test_production_refuses_a_placeholder_action_server_token(token: str) -> None:
    with pytest.raises(ValidationError, match="ACTION_SERVER_TOKEN"):
        Settings(_env_file=None, env="production", action_server_token=token, **REAL)  # type: ignore[call-arg]


def test_an_empty_action_server_token_is_refused_everywhere() -> None:
    with pytest.raises(ValidationError, match="ACTION_SERVER_TOKEN"):
        Settings(_env_file=None, action_server_token="")  # type: ignore[call-arg]
