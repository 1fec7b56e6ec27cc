"""Sign-in through the real app: sessions, CSRF, lock-out, roles, security headers."""

from __future__ import annotations

import re
import time

import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.users.models import Role
from bot.users.service import disable_user, reset_password
from bot.web.auth.deps import StaffUser
from bot.web.auth.runtime import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from tests.requests.factories import make_team
from tests.users.conftest import other_browser, running_app, web_settings
from tests.users.factories import PASSWORD, csrf_of, login, login_token, make_user


def _actions(session: Session) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_admin_signs_in_lands_on_admin_and_sees_name_and_role(
    web: TestClient, session: Session
) -> None:
    make_user(session, role=Role.ADMIN, username="lan", display_name="Nguyễn Thị Lan")
    response = login(web, "lan")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin"
    cookie = response.headers["set-cookie"].lower()
    assert "hotline_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie.split("hotline_session=")[1].split(",")[0]  # plain HTTP here
    page = web.get("/admin")
    assert page.status_code == 200
    assert "Nguyễn Thị Lan" in page.text and "Quản trị viên" in page.text
    assert 'href="/console"' in page.text and 'href="/admin"' in page.text
    assert "auth.login" in _actions(session)


def test_cookies_are_secure_when_the_public_address_is_https(session: Session, db_url: str) -> None:
    settings = web_settings(db_url, public_base_url="https://hotline.example.vn")
    make_user(session, username="secure.user")
    with running_app(settings, base_url="https://testserver") as client:
        response = login(client, "secure.user")
        assert "; secure" in response.headers["set-cookie"].lower()
        assert "strict-transport-security" in response.headers


def test_the_session_id_changes_at_every_sign_in(web: TestClient, session: Session) -> None:
    make_user(session, username="rotate")
    first = login(web, "rotate").cookies[SESSION_COOKIE]
    again = {"username": "rotate", "password": PASSWORD, "csrf_token": csrf_of(web)}
    second = web.post("/login", data=again, follow_redirects=False).cookies[SESSION_COOKIE]
    assert first != second
    web.cookies.set(SESSION_COOKIE, first)
    assert web.get("/account", follow_redirects=False).status_code == 303  # the old one is dead


