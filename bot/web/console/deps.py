"""The console's view of the signed-in account, as the services' `Actor`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bot.console.service import Actor
from bot.db.session import session_scope
from bot.users.models import Role, User
from bot.users.service import ward_scope
from bot.web.auth.deps import AccessDenied, LoginRequired, TeamUser, current_session

CONSOLE_ROLES = (Role.ADMIN, Role.STAFF, Role.TEAM)


def actor_for(user: User) -> Actor:
    """Staff and admins see every conversation; a team member only their teams' wards."""
    return Actor(id=user.id, name=user.display_name, role=user.role, wards=ward_scope(user))


def console_actor(user: TeamUser) -> Actor:
    return actor_for(user)


def streaming_actor(request: Request) -> Actor:
    """For a long-lived stream: checks the account with a short session instead of holding a
    database connection for as long as the page stays open."""
    auth = current_session(request)
    with session_scope() as session:
        user = session.get(User, auth.user_id)
        if user is None or user.disabled or user.session_version != auth.version:
            raise LoginRequired
        if user.role not in CONSOLE_ROLES or user.must_change_password:
            raise AccessDenied()
        return actor_for(user)


ConsoleActor = Annotated[Actor, Depends(console_actor)]
StreamingActor = Annotated[Actor, Depends(streaming_actor)]
