"""The web app fixtures for the rumour inbox pages."""

from tests.users.conftest import app_settings, web  # noqa: F401