def test_wrong_password_and_unknown_user_get_the_same_message(
    web: TestClient, session: Session
) -> None:
    make_user(session, username="hung")
    wrong = login(web, "hung", "not-the-password")
    unknown = login(web, "nobody-here", "not-the-password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Tên đăng nhập hoặc mật khẩu không đúng." in response.text
        assert SESSION_COOKIE not in response.cookies
    assert _actions(session).count("auth.login_failed") == 2


def test_lock_out_after_repeated_failures_for_real_and_unknown_users(
    web: TestClient, session: Session
) -> None:
    make_user(session, username="nam")
    for name in ("nam", "ghost"):
        for _ in range(2):
            assert login(web, name, "bad-password-x").status_code == 401
        third = login(web, name, "bad-password-x")
        assert third.status_code == 429
        assert "thử lại sau 15 phút" in third.text
    # Locked: even the right password is refused, with the same message.
    right = login(web, "nam", PASSWORD)
    assert right.status_code == 429 and SESSION_COOKIE not in right.cookies
    assert "auth.locked_out" in _actions(session)


def test_too_many_failures_from_one_address_are_throttled(session: Session, db_url: str) -> None:
    settings = web_settings(db_url, login_max_failures=50, login_ip_max_failures=4)
    make_user(session, username="ip.user")
    with running_app(settings) as client:
        for attempt in range(3):
            assert login(client, f"someone{attempt}", "bad-password-x").status_code == 401
        assert login(client, "someone-else", "bad-password-x").status_code == 429
        blocked = login(client, "ip.user", PASSWORD)
        assert blocked.status_code == 429
        assert "Vui lòng thử lại sau" in blocked.text


@pytest.mark.parametrize("path", ["/account", "/admin", "/admin/users", "/account/password"])
def test_not_signed_in_goes_to_the_login_page_and_back(
    web: TestClient, session: Session, path: str
) -> None:
    response = web.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"
    make_user(session, role=Role.ADMIN, username="back")
    assert login(web, "back", next=path).headers["location"] == path


@pytest.mark.parametrize(
    "next_path", ["https://evil.example/", "//evil.example/x", "/\\evil", "javascript:alert(1)"]
)
def test_login_never_redirects_to_another_site(
    web: TestClient, session: Session, next_path: str
) -> None:
    make_user(session, username="safe")
    assert login(web, "safe", next=next_path).headers["location"] == "/account"


@pytest.mark.parametrize(
    "cookie",
    ["forged", "x" * 43, "A" * 4000, "../../etc/passwd", '"quoted"', "%00%ff"],
)
def test_a_forged_session_cookie_gets_the_login_page_not_an_error(
    web: TestClient, cookie: str
) -> None:
    web.cookies.set(SESSION_COOKIE, cookie)
    response = web.get("/account", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    page = web.get("/login")
    assert page.status_code == 200
    api = web.post("/logout", data={"csrf_token": "x"}, follow_redirects=False)
    assert api.status_code == 303 and api.headers["location"] == "/login"


def test_an_expired_session_gets_the_login_page(session: Session, db_url: str) -> None:
    make_user(session, username="idle")
    with running_app(web_settings(db_url)) as client:
        app = client.app
        assert login(client, "idle").status_code == 303
        assert client.get("/account").status_code == 200
        app.state.auth.sessions.idle_seconds = 1  # the idle time-out, shortened for the test
        time.sleep(1.1)
        response = client.get("/account", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_absolute_time_out_ends_even_a_busy_session(session: Session, db_url: str) -> None:
    make_user(session, username="busy")
    with running_app(web_settings(db_url)) as client:
        app = client.app
        assert login(client, "busy").status_code == 303
        app.state.auth.sessions.absolute_seconds = 1
        assert client.get("/account").status_code == 200
        time.sleep(1.1)
        assert client.get("/account", follow_redirects=False).status_code == 303


def test_a_post_without_the_csrf_token_is_refused_with_a_vietnamese_page(
    web: TestClient, session: Session
) -> None:
    make_user(session, username="csrf")
    login(web, "csrf")
    for data in ({}, {"csrf_token": ""}, {"csrf_token": "wrong-token"}):
        response = web.post("/logout", data=data, follow_redirects=False)
        assert response.status_code == 403
        assert "mã bảo vệ (CSRF)" in response.text
    assert web.get("/account").status_code == 200  # still signed in: nothing happened
    ok = web.post("/logout", data={"csrf_token": csrf_of(web)}, follow_redirects=False)
    assert ok.status_code == 303
    assert web.get("/account", follow_redirects=False).status_code == 303
    assert "auth.logout" in _actions(session)


def test_the_csrf_token_is_accepted_in_a_header_and_in_a_multipart_form(
    web: TestClient, session: Session
) -> None:
    make_user(session, role=Role.ADMIN, username="hdr")
    login(web, "hdr")
    token = csrf_of(web)
    multipart = web.post(
        "/admin/users",
        files={
            "csrf_token": (None, token),
            "username": (None, "new.member"),
            "role": (None, "staff"),
        },
    )
    assert multipart.status_code == 200 and "new.member" in multipart.text
    header = web.post(
        "/admin/users",
        data={"username": "other.member", "role": "staff"},
        headers={"X-CSRF-Token": token},
    )
    assert header.status_code == 200 and "other.member" in header.text


def test_the_login_form_itself_needs_its_token(web: TestClient, session: Session) -> None:
    make_user(session, username="formtoken")
    login_token(web)
    response = web.post("/login", data={"username": "formtoken", "password": PASSWORD})
    assert response.status_code == 403
    web.cookies.delete(LOGIN_CSRF_COOKIE, path="/login")
    forged = web.post(
        "/login", data={"username": "formtoken", "password": PASSWORD, "csrf_token": "made-up"}
    )
    assert forged.status_code == 403


def test_disabling_a_user_ends_their_open_session(web: TestClient, session: Session) -> None:
    make_user(session, role=Role.ADMIN, username="boss")
    worker = make_user(session, username="worker")
    login(web, "worker")
    assert web.get("/account").status_code == 200
    disable_user(session=session, user=worker, actor="test")  # as `hotline users disable` does
    session.flush()
    response = web.get("/account", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert login(web, "worker").status_code == 401


def test_a_password_reset_ends_sessions_and_forces_a_change(
    web: TestClient, session: Session
) -> None:
    user = make_user(session, username="forgot")
    login(web, "forgot")
    new_password = reset_password(session=session, user=user, actor="test")
    session.flush()
    assert web.get("/account", follow_redirects=False).status_code == 303
    first = login(web, "forgot", new_password)
    assert first.headers["location"] == "/account/password"
    # Every page leads to the password form until the password is changed.
    assert web.get("/admin", follow_redirects=False).headers["location"] == "/account/password"
    form = web.get("/account/password")
    token = form.context["csrf_token"]  # type: ignore[attr-defined]
    mismatch = web.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current": new_password,
            "new": "Mat-khau-rieng-01",
            "confirm": "x",
        },
    )
    assert mismatch.status_code == 400 and "không khớp" in mismatch.text
    wrong = web.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current": "nope",
            "new": "Mat-khau-rieng-01",
            "confirm": "Mat-khau-rieng-01",
        },
    )
    assert wrong.status_code == 400 and "hiện tại không đúng" in wrong.text
    done = web.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current": new_password,
            "new": "Mat-khau-rieng-01",
            "confirm": "Mat-khau-rieng-01",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert web.get("/account").status_code == 200
    with other_browser(web) as other:
        assert login(other, "forgot", "Mat-khau-rieng-01").status_code == 303


