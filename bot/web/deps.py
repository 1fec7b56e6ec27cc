"""Dependencies shared by the routers, as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from bot.conversations.pipeline import ConversationPipeline
from bot.db.session import session_scope


def get_session() -> Iterator[Session]:
    """One session per HTTP request, committed once by the edge."""
    with session_scope() as session:
        yield session


def get_pipeline(request: Request) -> ConversationPipeline:
    return request.app.state.pipeline  # type: ignore[no-any-return]


SessionDep = Annotated[Session, Depends(get_session)]
PipelineDep = Annotated[ConversationPipeline, Depends(get_pipeline)]
