"""The console tests reuse the sign-in tests' app fixture (the app on the test's transaction)."""

from tests.users.conftest import app_settings, web

__all__ = ["app_settings", "web"]
