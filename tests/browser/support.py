"""Real-browser testing for any test folder (a pytest plugin, loaded by tests/conftest.py).

Headless Chromium from Debian's `chromium` package, driven by Playwright for Python.
Playwright's own browser download is not reachable here and is never used: the tests drive
/usr/bin/chromium, installing the package with apt-get first when it is missing and we are
root (as in CI); otherwise they skip, saying which command would install it.

The fixture `browser` (one Chromium per test module) is available everywhere. With the full
stack of tests/e2e (Rasa, action server, web app):

    from tests.browser.support import create_account, new_page, sign_in

    def test_console(browser, live_stack):
        username, password = create_account(live_stack, role="staff")
        with new_page(browser, live_stack.web_url) as page:
            sign_in(page, username, password)
            ...

`create_account` takes anything with `database_url` (LiveStack, or WebServer in
tests/browser/conftest.py, which serves the web app alone under uvicorn).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bot.users.models import Role
from bot.users.service import create_user

CHROMIUM = Path(os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium"))
PASSWORD = "Mat-khau-trinh-duyet-9"
_ids = itertools.count(1)


class HasDatabase(Protocol):
    database_url: str


def ensure_chromium() -> Path:
    """Debian's Chromium, installed with apt-get when missing and we are root; else a skip."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(
            f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get): "
            "run `sudo apt-get install chromium` to run the browser tests"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        # A fresh machine has no package lists yet.
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        result = subprocess.run(install, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            pytest.fail(
                f"apt-get install chromium failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
    if not CHROMIUM.exists():
        pytest.fail(f"the chromium package is installed but {CHROMIUM} is missing")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module.

    Not per session: Playwright's sync API keeps an event loop running while it is open, and
    the async tests of other modules (pytest-asyncio) cannot start theirs meanwhile. Keep
    async tests out of modules that use it.
    """
    executable = ensure_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(executable),
            headless=True,
            # Root (CI) cannot use Chromium's sandbox; containers have a small /dev/shm.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield chromium
        chromium.close()


@contextmanager
def new_page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A fresh browser context (its own cookies) and a page in it."""
    context = browser.new_context(base_url=base_url, locale="vi-VN")
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def create_account(
    site: HasDatabase,
    *,
    role: Role | str = Role.STAFF,
    teams: list[str] | None = None,
    display_name: str | None = None,
    password: str | None = PASSWORD,
) -> tuple[str, str]:
    """Creates an account in the site's database; returns (username, password).

    With `password=None` the account gets a one-time password, as from `hotline users create`.
    """
    engine = create_engine(site.database_url)
    try:
        with Session(engine) as session, session.begin():
            account = create_user(
                session=session,
                username=f"{Role(role).value}{next(_ids)}-{uuid.uuid4().hex[:6]}",
                role=role,
                display_name=display_name,
                team_slugs=teams or [],
                password=password,
                actor="test",
            )
            username = account.user.username
    finally:
        engine.dispose()
    return username, account.one_time_password or password or ""


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Fills and submits the login form like a person."""
    page.goto("/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
