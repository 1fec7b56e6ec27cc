"""i7-outbound: one outbound path (outbox_messages becomes outbound_messages) and dead jobs

Revision ID: 7c1e5b0a9d42
Revises: 3eaf561ad8b9
Create Date: 2026-11-27 12:50:00

Team notifications keep their rows: every outbox message is copied to outbound_messages with
channel "telegram", its chat id as the address, and its status mapped (no_channel becomes
skipped/no_channel, failed becomes dead).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c1e5b0a9d42"
down_revision: str | None = "3eaf561ad8b9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUS_UP = """
    CASE status WHEN 'no_channel' THEN 'skipped' WHEN 'failed' THEN 'dead' ELSE status END
"""
_STATUS_DOWN = """
    CASE WHEN status = 'skipped' THEN 'no_channel' WHEN status = 'dead' THEN 'failed'
         WHEN status = 'failed_retrying' THEN 'pending' ELSE status END
"""


def upgrade() -> None:
    op.create_table(
        "outbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=160), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("conversation_id", sa.String(length=128), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("aid_request_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("buttons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("skip_reason", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["aid_request_id"],
            ["aid_requests.id"],
            name=op.f("fk_outbound_messages_aid_request_id_aid_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_outbound_messages_team_id_teams"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_messages")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbound_messages_dedupe_key")),
    )
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbound_messages_aid_request_id"), ["aid_request_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outbound_messages_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbound_messages_status"), ["status"], unique=False)

    op.execute(
        f"""
        INSERT INTO outbound_messages (
            id, dedupe_key, kind, channel, address, conversation_id, team_id, aid_request_id,
            text, buttons, status, skip_reason, attempts, next_attempt_at, last_error, sent_at,
            updated_at, created_at)
        SELECT id, dedupe_key, kind, 'telegram', chat_id, NULL, team_id, aid_request_id,
            text, '[]', {_STATUS_UP},
            CASE status WHEN 'no_channel' THEN 'no_channel' ELSE NULL END,
            attempts, next_attempt_at, last_error, sent_at,
            COALESCE(sent_at, next_attempt_at, created_at), created_at
        FROM outbox_messages
        """
    )
    if op.get_bind().dialect.name == "postgresql":  # ids were copied: move the sequence on
        op.execute(
            "SELECT setval(pg_get_serial_sequence('outbound_messages', 'id'), "
            "COALESCE((SELECT MAX(id) FROM outbound_messages), 0) + 1, false)"
        )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_messages_status"))
        batch_op.drop_index(batch_op.f("ix_outbox_messages_aid_request_id"))
    op.drop_table("outbox_messages")

    op.create_table(
        "dead_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("job", sa.Text(), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("replay_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_jobs")),
    )
    with op.batch_alter_table("dead_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dead_jobs_conversation_id"), ["conversation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dead_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_jobs_conversation_id"))
    op.drop_table("dead_jobs")

    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=96), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("aid_request_id", sa.Integer(), nullable=True),
        sa.Column("chat_id", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["aid_request_id"],
            ["aid_requests.id"],
            name=op.f("fk_outbox_messages_aid_request_id_aid_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_outbox_messages_team_id_teams"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_messages_dedupe_key")),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_messages_aid_request_id"), ["aid_request_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_messages_status"), ["status"], unique=False)
    # Only team notifications existed before; other kinds have no place to go back to.
    op.execute(
        f"""
        INSERT INTO outbox_messages (
            id, dedupe_key, kind, team_id, aid_request_id, chat_id, text, status, attempts,
            next_attempt_at, last_error, sent_at, created_at)
        SELECT id, dedupe_key, kind, team_id, aid_request_id, address, text, {_STATUS_DOWN},
            attempts, next_attempt_at, last_error, sent_at, created_at
        FROM outbound_messages
        WHERE kind = 'team_notification' AND dedupe_key IS NOT NULL
        """
    )
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_messages_status"))
        batch_op.drop_index(batch_op.f("ix_outbound_messages_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_outbound_messages_aid_request_id"))
    op.drop_table("outbound_messages")
