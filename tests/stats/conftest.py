"""Fixtures of the workspace tests (teams, members, an admin) and the web app."""

from tests.users.conftest import app_settings, web  # noqa: F401  (fixtures)
from tests.workspace.conftest import wards  # noqa: F401  (fixture)
