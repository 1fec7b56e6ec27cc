"""`hotline advisories list|show`, and a scheduled advisory started when its time comes."""

from __future__ import annotations

from datetime import timedelta

from typer.testing import CliRunner

from bot.advisories.models import AdvisoryStatus
from bot.advisories.runtime import start_due
from bot.advisories.service import create_advisory, get_advisory, submit
from bot.cli import app
from bot.db.base import utcnow
from bot.db.session import session_scope
from bot.users.models import Role
from tests.advisories.factories import subscribers
from tests.requests.test_cli import cli_db  # noqa: F401  (the fixture)
from tests.users.factories import make_user

runner = CliRunner()


def test_list_and_show_and_a_scheduled_advisory_going_out(cli_db: str) -> None:  # noqa: F811
    with session_scope() as session:
        subscribers(session, 2)
        admin = make_user(session, role=Role.ADMIN)
        advisory = create_advisory(
            session=session,
            author=admin,
            title="Lịch tiêm",
            text="Chủ nhật tiêm tại trạm y tế phường.",
            target_kind="provinces",
            target_codes=["79"],
        )
        submit(
            session=session,
            advisory=advisory,
            user=admin,
            threshold=10,
            send_at=utcnow() + timedelta(minutes=5),
        )
        advisory_id = advisory.id
    assert start_due() == []  # not yet
    with session_scope() as session:
        scheduled = get_advisory(session=session, advisory_id=advisory_id)
        assert scheduled is not None
        assert scheduled.status == AdvisoryStatus.SCHEDULED
        scheduled.send_at = utcnow() - timedelta(seconds=1)
    assert start_due() == [advisory_id]
    listed = runner.invoke(app, ["advisories", "list"])
    assert listed.exit_code == 0
    assert "Lịch tiêm" in listed.output
    assert "sent" in listed.output
    shown = runner.invoke(app, ["advisories", "show", str(advisory_id)])
    assert shown.exit_code == 0, shown.output
    assert "queued 2: sent 0, failed 0, pending 2, skipped none" in shown.output
    missing = runner.invoke(app, ["advisories", "show", "999"])
    assert missing.exit_code == 1
    assert "No advisory 999" in missing.output