def test_team_and_staff_cannot_open_admin_pages(web: TestClient, session: Session) -> None:
    make_team(session, slug="t-admin-test", wards=["26743"])
    make_user(session, role=Role.TEAM, teams=["t-admin-test"], username="member")
    login(web, "member")
    for path in ("/admin", "/admin/users"):
        response = web.get(path)
        assert response.status_code == 403
        assert "không có quyền" in response.text
    token = csrf_of(web)
    post = web.post(
        "/admin/users", data={"csrf_token": token, "username": "x.y.z", "role": "admin"}
    )
    assert post.status_code == 403
    account = web.get("/account")
    assert "1 phường/xã của tổ" in account.text
    assert 'href="/admin"' not in account.text and 'href="/console"' not in account.text


def test_admin_creates_disables_and_resets_accounts_in_the_page(
    web: TestClient, session: Session
) -> None:
    make_user(session, role=Role.ADMIN, username="chief")
    login(web, "chief")
    token = csrf_of(web)
    created = web.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "Mai.Tran",
            "display_name": "<b>Trần Mai</b>",
            "role": "staff",
        },
    )
    assert created.status_code == 200
    password = re.search(r'id="one-time-password">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
    assert "&lt;b&gt;Trần Mai&lt;/b&gt;" in created.text and "<b>Trần Mai" not in created.text
    refused = web.post(
        "/admin/users", data={"csrf_token": token, "username": "mai.tran", "role": "staff"}
    )
    assert refused.status_code == 400 and "đã có người dùng" in refused.text
    listing = web.get("/admin/users").text
    assert "mai.tran" in listing and "Chờ đổi mật khẩu" in listing
    with other_browser(web) as other:
        assert login(other, "mai.tran", password).headers["location"] == "/account/password"


def test_security_headers_on_pages_and_api(web: TestClient) -> None:
    page = web.get("/login")
    csp = page.headers["content-security-policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp
        and "frame-ancestors 'none'" in csp
    )
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["cache-control"] == "no-store"
    assert web.get("/static/site.css").headers.get("cache-control") != "no-store"
    assert web.get("/healthz").headers["x-content-type-options"] == "nosniff"


def test_api_callers_get_401_json_not_a_redirect(web: TestClient) -> None:
    router = APIRouter()

    @router.get("/api/test-staff-only")
    def staff_only(user: StaffUser) -> dict[str, str]:
        return {"user": user.username}

    web.app.include_router(router)  # type: ignore[attr-defined]
    response = web.get("/api/test-staff-only", follow_redirects=False)
    assert response.status_code == 401 and response.json()["detail"] == "Cần đăng nhập."


def test_the_resident_chat_and_webhooks_need_no_staff_token(web: TestClient) -> None:
    response = web.post("/api/chat/messages", json={"text": "chào"})
    assert response.status_code == 200


def test_an_unreachable_session_store_gets_a_clear_503_not_an_error(
    session: Session, db_url: str
) -> None:
    import redis.asyncio as aioredis

    from tests.e2e.conftest import free_port

    make_user(session, username="noredis")
    with running_app(web_settings(db_url)) as client:
        token = login_token(client)
        # Redis goes away while the app runs: the auth layer is rebuilt on the dead address.
        down = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
        client.app.state.redis = down  # type: ignore[attr-defined]
        del client.app.state.auth  # type: ignore[attr-defined]
        response = client.post(
            "/login", data={"username": "noredis", "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 503
        assert "tạm gián đoạn" in response.text
        client.cookies.set(SESSION_COOKIE, "x" * 43)
        assert client.get("/account").status_code == 503
        assert client.get("/api/anything").json()["detail"].startswith("Hệ thống đăng nhập")
        client.portal.call(down.aclose)  # type: ignore[union-attr]


def test_times_are_shown_in_vietnam_time() -> None:
    from datetime import UTC, datetime

    from bot.web.templating import vn_time

    assert vn_time(datetime(2026, 11, 27, 20, 5, tzinfo=UTC)) == "28/11/2026 03:05"
    assert vn_time(datetime(2026, 11, 27, 20, 5)) == "28/11/2026 03:05"
    assert vn_time(None) == "—"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            b"username=" + b"a" * 10_000 + b"&password=" + b"p" * 10_000,
            "application/x-www-form-urlencoded",
        ),
        (bytes(range(256)) * 4, "application/x-www-form-urlencoded"),
        (b"username=%ff%fe&password=%00%01", "application/x-www-form-urlencoded"),
        (b'{"username": "a", "password": "b"}', "application/json"),
        (bytes(range(256)), "multipart/form-data; boundary=xyz"),
        (b"", "text/plain"),
    ],
)
def test_junk_posted_to_the_login_form_gets_a_clear_answer(
    web: TestClient, body: bytes, content_type: str
) -> None:
    token = login_token(web)
    response = web.post(
        "/login", content=body, headers={"content-type": content_type, "X-CSRF-Token": token}
    )
    assert response.status_code in (400, 401, 422), response.text
    assert SESSION_COOKIE not in response.cookies


