"""i10-send: partial indexes for the outbound worker's two claims (advisories, the rest);
the dead letters and a request's notices by partial indexes instead of full ones

Revision ID: 6b1d0c3e9a47
Revises: 2f88ea5b3fb0
Create Date: 2026-11-27 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6b1d0c3e9a47"
down_revision: str | None = "2f88ea5b3fb0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied from bot/outbound/models.py as they were when this migration was written.
OPEN = "status IN ('pending', 'failed_retrying')"
ADVISORY_DUE = f"{OPEN} AND kind = 'advisory'"
DIRECT_DUE = f"{OPEN} AND kind <> 'advisory'"
DEAD = "status = 'dead'"
WITH_REQUEST = "aid_request_id IS NOT NULL"


def upgrade() -> None:
    # Only open rows are in these indexes: small even beside millions of sent messages.
    op.create_index(
        "ix_outbound_messages_advisory_due",
        "outbound_messages",
        ["channel", "next_attempt_at", "id"],
        postgresql_where=sa.text(ADVISORY_DUE),
        sqlite_where=sa.text(ADVISORY_DUE),
    )
    op.create_index(
        "ix_outbound_messages_direct_due",
        "outbound_messages",
        ["next_attempt_at"],
        postgresql_where=sa.text(DIRECT_DUE),
        sqlite_where=sa.text(DIRECT_DUE),
    )
    # Every row was in these two; a fan-out's rows (no request, never dead) are not now.
    op.drop_index("ix_outbound_messages_status", table_name="outbound_messages")
    op.create_index(
        "ix_outbound_messages_dead",
        "outbound_messages",
        ["id"],
        postgresql_where=sa.text(DEAD),
        sqlite_where=sa.text(DEAD),
    )
    op.drop_index("ix_outbound_messages_aid_request_id", table_name="outbound_messages")
    op.create_index(
        "ix_outbound_messages_aid_request_id",
        "outbound_messages",
        ["aid_request_id"],
        postgresql_where=sa.text(WITH_REQUEST),
        sqlite_where=sa.text(WITH_REQUEST),
    )


def downgrade() -> None:
    op.drop_index("ix_outbound_messages_aid_request_id", table_name="outbound_messages")
    op.create_index("ix_outbound_messages_aid_request_id", "outbound_messages", ["aid_request_id"])
    op.drop_index("ix_outbound_messages_dead", table_name="outbound_messages")
    op.create_index("ix_outbound_messages_status", "outbound_messages", ["status"])
    op.drop_index("ix_outbound_messages_direct_due", table_name="outbound_messages")
    op.drop_index("ix_outbound_messages_advisory_due", table_name="outbound_messages")
