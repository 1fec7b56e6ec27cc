"""Admins' edits of the content files, kept as revisions: the newest one of an entry wins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, Timestamped


class ContentRevision(Timestamped, Base):
    """One saved version of one entry (a FAQ topic, a rumour, a group of facts, …).

    The YAML files stay the shipped defaults; the newest revision of a (kind, key) replaces the
    file's entry everywhere the content is read. A revert is a new revision with an old value.
    """

    __tablename__ = "content_revisions"
    __table_args__ = (Index("ix_content_revisions_kind_key", "kind", "key", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(120))
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    note: Mapped[str] = mapped_column(String(300), default="")
