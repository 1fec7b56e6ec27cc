"""i9-dash: the team workspace (assignee, first action, closing time, primary need) and the
indexes of the workspace lists and the dashboard's aggregates

Revision ID: 9d4b2c7e1f30
Revises: c0e501e8a1b2
Create Date: 2026-11-27 13:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9d4b2c7e1f30"
down_revision: str | Sequence[str] | None = "c0e501e8a1b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_aid_requests_ward_status_work": ["ward_code", "status", "priority_score", "created_at"],
    "ix_aid_requests_status_work": ["status", "priority_score", "created_at"],
    "ix_aid_requests_created_area": ["created_at", "province_code", "status"],
    "ix_aid_requests_need_created": ["primary_need", "created_at"],
    "ix_aid_requests_team_created": ["team_id", "created_at"],
}


def upgrade() -> None:
    with op.batch_alter_table("aid_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("primary_need", sa.String(length=24), nullable=False, server_default="other")
        )
        batch_op.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("first_action_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_aid_requests_assignee_id_users"),
            "users",
            ["assignee_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_aid_requests_assignee_id"), ["assignee_id"])
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns)
    # Existing rows: the first need of their list (JSON), read in Python (both databases).
    bind = op.get_bind()
    table = sa.table(
        "aid_requests",
        sa.column("id", sa.Integer()),
        sa.column("needs", sa.JSON()),
        sa.column("primary_need", sa.String()),
    )
    for row_id, needs in bind.execute(sa.select(table.c.id, table.c.needs)).all():
        if needs:
            bind.execute(
                table.update().where(table.c.id == row_id).values(primary_need=str(needs[0]))
            )


def downgrade() -> None:
    with op.batch_alter_table("aid_requests", schema=None) as batch_op:
        for name in INDEXES:
            batch_op.drop_index(name)
        batch_op.drop_index(batch_op.f("ix_aid_requests_assignee_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_aid_requests_assignee_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("closed_at")
        batch_op.drop_column("first_action_at")
        batch_op.drop_column("assignee_id")
        batch_op.drop_column("primary_need")
