"""i9-manage: admins' content edits as revisions, and the indexes of the audit trail page

Revision ID: 5c07484bdc95
Revises: 9b2d7e4f1a60
Create Date: 2026-11-27 15:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c07484bdc95"
down_revision: str | Sequence[str] | None = "9b2d7e4f1a60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The audit page lists newest first (by id) under any one filter.
AUDIT_INDEXES = {
    "ix_audit_events_actor_id": ["actor", "id"],
    "ix_audit_events_entity_id": ["entity", "entity_id", "id"],
    "ix_audit_events_created_at": ["created_at"],
    "ix_audit_events_action_id": ["action", "id"],
}


def upgrade() -> None:
    op.create_table(
        "content_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_content_revisions_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_revisions")),
    )
    with op.batch_alter_table("content_revisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_content_revisions_author_id"), ["author_id"])
        batch_op.create_index("ix_content_revisions_kind_key", ["kind", "key", "id"])
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        for name, columns in AUDIT_INDEXES.items():
            batch_op.create_index(name, columns)


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        for name in AUDIT_INDEXES:
            batch_op.drop_index(name)
    with op.batch_alter_table("content_revisions", schema=None) as batch_op:
        batch_op.drop_index("ix_content_revisions_kind_key")
        batch_op.drop_index(batch_op.f("ix_content_revisions_author_id"))
    op.drop_table("content_revisions")
