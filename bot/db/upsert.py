"""INSERT … ON CONFLICT on both backends (SQLite 3.24+ and PostgreSQL)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert_for(dialect: str, model: Any) -> Any:
    """An INSERT into `model` (a mapped class or a table) in the named dialect, which takes
    `on_conflict_do_nothing` and `on_conflict_do_update`."""
    if dialect == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def insert_or_skip(session: Session, model: Any, conflict_columns: list[str]) -> Any:
    """An INSERT into `model`'s table that skips rows clashing on `conflict_columns`
    (a unique constraint), in the dialect of the session's database."""
    statement = upsert_for(session.get_bind().dialect.name, model)
    return statement.on_conflict_do_nothing(index_elements=conflict_columns)


@cache
def insert_skipping_returning(dialect: str, model: Any, conflict_column: str) -> Any:
    """INSERT … ON CONFLICT (`conflict_column`) DO NOTHING RETURNING the row, built once per
    dialect and model (building and keying a statement costs more CPU than sending it, and
    these run in every saved request); the values are bound at execution. No row comes back
    when the INSERT was skipped."""
    statement = upsert_for(dialect, model).on_conflict_do_nothing(index_elements=[conflict_column])
    return statement.returning(model)
