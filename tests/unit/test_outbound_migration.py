"""The outbox's rows survive the move to outbound_messages, with their states mapped."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, text

from bot.db.migrate import alembic_config, upgrade

BEFORE = "3eaf561ad8b9"


def test_outbox_rows_become_outbound_messages(db_url: str, engine: Engine) -> None:
    command.downgrade(alembic_config(db_url), BEFORE)
    try:
        with engine.begin() as conn:
            for number, status, chat in [
                (1, "pending", "-1001"),
                (2, "no_channel", None),
                (3, "failed", "-1003"),
                (4, "sent", "-1004"),
            ]:
                conn.execute(
                    text(
                        "INSERT INTO outbox_messages (id, dedupe_key, kind, chat_id, text, status,"
                        " attempts, next_attempt_at, last_error, created_at) VALUES (:id, :key,"
                        " 'team_notification', :chat, 'Đề nghị', :status, :attempts,"
                        " CURRENT_TIMESTAMP, NULL, CURRENT_TIMESTAMP)"
                    ),
                    {
                        "id": number,
                        "key": f"aid:{number}:created:team:1",
                        "chat": chat,
                        "status": status,
                        "attempts": 12 if status == "failed" else 0,
                    },
                )
        upgrade(db_url)
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, channel, address, status, skip_reason, attempts, text"
                    " FROM outbound_messages ORDER BY id"
                )
            ).all()
            assert [tuple(r) for r in rows] == [
                (1, "telegram", "-1001", "pending", None, 0, "Đề nghị"),
                (2, "telegram", None, "skipped", "no_channel", 0, "Đề nghị"),
                (3, "telegram", "-1003", "dead", None, 12, "Đề nghị"),
                (4, "telegram", "-1004", "sent", None, 0, "Đề nghị"),
            ]
        with engine.begin() as conn:  # new rows get new ids after the copied ones
            new_id = conn.execute(
                text(
                    "INSERT INTO outbound_messages (kind, channel, text, buttons, status, attempts,"
                    " next_attempt_at, updated_at, created_at) VALUES ('advisory', 'telegram',"
                    " 'x', '[]', 'pending', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP,"
                    " CURRENT_TIMESTAMP) RETURNING id"
                )
            ).scalar_one()
            assert new_id == 5
    finally:
        upgrade(db_url)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM outbound_messages"))
