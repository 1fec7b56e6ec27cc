"""The web app alone under a real uvicorn server on a free port and a real database, for the
browser tests of this folder (`browser` itself comes from tests/browser/support.py).

PostgreSQL when HOTLINE_TEST_POSTGRES_URL is set (as in CI), else a SQLite file. No Rasa
behind it: the resident chat answers politely that the system is busy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import create_engine, text

from bot.db.migrate import upgrade
from bot.settings import PROJECT_ROOT
from tests.browser.support import new_page
from tests.e2e.conftest import free_port

POSTGRES_URL = os.environ.get("HOTLINE_TEST_POSTGRES_URL")
LOGIN_MAX_FAILURES = 3


@dataclass
class WebServer:
    web_url: str
    database_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


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


def _wait_until_up(process: subprocess.Popen[bytes], server: WebServer) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"the web server exited:\n{server.log()[-3000:]}")
        try:
            if httpx.get(f"{server.web_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the web server did not start:\n{server.log()[-3000:]}")
        time.sleep(0.2)


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
    # The in-process Redis stand-in: sessions live in this server's process.
    child_env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | settings
    argv = [sys.executable, "-m", "uvicorn", "bot.web.app:create_app", "--factory"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    log_path = workdir / f"web-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=PROJECT_ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT
        )
    server = WebServer(f"http://127.0.0.1:{port}", database_url, log_path)
    try:
        _wait_until_up(process, server)
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
    """A page in a fresh browser context, its base URL the web server's."""
    with new_page(browser, web_server.web_url) as fresh:
        yield fresh
