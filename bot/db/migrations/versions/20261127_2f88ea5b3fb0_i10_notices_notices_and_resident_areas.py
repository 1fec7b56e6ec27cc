"""i10-notices: ward notices and the area residents told the bot

Revision ID: 2f88ea5b3fb0
Revises: ea777b706fe5
Create Date: 2026-11-27 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2f88ea5b3fb0"
down_revision: str | None = "ea777b706fe5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("province_code", sa.String(length=8), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_notices_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notices_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_notices_valid_from"), ["valid_from"], unique=False)
        batch_op.create_index(batch_op.f("ix_notices_valid_to"), ["valid_to"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_notices_province_code"), ["province_code"], unique=False
        )

    op.create_table(
        "notice_wards",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("ward_code", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_notice_wards_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("notice_id", "ward_code", name=op.f("pk_notice_wards")),
    )
    with op.batch_alter_table("notice_wards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_wards_ward_code"), ["ward_code"], unique=False)

    op.create_table(
        "resident_areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=8), nullable=False),
        sa.Column("ward_code", sa.String(length=8), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_resident_areas_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_areas")),
        sa.UniqueConstraint("resident_id", name=op.f("uq_resident_areas_resident_id")),
    )


def downgrade() -> None:
    op.drop_table("resident_areas")
    with op.batch_alter_table("notice_wards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_wards_ward_code"))
    op.drop_table("notice_wards")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_province_code"))
        batch_op.drop_index(batch_op.f("ix_notices_valid_to"))
        batch_op.drop_index(batch_op.f("ix_notices_valid_from"))
        batch_op.drop_index(batch_op.f("ix_notices_kind"))
    op.drop_table("notices")
