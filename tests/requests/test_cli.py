"""`hotline teams …` and `hotline requests …` against a real (SQLite) database file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.db import session as db_session
from bot.db.migrate import upgrade
from bot.db.session import session_scope
from bot.requests.service import submit_aid_request
from bot.settings import get_settings
from tests.requests.factories import BEN_THANH, TAN_DINH, aid_in, conversation_id

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    for cached in (get_settings, db_session.get_engine, db_session.get_sessionmaker):
        cached.cache_clear()
    yield url
    db_session.get_engine().dispose()
    for cached in (get_settings, db_session.get_engine, db_session.get_sessionmaker):
        cached.cache_clear()


def test_import_demo_then_list_and_move_requests(cli_db: str) -> None:
    result = runner.invoke(app, ["teams", "import-demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "Imported 6" in result.output
    again = runner.invoke(app, ["teams", "import-demo", "--if-empty"])
    assert "not imported" in again.output
    teams = json.loads(runner.invoke(app, ["teams", "list", "--json"]).output)
    ben_thanh = next(t for t in teams if t["slug"] == "hcm-ben-thanh")
    assert ben_thanh["wards"] == [
        {"code": BEN_THANH, "name": "Phường Bến Thành, Thành phố Hồ Chí Minh"}
    ]

    with session_scope() as session:
        ref = submit_aid_request(
            session=session, conversation_id=conversation_id(), data=aid_in()
        ).request.ref_code
        submit_aid_request(
            session=session, conversation_id=conversation_id(), data=aid_in(ward_code=TAN_DINH)
        )
    listed = json.loads(runner.invoke(app, ["requests", "list", "--json"]).output)
    assert len(listed) == 2
    mine = next(r for r in listed if r["ref"] == f"{ref[:4]}-{ref[4:]}")
    assert mine["team"] == "hcm-ben-thanh" and mine["ward"].startswith("Phường Bến Thành")
    assert mine["status"] == "assigned" and mine["priority"] == 3
    assert mine["priority_score"] == 12  # an essential need 10 + a fourth member 2
    assert (mine["phone"], mine["phone_display"]) == ("+84912345678", "0912 345 678")
    shown = runner.invoke(app, ["requests", "list"]).output
    assert f"{ref[:4]}-{ref[4:]}  P3  12đ" in shown
    only_ward = json.loads(
        runner.invoke(app, ["requests", "list", "--ward", TAN_DINH, "--json"]).output
    )
    assert [r["team"] for r in only_ward] == ["hcm-province"]

    moved = runner.invoke(
        app,
        [
            "requests",
            "set-status",
            mine["ref"],
            "in_progress",
            "--reason",
            "Đang giao",
            "--by",
            "lan",
        ],
    )
    assert moved.exit_code == 0, moved.output
    assert "in_progress" in moved.output
    in_progress = json.loads(
        runner.invoke(app, ["requests", "list", "--status", "in_progress", "--json"]).output
    )
    assert [r["ref"] for r in in_progress] == [mine["ref"]]
    refused = runner.invoke(app, ["requests", "set-status", mine["ref"], "duplicate"])
    assert refused.exit_code == 0
    back = runner.invoke(app, ["requests", "set-status", mine["ref"], "assigned"])
    assert back.exit_code == 1 and "Not allowed" in back.output
    missing = runner.invoke(app, ["requests", "set-status", "ZZZZ-9999", "resolved"])
    assert missing.exit_code == 1


def test_import_refuses_a_bad_file(cli_db: str, tmp_path: Path) -> None:
    bad = tmp_path / "teams.yml"
    bad.write_text("teams:\n  - slug: x\n    name: X\n    ward_codes: ['99999']\n", "utf-8")
    result = runner.invoke(app, ["teams", "import", str(bad)])
    assert result.exit_code == 1
    assert "unknown ward code 99999" in result.output
