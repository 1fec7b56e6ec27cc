"""A Rasa server whose Redis goes away logs the failed turn without the resident's words.

Rasa as `hotline run` starts it (our tracker store and Rasa's lock store on Redis), on a private
redis-server of its own: a first turn is stored there, Redis is stopped, and the next message
(a distinctive phrase and a phone number) fails. Rasa logs that failure at ERROR
(`rest.message.received.failure`, with a traceback); the log must hold neither the phrase nor
the number (hotline_nlu/rasa_logs.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from bot.settings import Settings
from bot.supervisor import ProcessSpec, Supervisor, role_specs
from bot.training import MODEL_PATH
from tests.chaos.harness import wait_for
from tests.chaos.servers import PrivateRedis
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.e2e

# As residents type without diacritics: the log is JSON, which would escape Vietnamese letters.
PHRASE = "nha toi o hem con ca vang sau cho ba ba"
PHONE = "0912345678"


def _rest(spec: ProcessSpec, sender: str, text: str) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{spec.port}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=60,
    )


@pytest.fixture(scope="module")
def rasa_on_private_redis(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ProcessSpec, PrivateRedis, Path]]:
    if not MODEL_PATH.exists():
        pytest.fail("no trained model: run ./dev test (it trains when needed)")
    workdir = tmp_path_factory.mktemp("rasa-logs")
    private = PrivateRedis(workdir / "redis")
    private.start()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        redis_url=private.url,
        rasa_token=uuid.uuid4().hex,
        action_server_url=f"http://127.0.0.1:{free_port()}",  # not needed for these turns
        intent_stats_enabled=False,
        log_level="INFO",
    )
    (rasa,) = role_specs(settings, ["rasa"], port=free_port())
    supervisor = Supervisor([rasa], echo=False, log_dir=workdir / "log")
    supervisor.start()
    try:
        failed = supervisor.wait_ready(timeout=300)
        if failed is not None:
            pytest.fail("Rasa did not become ready:\n" + "\n".join(failed.tail))
        yield rasa, private, workdir / "log" / rasa.log_file
    finally:
        supervisor.stop()
        private.stop()


def test_a_failed_turn_is_logged_without_the_resident_s_words(
    rasa_on_private_redis: tuple[ProcessSpec, PrivateRedis, Path],
) -> None:
    rasa, private, log = rasa_on_private_redis
    sender = f"web:{uuid.uuid4().hex}"
    assert _rest(rasa, sender, "chào bạn").status_code == 200
    # The turn went to our tracker store on that Redis: the conversation's log and head.
    stored = redis.Redis.from_url(private.url, decode_responses=True)
    assert sorted(k.split(":")[1] for k in stored.scan_iter(match=f"hotline:*{sender}")) == [
        "tracker-head",
        "tracker-log",
    ]
    stored.close()

    private.stop()
    assert _rest(rasa, sender, f"{PHRASE}, goi {PHONE} giup em").status_code == 200

    def logged() -> str:
        return log.read_text(errors="replace")

    # The supervisor copies Rasa's output into the log from a thread of its own: the reply
    # can come back before the lines are there.
    wait_for(
        lambda: all(
            line in logged() for line in ("rest.message.received.failure", "ConnectionError")
        ),
        30,
        "the failed turn in Rasa's log",
    )
    text = logged()
    assert "rest.message.received.failure" in text  # the failure was logged
    assert "ConnectionError" in text  # with what failed
    assert PHONE not in text
    assert PHRASE not in text
    assert "con ca vang" not in text
