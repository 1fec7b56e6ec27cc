"""/admin and /admin/users: admins create accounts, disable them and reset their passwords."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from bot.teams.service import list_teams
from bot.users.models import ROLE_LABELS, User
from bot.users.service import (
    UserError,
    audit_actor,
    create_user,
    disable_user,
    enable_user,
    get_user,
    list_users,
    reset_password,
    update_user,
)
from bot.web.auth.deps import AccessDenied, AdminUser
from bot.web.auth.runtime import revoke_sessions_from_thread
from bot.web.deps import SessionDep
from bot.web.templating import templates

router = APIRouter(prefix="/admin", tags=["admin"])


def _users_page(
    request: Request,
    db: SessionDep,
    *,
    error: str | None = None,
    notice: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "admin/users.html",
        {
            "title": "Người dùng",
            "users": list_users(session=db),
            "teams": list_teams(session=db),
            "roles": ROLE_LABELS,
            "error": error,
            "notice": notice,
            "form": form or {},
        },
        status_code=status_code,
    )


def _one_time_page(request: Request, target: User, password: str, *, created: bool) -> Response:
    return templates.TemplateResponse(
        request,
        "admin/one_time_password.html",
        {
            "title": "Mật khẩu dùng một lần",
            "target": target,
            "password": password,
            "created": created,
        },
    )


def _target(db: SessionDep, user_id: int) -> User:
    target = get_user(session=db, user_id=user_id)
    if target is None:
        raise AccessDenied("Không có người dùng này.")
    return target


@router.get("/users")
def users_page(request: Request, user: AdminUser, db: SessionDep) -> Response:
    return _users_page(request, db)


# Sync routes on purpose: they run in the thread pool, where database calls may wait.
@router.post("/users")
def users_create(
    request: Request,
    user: AdminUser,
    db: SessionDep,
    # No length limits here: the service says what is wrong, in the page, in Vietnamese.
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    teams: Annotated[list[str] | None, Form()] = None,
) -> Response:
    form = {"username": username, "display_name": display_name, "role": role}
    try:
        account = create_user(
            session=db,
            username=username,
            role=role,
            display_name=display_name,
            team_slugs=teams or [],
            actor=audit_actor(user),
        )
    except UserError as exc:  # refused before anything was written
        return _users_page(request, db, error=str(exc), form=form, status_code=400)
    if account.one_time_password is None:
        raise RuntimeError("account.one_time_password is missing")
    return _one_time_page(request, account.user, account.one_time_password, created=True)


@router.post("/users/{user_id}/disable")
def users_disable(request: Request, user_id: int, user: AdminUser, db: SessionDep) -> Response:
    target = _target(db, user_id)
    try:
        disable_user(session=db, user=target, actor=audit_actor(user))
    except UserError as exc:
        return _users_page(request, db, error=str(exc), status_code=400)
    db.commit()
    revoke_sessions_from_thread(request.app, target.id)
    return _users_page(request, db)


@router.post("/users/{user_id}/enable")
def users_enable(request: Request, user_id: int, user: AdminUser, db: SessionDep) -> Response:
    enable_user(session=db, user=_target(db, user_id), actor=audit_actor(user))
    return _users_page(request, db)


@router.post("/users/{user_id}/reset-password")
def users_reset_password(
    request: Request, user_id: int, user: AdminUser, db: SessionDep
) -> Response:
    target = _target(db, user_id)
    password = reset_password(session=db, user=target, actor=audit_actor(user))
    db.commit()
    revoke_sessions_from_thread(request.app, target.id)
    return _one_time_page(request, target, password, created=False)


@router.post("/users/{user_id}")
def users_update(
    request: Request,
    user_id: int,
    user: AdminUser,
    db: SessionDep,
    display_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    teams: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Changes an account's name, role and teams (audited as `user.updated`)."""
    target = _target(db, user_id)
    try:
        update_user(
            session=db,
            user=target,
            actor=audit_actor(user),
            display_name=display_name,
            role=role or None,
            team_slugs=teams or [],
        )
    except UserError as exc:
        db.rollback()
        return _users_page(request, db, error=str(exc), status_code=400)
    db.commit()
    return _users_page(request, db, notice=f"Đã lưu tài khoản {target.username}.")
