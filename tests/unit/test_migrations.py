"""Alembic migrations match the models and go down and up again on each backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from bot.db.migrate import upgrade
from bot.db.models import Base


def test_migrations_create_exactly_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_up_again(db_url: str, engine: Engine) -> None:
    from alembic import command

    from bot.db.migrate import alembic_config

    command.downgrade(alembic_config(db_url), "base")
    upgrade(db_url)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is not None