def test_a_huge_username_and_password_are_refused_quickly(web: TestClient) -> None:
    response = login(web, "u" * 10_000, "p" * 10_000)
    assert response.status_code == 401
    assert "không đúng" in response.text


def test_a_long_lived_stream_can_tell_when_its_session_ends(
    web: TestClient, session: Session
) -> None:
    from bot.web.auth.deps import session_still_live

    router = APIRouter()

    @router.get("/test-still-live")
    async def still_live(request: Request) -> dict[str, bool]:
        return {"live": await session_still_live(request)}

    web.app.include_router(router)  # type: ignore[attr-defined]
    user = make_user(session, username="watcher")
    assert web.get("/test-still-live").json() == {"live": False}
    login(web, "watcher")
    assert web.get("/test-still-live").json() == {"live": True}
    disable_user(session=session, user=user, actor="test")  # from the CLI, say
    session.flush()
    assert web.get("/test-still-live").json() == {"live": False}


def test_a_malformed_multipart_body_without_a_token_gets_403(
    web: TestClient, session: Session
) -> None:
    make_user(session, username="multi")
    login(web, "multi")
    for content_type in ("multipart/form-data; boundary=xyz", "multipart/form-data"):
        response = web.post(
            "/logout", content=bytes(range(256)), headers={"content-type": content_type}
        )
        assert response.status_code == 403


def test_overlong_admin_form_fields_get_a_vietnamese_message(
    web: TestClient, session: Session
) -> None:
    make_user(session, role=Role.ADMIN, username="long.admin")
    login(web, "long.admin")
    token = csrf_of(web)
    long_name = web.post(
        "/admin/users", data={"csrf_token": token, "username": "x" * 5000, "role": "staff"}
    )
    assert long_name.status_code == 400 and "3–64 ký tự" in long_name.text
    long_display = web.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "ok.user",
            "display_name": "y" * 5000,
            "role": "staff",
        },
    )
    assert long_display.status_code == 400 and "tối đa 100 ký tự" in long_display.text
