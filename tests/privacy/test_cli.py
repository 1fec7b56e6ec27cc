"""`hotline privacy purge [--dry-run]` and `hotline privacy erase` on a real database file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.db import session as db_session
from bot.db.base import utcnow
from bot.db.migrate import upgrade
from bot.db.session import session_scope
from bot.infra.redis import get_redis
from bot.residents.models import Resident
from bot.settings import get_settings
from tests.e2e.conftest import free_port
from tests.privacy.factories import age_everything, fill_everything, rows_by_table

runner = CliRunner()
OLD = "web:cli-old-resident"
NEW = "web:cli-new-resident"


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("RASA_URL", f"http://127.0.0.1:{free_port()}")  # no Rasa there
    monkeypatch.delenv("REDIS_URL", raising=False)
    caches = (get_settings, db_session.get_engine, db_session.get_sessionmaker, get_redis)
    for cached in caches:
        cached.cache_clear()
    yield url
    db_session.get_engine().dispose()
    for cached in caches:
        cached.cache_clear()


def test_purge_dry_run_counts_then_purge_deletes_the_same(cli_db: str) -> None:
    with session_scope() as session:
        fill_everything(session, NEW, team_slug="cli-team")
        fill_everything(session, OLD, team_slug="cli-team")
        age_everything(session, OLD, utcnow() - timedelta(days=400))
    with session_scope() as session:
        before = rows_by_table(session)

    dry = runner.invoke(app, ["privacy", "purge", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    counted = json.loads(dry.output)
    assert counted["dry_run"] and counted["residents"] == 1 and counted["rows"]["residents"] == 1
    with session_scope() as session:
        assert rows_by_table(session) == before

    real = runner.invoke(app, ["privacy", "purge", "--json"])
    assert real.exit_code == 0, real.output
    done = json.loads(real.output)
    assert done["rows"] == counted["rows"]
    assert done["trackers_failed"] == 1  # Rasa was not reachable: said, not hidden
    with session_scope() as session:
        assert session.scalars(select(Resident.conversation_id)).all() == [NEW]

    text = runner.invoke(app, ["privacy", "purge", "--dry-run"])
    assert "nothing" in text.output


def test_erase_one_conversation_says_when_rasa_could_not_be_reached(cli_db: str) -> None:
    with session_scope() as session:
        fill_everything(session, OLD, team_slug="cli-erase")
    result = runner.invoke(app, ["privacy", "erase", OLD])
    assert "health_declarations 1" in result.output and "residents 1" in result.output
    assert result.exit_code == 1 and "NOT erased" in result.output
    with session_scope() as session:
        assert session.scalars(select(Resident)).all() == []
    assert runner.invoke(app, ["privacy", "erase", "sms:123"]).exit_code == 2
