"""Running the Alembic migrations from code (`hotline migrate`, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from bot.settings import PROJECT_ROOT


def alembic_config(url: str | None = None) -> Config:
    """Returns an Alembic config pointing at our migrations, optionally at a given database."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Brings the database schema to the given revision (the newest by default)."""
    command.upgrade(alembic_config(url), revision)
