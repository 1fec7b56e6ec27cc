"""Real-browser tests: headless Chromium (Debian's package, driven by Playwright for Python)
against a real uvicorn server of the web app on a free port and a real database.

Playwright's own browser download is not used (it is not reachable here): the tests drive
/usr/bin/chromium, and install Debian's `chromium` package first when it is missing and we
are root (as in CI). Without it and without root they skip, saying why.

Reuse from other test folders (the console tests with the full stack):

    from tests.browser.conftest import create_account, new_page, sign_in
    def test_x(browser, live_stack):           # live_stack from tests/e2e/conftest.py
        with new_page(browser, live_stack.web_url) as page: ...

`create_account` and `sign_in` take anything with `web_url` and `database_url` (WebServer here,
LiveStack in tests/e2e).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bot.db.migrate import upgrade
from bot.settings import PROJECT_ROOT
from bot.users.models import Role
from bot.users.service import create_user
from tests.e2e.conftest import free_port

CHROMIUM = Path(os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium"))
POSTGRES_URL = os.environ.get("HOTLINE_TEST_POSTGRES_URL")
PASSWORD = "Mat-khau-trinh-duyet-9"
LOGIN_MAX_FAILURES = 3
_ids = itertools.count(1)


class Site(Protocol):
    web_url: str
    database_url: str


@dataclass
class WebServer:
    web_url: str
    database_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


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
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        result = subprocess.run(install, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            pytest.fail(
                f"apt-get install chromium failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
    if not CHROMIUM.exists():
        pytest.fail(f"chromium installed but {CHROMIUM} is missing")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the test session."""
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


@contextmanager
def scratch_database(workdir: Path) -> Iterator[str]:
    """A migrated, empty database: a PostgreSQL schema when configured, else a SQLite file."""
    if not POSTGRES_URL:
        url = f"sqlite:///{workdir / 'hotline.db'}"
        upgrade(url)
        yield url
        return
    schema = f"browser_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@contextmanager
def run_web_server(workdir: Path, database_url: str, **env: str) -> Iterator[WebServer]:
    """uvicorn serving bot.web.app on a free port (no Rasa behind it), stopped afterwards."""
    port = free_port()
    settings = {
        "ENV": "test",
        "DATABASE_URL": database_url,
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "RASA_URL": f"http://127.0.0.1:{free_port()}",
        "ACTION_SERVER_URL": f"http://127.0.0.1:{free_port()}",
        "LOGIN_MAX_FAILURES": str(LOGIN_MAX_FAILURES),
        "LOG_LEVEL": "WARNING",
        **env,
    }
    child_env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | settings
    log_path = workdir / f"web-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bot.web.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            cwd=PROJECT_ROOT,
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = WebServer(f"http://127.0.0.1:{port}", database_url, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"the web server exited:\n{server.log()[-3000:]}")
            try:
                if httpx.get(f"{server.web_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the web server did not start:\n{server.log()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """The web app under uvicorn on its own database, for the whole test session."""
    workdir = tmp_path_factory.mktemp("browser")
    with scratch_database(workdir) as url, run_web_server(workdir, url) as server:
        yield server


@pytest.fixture
def page(browser: Browser, web_server: WebServer) -> Iterator[Page]:
    with new_page(browser, web_server.web_url) as fresh:
        yield fresh


def create_account(
    site: Site,
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
