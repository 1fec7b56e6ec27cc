"""How Rasa gets the broker: the endpoints file `hotline run` writes, the database URL in its
environment, and a model that is not retrained for it."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import yaml

from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import process_specs, write_endpoints
from bot.training import training_fingerprint


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings(**values: object) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        rasa_url=f"http://127.0.0.1:{free_port()}",
        database_url="postgresql+psycopg://hotline:pw@db:5432/hotline",
        **values,  # type: ignore[arg-type]
    )


def test_rasa_runs_with_the_broker_and_the_apps_database() -> None:
    chosen = settings(intent_stats_flush_seconds=2)
    path = write_endpoints(chosen)
    try:
        broker = yaml.safe_load(path.read_text())["event_broker"]
    finally:
        path.unlink()
    assert broker == {"type": "hotline_nlu.stats_broker.IntentStatsBroker", "flush_seconds": 2.0}
    (rasa,) = [s for s in process_specs(chosen) if s.name == "rasa"]
    assert rasa.env["DATABASE_URL"] == "postgresql+psycopg://hotline:pw@db:5432/hotline"

    off = settings(intent_stats_enabled=False)
    path = write_endpoints(off)
    try:
        assert "event_broker" not in yaml.safe_load(path.read_text())
    finally:
        path.unlink()
    # Rasa started by hand (`rasa run`) reads endpoints.yml: the broker is there too.
    assert yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text())["event_broker"]["type"] == (
        "hotline_nlu.stats_broker.IntentStatsBroker"
    )


def test_the_broker_is_no_training_input(tmp_path: Path) -> None:
    for entry in ("config.yml", "domain", "data/nlu", "data/rules", "hotline_nlu"):
        source = PROJECT_ROOT / entry
        target = tmp_path / entry
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    before = training_fingerprint(tmp_path)
    (tmp_path / "hotline_nlu" / "stats_broker.py").write_text("# changed\n")
    assert training_fingerprint(tmp_path) == before
    (tmp_path / "hotline_nlu" / "normalize.py").write_text("# changed\n")
    assert training_fingerprint(tmp_path) != before
