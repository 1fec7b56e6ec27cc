"""i8-console: conversation ownership, figures and the transcript

Revision ID: c0e501e8a1b2
Revises: a8e1f04c2b6d
Create Date: 2026-11-27 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0e501e8a1b2"
down_revision: str | None = "a8e1f04c2b6d"  # i8-auth (users); main: 3eaf561ad8b9
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("handoff_requests") as batch:
        batch.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("owner_name", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("first_reply_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_handoff_requests_owner_id"), ["owner_id"])
    op.create_table(
        "conversation_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=120), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("delivery", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_conversation_messages_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoff_requests.id"],
            name=op.f("fk_conversation_messages_handoff_id_handoff_requests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_messages")),
    )
    op.create_index(
        op.f("ix_conversation_messages_resident_id"), "conversation_messages", ["resident_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_conversation_messages_resident_id"), "conversation_messages")
    op.drop_table("conversation_messages")
    with op.batch_alter_table("handoff_requests") as batch:
        batch.drop_index(batch.f("ix_handoff_requests_owner_id"))
        for column in (
            "last_message_at",
            "outcome",
            "first_reply_at",
            "claimed_at",
            "owner_name",
            "owner_id",
        ):
            batch.drop_column(column)
