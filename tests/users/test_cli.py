"""`hotline users …` against a real (SQLite) database file."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from bot.cli import app
from bot.db.session import session_scope
from bot.users.service import LoginOutcome, authenticate, get_user_by_username
from tests.requests.test_cli import cli_db  # noqa: F401  (the fixture)

runner = CliRunner()
PASSWORD_LINE = re.compile(r"One-time password for ([a-z0-9._-]+): (\S+)")


def _login(username: str, password: str) -> LoginOutcome:
    from datetime import timedelta

    with session_scope() as session:
        return authenticate(
            session=session,
            username=username,
            password=password,
            max_failures=5,
            lockout=timedelta(minutes=15),
        ).outcome


def test_first_admin_is_created_once_with_a_one_time_password(cli_db: str) -> None:  # noqa: F811
    first = runner.invoke(app, ["users", "create-first-admin"])
    assert first.exit_code == 0, first.output
    match = PASSWORD_LINE.search(first.output)
    assert match and match.group(1) == "admin"
    assert _login("admin", match.group(2)) is LoginOutcome.OK
    again = runner.invoke(app, ["users", "create-first-admin"])
    assert again.exit_code == 0 and "Accounts exist already" in again.output
    assert PASSWORD_LINE.search(again.output) is None


def test_create_list_disable_and_reset(cli_db: str) -> None:  # noqa: F811
    assert runner.invoke(app, ["teams", "import-demo"]).exit_code == 0
    created = runner.invoke(
        app,
        [
            "users",
            "create",
            "Hoa.Le",
            "--role",
            "team",
            "--team",
            "hcm-ben-thanh",
            "--name",
            "Lê Hoa",
        ],
    )
    assert created.exit_code == 0, created.output
    password = PASSWORD_LINE.search(created.output).group(2)  # type: ignore[union-attr]
    listed = runner.invoke(app, ["users", "list", "--json"])
    rows = json.loads(listed.output)
    assert rows == [
        {
            "username": "hoa.le",
            "display_name": "Lê Hoa",
            "role": "team",
            "teams": ["hcm-ben-thanh"],
            "disabled": False,
            "must_change_password": True,
            "locked_until": None,
            "last_login_at": None,
            "created_at": rows[0]["created_at"],
        }
    ]
    assert "hoa.le" in runner.invoke(app, ["users", "list"]).output

    assert runner.invoke(app, ["users", "disable", "hoa.le"]).exit_code == 0
    assert _login("hoa.le", password) is LoginOutcome.DISABLED
    assert runner.invoke(app, ["users", "enable", "hoa.le"]).exit_code == 0
    moved = runner.invoke(app, ["users", "update", "hoa.le", "--team", "hcm-sai-gon"])
    assert moved.exit_code == 0 and "hoa.le: team, teams hcm-sai-gon" in moved.output
    no_team = runner.invoke(app, ["users", "update", "hoa.le", "--role", "team", "--team", "nope"])
    assert no_team.exit_code == 1 and "Không có tổ: nope" in no_team.output

    reset = runner.invoke(app, ["users", "reset-password", "HOA.LE"])
    assert reset.exit_code == 0, reset.output
    new_password = PASSWORD_LINE.search(reset.output).group(2)  # type: ignore[union-attr]
    assert new_password != password
    assert _login("hoa.le", password) is LoginOutcome.BAD_CREDENTIALS
    assert _login("hoa.le", new_password) is LoginOutcome.OK
    with session_scope() as session:
        user = get_user_by_username(session=session, username="hoa.le")
        assert user is not None and user.must_change_password


def test_cli_refusals_say_why(cli_db: str) -> None:  # noqa: F811
    bad_role = runner.invoke(app, ["users", "create", "someone", "--role", "boss"])
    assert bad_role.exit_code == 1 and "Vai trò" in bad_role.output
    no_team = runner.invoke(app, ["users", "create", "someone", "--role", "team"])
    assert no_team.exit_code == 1 and "ít nhất một tổ" in no_team.output
    unknown = runner.invoke(app, ["users", "disable", "nobody"])
    assert unknown.exit_code == 1 and "No account nobody" in unknown.output
    assert runner.invoke(app, ["users", "create", "only.admin", "--role", "admin"]).exit_code == 0
    last = runner.invoke(app, ["users", "disable", "only.admin"])
    assert last.exit_code == 1 and "quản trị viên cuối cùng" in last.output
