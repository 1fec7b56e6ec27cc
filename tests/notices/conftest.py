"""The web app, two teams in two wards and an admin, as the workspace tests use them."""

from tests.users.conftest import app_settings, web  # noqa: F401  (fixtures)
from tests.workspace.conftest import wards  # noqa: F401  (fixture)
