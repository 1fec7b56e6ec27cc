"""INSERT … ON CONFLICT DO NOTHING on both backends (SQLite 3.24+ and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_or_skip(session: Session, model: Any, conflict_columns: list[str]) -> Any:
    """An INSERT into `model`'s table that skips rows clashing on `conflict_columns`
    (a unique constraint), in the dialect of the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing(index_elements=conflict_columns)
    return sqlite.insert(model).on_conflict_do_nothing(index_elements=conflict_columns)
