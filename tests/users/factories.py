"""Accounts for tests: a user with a known password, signed in through the real login form."""

from __future__ import annotations

import itertools

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from bot.users.models import Role, User
from bot.users.service import create_user

PASSWORD = "Mat-khau-thu-nghiem-42"
_ids = itertools.count(1)


def make_user(
    session: Session,
    *,
    role: Role | str = Role.STAFF,
    teams: list[str] | None = None,
    username: str | None = None,
    password: str | None = PASSWORD,
    display_name: str | None = None,
) -> User:
    """Creates an account; with `password=None` it gets a one-time password to change first."""
    account = create_user(
        session=session,
        username=username or f"user{next(_ids)}",
        role=role,
        display_name=display_name,
        team_slugs=teams or [],
        password=password,
        actor="test",
    )
    session.flush()
    return account.user


def login_token(client: TestClient) -> str:
    """Opens the login form and returns its CSRF token (its cookie stays in the client)."""
    page = client.get("/login")
    assert page.status_code == 200
    return str(page.context["login_csrf"])  # type: ignore[attr-defined]


def login(client: TestClient, username: str, password: str = PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    """Submits the login form like a browser; returns the (unfollowed) response."""
    data = {"username": username, "password": password, "csrf_token": login_token(client), **extra}
    return client.post("/login", data=data, follow_redirects=False)


def csrf_of(client: TestClient) -> str:
    """The signed-in session's CSRF token, read from a page's context."""
    page = client.get("/account")
    return str(page.context["csrf_token"])  # type: ignore[attr-defined]
