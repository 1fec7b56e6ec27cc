"""The outbound worker against the fake Bot API, as the outbound tests use it."""

from tests.channels.conftest import settings, telegram_fake, zalo_fake  # noqa: F401
from tests.channels.test_outbound import clock, events, worker  # noqa: F401
from tests.users.conftest import app_settings, other_browser, web  # noqa: F401
