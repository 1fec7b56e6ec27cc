"""The i7-forms migration scores the requests saved before it and moves phones to E.164."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from bot.db.migrate import alembic_config, upgrade
from tests.conftest import BACKENDS, POSTGRES_URL, _postgres_schema_url

BEFORE = "7c1e5b0a9d42"  # i7-outbound
THIS = "5c1e7a9d2f40"


@pytest.fixture(params=BACKENDS)
def empty_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of its own, so the migration can be run from the revision before it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('migration') / 'm.db'}"
        return
    assert POSTGRES_URL is not None
    schema = f"mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield _postgres_schema_url(POSTGRES_URL, schema)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def test_existing_requests_scored_and_phones_moved_to_e164(empty_db: str) -> None:
    upgrade(empty_db, BEFORE)
    engine = create_engine(empty_db)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        resident = conn.execute(
            text(
                "INSERT INTO residents (conversation_id, channel, reachable, last_seen_at, "
                "created_at) VALUES ('web:mig', 'web', true, :now, :now) RETURNING id"
            ),
            {"now": now},
        ).scalar_one()
        for ref, phone, size, description in [
            ("AAAA0001", "0912345678", 5, "hết gạo 3 ngày, 2 cháu nhỏ"),
            ("AAAA0002", "0327654321", 1, "hết gạo 3 ngày"),
        ]:
            conn.execute(
                text(
                    "INSERT INTO aid_requests (ref_code, resident_id, needs, description, "
                    "household_size, vulnerable, days_without_food, ward_code, province_code, "
                    "address_detail, phone, priority, priority_reasons, status, routing_note, "
                    "updated_at, created_at) VALUES (:ref, :resident, '[\"food\"]', :description, "
                    ":size, :vulnerable, 3, '26743', '79', '12 Lê Lợi', :phone, 1, '[]', "
                    "'assigned', '', :now, :now)"
                ),
                {
                    "ref": ref,
                    "resident": resident,
                    "description": description,
                    "size": size,
                    "vulnerable": '["child_under_6"]' if size == 5 else "[]",
                    "phone": phone,
                    "now": now,
                },
            )
    upgrade(empty_db, THIS)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ref_code, phone, priority, priority_score FROM aid_requests ORDER BY ref_code"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("AAAA0001", "+84912345678", 1, 74),
        ("AAAA0002", "+84327654321", 1, 55),
    ]
    command.downgrade(alembic_config(empty_db), BEFORE)
    with engine.connect() as conn:
        phones = conn.execute(text("SELECT phone FROM aid_requests ORDER BY ref_code")).scalars()
        assert list(phones) == ["0912345678", "0327654321"]
    engine.dispose()
