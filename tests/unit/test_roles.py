"""`hotline run --role …`: which processes one machine starts, where they listen."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.settings import Settings
from bot.supervisor import parse_roles, role_specs


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_roles_are_repeatable_or_comma_separated_and_start_in_a_fixed_order() -> None:
    assert parse_roles(["worker", "web"]) == ["web", "worker"]
    assert parse_roles(["web, rasa", "actions"]) == ["rasa", "actions", "web"]
    assert parse_roles([]) == ["rasa", "actions", "web"]  # the all-in-one default
    with pytest.raises(ValueError, match="unknown role brain"):
        parse_roles(["rasa,brain"])


def test_the_all_in_one_default_is_unchanged() -> None:
    specs = role_specs(settings(), parse_roles([]))
    assert [s.name for s in specs] == ["rasa", "actions", "web"]
    assert [s.port for s in specs] == [5005, 5055, 8000]
    assert all(s.host == "127.0.0.1" for s in specs)  # loopback unless configured
    assert "WORKER_IN_PROCESS" not in specs[2].env  # the web app runs the workers itself


def test_a_role_listens_where_it_is_told(tmp_path: object) -> None:
    (rasa,) = role_specs(settings(), ["rasa"], port=5107)
    assert rasa.port == 5107
    assert rasa.host == "127.0.0.1"
    assert rasa.argv[rasa.argv.index("-p") + 1] == "5107"
    assert str(rasa.ready_url).startswith("http://127.0.0.1:5107/")
    assert rasa.log_file == "rasa-5107.log"  # several on one machine keep their own logs

    (web,) = role_specs(settings(web_host="0.0.0.0"), ["web"], port=8123)  # noqa: S104 — the setting under test
    assert web.argv[-4:] == ["0.0.0.0", "--port", "8123", "--no-access-log"]  # noqa: S104 — as passed
    assert web.ready_url == "http://127.0.0.1:8123/healthz"

    (actions,) = role_specs(settings(action_server_port=5160), ["actions"])
    assert actions.port == 5160
    assert actions.env["ACTION_SERVER_PORT"] == "5160"


def test_rasa_gets_our_store_on_redis_and_a_lock_no_longer_than_a_turn() -> None:
    (rasa,) = role_specs(
        settings(redis_url="redis://127.0.0.1:6379/14", rasa_timeout_seconds=25),
        ["rasa"],
        port=5108,
    )
    endpoints_file = rasa.argv[rasa.argv.index("--endpoints") + 1]
    with open(endpoints_file, encoding="utf-8") as file:
        endpoints = yaml.safe_load(file)
    assert endpoints["tracker_store"]["type"] == "hotline_nlu.tracker_store.CompactTrackerStore"
    assert endpoints["tracker_store"]["url"] == "127.0.0.1"
    assert endpoints["tracker_store"]["db"] == 14
    assert endpoints["lock_store"]["type"] == "redis"
    assert rasa.env["TICKET_LOCK_LIFETIME"] == "25"


def test_the_worker_role_takes_the_workers_out_of_the_web_app() -> None:
    web, worker = role_specs(settings(), parse_roles(["web,worker"]))
    assert web.env["WORKER_IN_PROCESS"] == "false"
    assert worker.argv[-3:] == ["-m", "bot.cli", "worker"]
    assert worker.port is None
    assert worker.ready_url is None


def test_host_and_port_need_exactly_one_listening_role() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        role_specs(settings(), ["rasa", "web"], port=9000)
    with pytest.raises(ValueError, match="exactly one"):
        role_specs(settings(), ["worker"], port=9000)


def test_the_command_line_refuses_an_unknown_role() -> None:
    result = CliRunner().invoke(app, ["run", "--role", "brain"])
    assert result.exit_code == 2
    assert "unknown role brain" in result.output


def test_rasa_urls_are_a_comma_list_and_need_redis() -> None:
    many = settings(
        rasa_urls="http://10.0.0.1:5005/, http://10.0.0.2:5005", redis_url="redis://r:6379/0"
    )
    assert many.rasa_servers == ["http://10.0.0.1:5005", "http://10.0.0.2:5005"]
    assert settings(rasa_url="http://127.0.0.1:5005/").rasa_servers == ["http://127.0.0.1:5005"]
    with pytest.raises(ValueError, match="REDIS_URL"):
        settings(rasa_urls="http://a:5005,http://b:5005")
