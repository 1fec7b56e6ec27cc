"""Database: models, engine and sessions, Alembic migrations."""
