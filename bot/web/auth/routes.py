"""Sign in, sign out, the account page and the password change (forced after a one-time password)."""

from __future__ import annotations

import hashlib
import math
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.routing import Match

from bot.audit.service import record_audit
from bot.users.models import Role, User
from bot.users.service import (
    LoginOutcome,
    UserError,
    audit_actor,
    authenticate,
    set_password,
    verify_current_password,
    ward_scope,
)
from bot.web.auth.deps import PASSWORD_PATH, AuthSession, CurrentUser, SignedInUser
from bot.web.auth.responses import safe_next
from bot.web.auth.runtime import LOGIN_CSRF_COOKIE, SESSION_COOKIE, AuthRuntime, auth_runtime
from bot.web.deps import SessionDep
from bot.web.templating import templates

router = APIRouter(tags=["staff sign-in"])

HOME_BY_ROLE = {Role.ADMIN: "/admin", Role.STAFF: "/console", Role.TEAM: "/team"}
BAD_CREDENTIALS = "Tên đăng nhập hoặc mật khẩu không đúng."
MAX_FIELD = 200  # longer than any username or allowed password; the rest is ignored


def home_for(request: Request, user: User) -> str:
    """The page a user starts on: their role's area if this app serves it, else their account."""
    path = HOME_BY_ROLE.get(Role(user.role), "/account")
    scope = {"type": "http", "path": path, "method": "GET"}
    if any(route.matches(scope)[0] == Match.FULL for route in request.app.routes):
        return path
    return "/account"


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _set_session_cookie(response: Response, runtime: AuthRuntime, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",  # Lax: a link from a team's chat to the console still opens signed in
        secure=runtime.settings.secure_cookies,
        path="/",
        max_age=runtime.settings.session_absolute_hours * 3600,
    )


def _login_page(
    request: Request,
    runtime: AuthRuntime,
    *,
    error: str | None = None,
    username: str = "",
    next_path: str | None = None,
    status_code: int = 200,
) -> Response:
    token = secrets.token_urlsafe(32)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {
            "title": "Đăng nhập",
            "error": error,
            "username": username,
            "next": next_path or "",
            "login_csrf": token,
        },
        status_code=status_code,
    )
    # The form's CSRF token before there is a session: a double-submit cookie only this site
    # can set, sent back by the browser only with requests from this site.
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=runtime.settings.secure_cookies,
        path="/login",
        max_age=3600,
    )
    if getattr(request.state, "auth_cookie_stale", False):
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _wait_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return (
        "Đăng nhập sai quá nhiều lần nên tạm thời bị khóa. "
        f"Vui lòng thử lại sau {minutes} phút hoặc liên hệ quản trị viên."
    )


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    if getattr(request.state, "auth_session", None) is not None:
        return RedirectResponse(safe_next(next) or "/account", status_code=303)
    return _login_page(request, auth_runtime(request.app), next_path=safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    db: SessionDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    runtime = auth_runtime(request.app)
    settings = runtime.settings
    username = username.strip().lower()[:MAX_FIELD]
    password = password[:MAX_FIELD]
    next_path = safe_next(next)
    if not username or not password:
        return _login_page(
            request,
            runtime,
            error="Vui lòng nhập tên đăng nhập và mật khẩu.",
            username=username,
            next_path=next_path,
            status_code=400,
        )
    ip = _client_ip(request)
    wait = await runtime.limiter.wait_seconds(ip=ip, username=username)
    if wait:
        record_audit(
            session=db,
            actor="anonymous",
            action="auth.login_throttled",
            entity="user",
            entity_id=None,
            detail={"ip": hashlib.sha256(ip.encode()).hexdigest()[:12]},
        )
        return _login_page(
            request,
            runtime,
            error=_wait_message(wait),
            username=username,
            next_path=next_path,
            status_code=429,
        )
    async with runtime.password_checks:
        result = await run_in_threadpool(
            authenticate,
            session=db,
            username=username,
            password=password,
            max_failures=settings.login_max_failures,
            lockout=timedelta(minutes=settings.login_lockout_minutes),
        )
    if result.outcome is not LoginOutcome.OK or result.user is None:
        await runtime.limiter.record_failure(ip=ip, username=username)
        wait = await runtime.limiter.wait_seconds(ip=ip, username=username)
        if result.outcome is LoginOutcome.LOCKED or wait:
            seconds = wait or settings.login_lockout_minutes * 60
            return _login_page(
                request,
                runtime,
                error=_wait_message(seconds),
                username=username,
                next_path=next_path,
                status_code=429,
            )
        return _login_page(
            request,
            runtime,
            error=BAD_CREDENTIALS,
            username=username,
            next_path=next_path,
            status_code=401,
        )
    user = result.user
    await run_in_threadpool(db.commit)  # the sign-in is recorded whatever happens next
    await runtime.limiter.clear(username=username)
    # A new session id at every sign-in: a session fixed before sign-in is worth nothing.
    old = getattr(request.state, "auth_session", None)
    if old is not None:
        await runtime.sessions.revoke_key(old.key, user_id=old.user_id)
    token, _ = await runtime.sessions.create(user_id=user.id, version=user.session_version)
    target = PASSWORD_PATH if user.must_change_password else next_path or home_for(request, user)
    response = RedirectResponse(target, status_code=303)
    _set_session_cookie(response, runtime, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, auth: AuthSession, db: SessionDep) -> Response:
    await auth_runtime(request.app).sessions.revoke_key(auth.key, user_id=auth.user_id)
    record_audit(
        session=db,
        actor=f"user:{auth.user_id}",
        action="auth.logout",
        entity="user",
        entity_id=auth.user_id,
    )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account")
def account(request: Request, user: CurrentUser) -> Response:
    scope = ward_scope(user)
    return templates.TemplateResponse(
        request,
        "account.html",
        {
            "title": "Tài khoản",
            "user": user,
            "ward_count": None if scope is None else len(scope),
            "home": home_for(request, user),
        },
    )


def _password_page(
    request: Request, user: User, *, error: str | None = None, status_code: int = 200
) -> Response:
    return templates.TemplateResponse(
        request,
        "password.html",
        {"title": "Đổi mật khẩu", "forced": user.must_change_password, "error": error},
        status_code=status_code,
    )


@router.get(PASSWORD_PATH)
def password_form(request: Request, user: SignedInUser) -> Response:
    return _password_page(request, user)


@router.post(PASSWORD_PATH)
async def change_password(
    request: Request,
    user: SignedInUser,
    db: SessionDep,
    current: Annotated[str, Form()] = "",
    new: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    runtime = auth_runtime(request.app)
    if not await run_in_threadpool(
        verify_current_password, user=user, password=current[:MAX_FIELD]
    ):
        return _password_page(request, user, error="Mật khẩu hiện tại không đúng.", status_code=400)
    if new != confirm:
        return _password_page(
            request, user, error="Hai lần nhập mật khẩu mới không khớp.", status_code=400
        )
    try:
        await run_in_threadpool(
            set_password, session=db, user=user, password=new, actor=audit_actor(user)
        )
    except UserError as exc:
        return _password_page(request, user, error=str(exc), status_code=400)
    # Before the redirect: the next request must see the new session version.
    await run_in_threadpool(db.commit)
    # Every session of the user ends (the version changed); this browser gets a new one.
    await runtime.sessions.revoke_user(user.id)
    token, _ = await runtime.sessions.create(user_id=user.id, version=user.session_version)
    response = RedirectResponse(home_for(request, user), status_code=303)
    _set_session_cookie(response, runtime, token)
    return response
