"""Who is asking: `Annotated` dependencies for pages and API routes.

    @router.get("/console")
    def console(user: StaffUser, session: SessionDep) -> Response: ...

Pages without a live session go to /login (and come back afterwards); /api/ routes get 401.
A user who must change their password is sent to the password page first. A role that does
not fit gets 403. A team member passes TeamUser; what they may see is `ward_scope(user)`,
applied in the services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from bot.db.session import session_scope
from bot.users.models import Role, User
from bot.web.auth.runtime import SESSION_COOKIE, auth_runtime
from bot.web.auth.sessions import StaffSession
from bot.web.deps import SessionDep

PASSWORD_PATH = "/account/password"


@dataclass(frozen=True)
class Viewer:
    """Who is signed in, as the page templates show it: a copy that outlives the database
    session (an error page is rendered after the request's session has closed)."""

    id: int
    username: str
    display_name: str
    role: str
    role_label: str

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(user.id, user.username, user.display_name, user.role, user.role_label)


class LoginRequired(Exception):
    """No live session: the handler sends pages to /login and the API a 401."""


class PasswordChangeRequired(Exception):
    """A one-time password is still in use: the handler sends pages to the password page."""


class AccessDenied(Exception):
    """The user may not see this: 403 with the message (Vietnamese)."""

    def __init__(self, message: str = "Tài khoản của bạn không có quyền xem trang này.") -> None:
        super().__init__(message)
        self.message = message


def current_session(request: Request) -> StaffSession:
    """The live session of the request (loaded by AuthMiddleware)."""
    session: StaffSession | None = getattr(request.state, "auth_session", None)
    if session is None:
        raise LoginRequired
    return session


async def signed_in_user(request: Request, db: SessionDep) -> User:
    """The session's user, if the account is still enabled and the session not revoked."""
    auth = current_session(request)
    # In the thread pool, never on the event loop: on SQLite a transaction begins IMMEDIATE and
    # may wait for another writer, which would stall every request of the process meanwhile.
    user = await run_in_threadpool(db.get, User, auth.user_id)
    if user is None or user.disabled or user.session_version != auth.version:
        # Disabled, or its password changed (perhaps from the CLI): this session is over.
        await auth_runtime(request.app).sessions.revoke_key(auth.key, user_id=auth.user_id)
        request.state.auth_session = None
        raise LoginRequired
    request.state.viewer = Viewer.of(user)
    return user


def current_user(request: Request, user: Annotated[User, Depends(signed_in_user)]) -> User:
    """Any signed-in user who has set their own password."""
    if user.must_change_password:
        raise PasswordChangeRequired
    return user


async def session_still_live(request: Request) -> bool:
    """For long-lived responses (a console's server-sent events): whether the request's session
    still holds (not signed out, timed out or revoked; account enabled, password unchanged),
    restarting its idle clock. Call it on each heartbeat and close the stream on False."""
    token = request.cookies.get(SESSION_COOKIE)
    auth = await auth_runtime(request.app).sessions.load(token)
    if auth is None:
        return False

    def account_unchanged() -> bool:
        with session_scope() as db:
            user = db.get(User, auth.user_id)
            return user is not None and not user.disabled and user.session_version == auth.version

    if await run_in_threadpool(account_unchanged):
        return True
    await auth_runtime(request.app).sessions.revoke_key(auth.key, user_id=auth.user_id)
    return False


def _role_check(*roles: Role, message: str | None = None):  # type: ignore[no-untyped-def]
    def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in roles:
            raise AccessDenied(message) if message else AccessDenied()
        return user

    return check


SignedInUser = Annotated[User, Depends(signed_in_user)]  # even with a one-time password
CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(_role_check(Role.ADMIN))]
StaffUser = Annotated[User, Depends(_role_check(Role.ADMIN, Role.STAFF))]
TeamUser = Annotated[User, Depends(_role_check(Role.ADMIN, Role.STAFF, Role.TEAM))]
AuthSession = Annotated[StaffSession, Depends(current_session)]
