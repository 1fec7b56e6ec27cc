"""i9-scale: daily roll-ups of aid requests (the dashboard's counts at a million requests)
a partial index of open requests (the backlog and overdue counts), and the index of the
work order (the lists' first pages)

Revision ID: ea777b706fe5
Revises: a907c5a35f88
Create Date: 2026-11-27 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ea777b706fe5"
down_revision: str | Sequence[str] | None = "a907c5a35f88"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('new', 'assigned', 'in_progress')"


def upgrade() -> None:
    op.create_table(
        "aid_request_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("province_code", sa.String(length=8), nullable=False),
        sa.Column("primary_need", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("emergencies", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day",
            "province_code",
            "primary_need",
            "status",
            "team_id",
            name=op.f("pk_aid_request_daily"),
        ),
    )
    op.create_table(
        "aid_request_daily_wards",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ward_code", sa.String(length=8), nullable=False),
        sa.Column("province_code", sa.String(length=8), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "ward_code", name=op.f("pk_aid_request_daily_wards")),
    )
    op.create_index(
        op.f("ix_aid_request_daily_wards_province_code"),
        "aid_request_daily_wards",
        ["province_code"],
    )
    op.create_index(
        "ix_aid_requests_open_age",
        "aid_requests",
        ["created_at", "primary_need"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    op.create_index(
        "ix_aid_requests_work_order",
        "aid_requests",
        [sa.text("priority_score DESC"), sa.text("household_size DESC"), "created_at", "id"],
    )
    # Existing requests: counted once here (`hotline dashboard rebuild-rollups` does the same).
    day = (
        "(created_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date"
        if op.get_bind().dialect.name == "postgresql"
        else "date(created_at, '+7 hours')"
    )
    op.execute(
        "INSERT INTO aid_request_daily (day, province_code, primary_need, status, team_id, "
        f"requests, emergencies) SELECT {day}, province_code, primary_need, status, "
        "COALESCE(team_id, 0), count(*), sum(CASE WHEN priority = 1 THEN 1 ELSE 0 END) "
        f"FROM aid_requests GROUP BY {day}, province_code, primary_need, status, "
        "COALESCE(team_id, 0)"
    )
    op.execute(
        "INSERT INTO aid_request_daily_wards (day, ward_code, province_code, requests) "
        f"SELECT {day}, ward_code, min(province_code), count(*) FROM aid_requests "
        f"GROUP BY {day}, ward_code"
    )


def downgrade() -> None:
    op.drop_index("ix_aid_requests_work_order", table_name="aid_requests")
    op.drop_index("ix_aid_requests_open_age", table_name="aid_requests")
    op.drop_index(
        op.f("ix_aid_request_daily_wards_province_code"), table_name="aid_request_daily_wards"
    )
    op.drop_table("aid_request_daily_wards")
    op.drop_table("aid_request_daily")
