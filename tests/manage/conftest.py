"""Admins and the web app on the test's transaction, for the management pages' tests."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from bot.users.models import Role, User
from tests.users.conftest import app_settings, web  # noqa: F401  (fixtures)
from tests.users.factories import make_user


@pytest.fixture
def admin(session: Session) -> User:
    return make_user(session, role=Role.ADMIN, username="quan.tri", display_name="Trần Quản Trị")
