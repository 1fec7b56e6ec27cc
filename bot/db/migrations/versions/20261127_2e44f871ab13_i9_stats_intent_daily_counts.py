"""i9-stats: intent_daily_counts (messages per day, intent and channel, from Rasa's event broker)

Revision ID: 2e44f871ab13
Revises: 5c07484bdc95
Create Date: 2026-11-27 15:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2e44f871ab13"
down_revision: str | Sequence[str] | None = "5c07484bdc95"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The primary key is the broker's upsert target (ON CONFLICT (day, intent, channel)) and
    # the index of the dashboard's range scans (day first).
    op.create_table(
        "intent_daily_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("not_understood", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "intent", "channel", name=op.f("pk_intent_daily_counts")),
    )


def downgrade() -> None:
    op.drop_table("intent_daily_counts")
