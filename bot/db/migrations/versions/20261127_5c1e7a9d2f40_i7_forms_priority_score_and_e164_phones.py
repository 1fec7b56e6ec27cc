"""i7-forms: priority score on aid requests, phones stored in E.164

Revision ID: 5c1e7a9d2f40
Revises: 7c1e5b0a9d42
Create Date: 2026-11-27 12:40:00

Existing requests are scored with today's rules (bot/requests/priority.py) and their level and
reasons rewritten to match; phones saved as "0912345678" become "+84912345678".
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c1e7a9d2f40"
down_revision: str | None = "7c1e5b0a9d42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PHONE_TABLES = ("aid_requests", "health_declarations")


def upgrade() -> None:
    with op.batch_alter_table("aid_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("priority_score", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index(
            batch_op.f("ix_aid_requests_priority_score"), ["priority_score"], unique=False
        )
    _score_existing_requests()
    for table in _PHONE_TABLES:
        # National mobile numbers ("0" and 9 digits) to E.164; anything else is left as it is.
        op.execute(
            f"UPDATE {table} SET phone = '+84' || substr(phone, 2) "  # noqa: S608 (constant names)
            "WHERE length(phone) = 10 AND substr(phone, 1, 1) = '0'"
        )


def _score_existing_requests() -> None:
    from bot.requests.priority import assess_priority

    requests = sa.table(
        "aid_requests",
        sa.column("id", sa.Integer),
        sa.column("needs", sa.JSON),
        sa.column("vulnerable", sa.JSON),
        sa.column("household_size", sa.Integer),
        sa.column("days_without_food", sa.Integer),
        sa.column("description", sa.Text),
        sa.column("priority", sa.Integer),
        sa.column("priority_score", sa.Integer),
        sa.column("priority_reasons", sa.JSON),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            requests.c.id,
            requests.c.needs,
            requests.c.vulnerable,
            requests.c.household_size,
            requests.c.days_without_food,
            requests.c.description,
        )
    ).all()
    for row in rows:
        priority = assess_priority(
            needs=list(row.needs or []),
            vulnerable=list(row.vulnerable or []),
            household_size=row.household_size,
            days_without_food=row.days_without_food,
            description=row.description or "",
        )
        bind.execute(
            requests.update()
            .where(requests.c.id == row.id)
            .values(
                priority=priority.level,
                priority_score=priority.score,
                priority_reasons=priority.reasons,
            )
        )


def downgrade() -> None:
    for table in _PHONE_TABLES:
        op.execute(
            f"UPDATE {table} SET phone = '0' || substr(phone, 4) "  # noqa: S608 (constant names)
            "WHERE length(phone) = 12 AND substr(phone, 1, 3) = '+84'"
        )
    with op.batch_alter_table("aid_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aid_requests_priority_score"))
        batch_op.drop_column("priority_score")
