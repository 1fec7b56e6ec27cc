"""Accounts: create, authenticate, change passwords, disable, and which wards a user may see."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot.audit.service import record_audit
from bot.db.base import utcnow
from bot.teams.models import Team
from bot.users.models import Role, User
from bot.users.passwords import (
    burn_verify_time,
    generate_password,
    hash_password,
    password_problem,
    verify_password,
)

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MAX_DISPLAY_NAME = 100


class UserError(ValueError):
    """An account change that cannot be made; the message is Vietnamese, shown as is."""


@dataclass(frozen=True)
class NewAccount:
    user: User
    one_time_password: str | None  # set when the password was generated: show it once


class LoginOutcome(StrEnum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"  # unknown user or wrong password: never say which
    LOCKED = "locked"
    DISABLED = "disabled"


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    user: User | None = None
    locked_until: datetime | None = None


def audit_actor(user: User) -> str:
    """How a signed-in user is named in the audit trail."""
    return f"user:{user.id}"


def normalize_username(raw: str) -> str:
    """Lower-cases and trims a username; raises UserError when it has the wrong shape."""
    username = raw.strip().lower()
    if not USERNAME_RE.match(username):
        raise UserError(
            "Tên đăng nhập gồm 3–64 ký tự: chữ thường không dấu, số, dấu chấm, gạch ngang "
            "hoặc gạch dưới, bắt đầu bằng chữ hoặc số."
        )
    return username


def _clean_display_name(raw: str | None, fallback: str) -> str:
    name = " ".join((raw or "").split()) or fallback
    if len(name) > MAX_DISPLAY_NAME:
        raise UserError(f"Tên hiển thị dài tối đa {MAX_DISPLAY_NAME} ký tự.")
    if any(ord(ch) < 32 for ch in name):
        raise UserError("Tên hiển thị có ký tự không hợp lệ.")
    return name


def _teams_by_slug(*, session: Session, slugs: Iterable[str]) -> list[Team]:
    wanted = sorted({s.strip() for s in slugs if s.strip()})
    if not wanted:
        return []
    teams = list(session.scalars(select(Team).where(Team.slug.in_(wanted))))
    missing = sorted(set(wanted) - {t.slug for t in teams})
    if missing:
        raise UserError(f"Không có tổ: {', '.join(missing)}.")
    return teams


def get_user(*, session: Session, user_id: int) -> User | None:
    """Returns a user by id."""
    return session.get(User, user_id)


def get_user_by_username(*, session: Session, username: str) -> User | None:
    """Returns a user by username (any case), or None."""
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def has_users(*, session: Session) -> bool:
    """Whether any account exists (the first `./dev up` creates an admin when none does)."""
    return session.scalar(select(func.count()).select_from(User)) != 0


def list_users(*, session: Session) -> Sequence[User]:
    """Every account, admins first, then by username."""
    order = {Role.ADMIN: 0, Role.STAFF: 1, Role.TEAM: 2}
    users = session.scalars(
        select(User).options(selectinload(User.teams)).order_by(User.username)
    ).all()
    return sorted(users, key=lambda u: (order.get(Role(u.role), 9), u.username))


def create_user(
    *,
    session: Session,
    username: str,
    role: Role | str,
    actor: str,
    display_name: str | None = None,
    team_slugs: Iterable[str] = (),
    password: str | None = None,
) -> NewAccount:
    """Creates an account; without a password, generates a one-time one to change at first login."""
    username = normalize_username(username)
    try:
        role = Role(role)
    except ValueError:
        raise UserError("Vai trò phải là admin, staff hoặc team.") from None
    teams = _teams_by_slug(session=session, slugs=team_slugs)
    if role == Role.TEAM and not teams:
        raise UserError("Thành viên tổ cần thuộc ít nhất một tổ (--team).")
    if get_user_by_username(session=session, username=username) is not None:
        raise UserError(f"Tên đăng nhập {username} đã có người dùng.")
    generated = password is None
    if password is None:
        password = generate_password()
    elif problem := password_problem(password, username=username):
        raise UserError(problem)
    user = User(
        username=username,
        display_name=_clean_display_name(display_name, username),
        role=role,
        password_hash=hash_password(password),
        must_change_password=generated,
        disabled=False,
        failed_attempts=0,
        session_version=1,
        teams=teams,
        password_changed_at=None if generated else utcnow(),
    )
    session.add(user)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="user.created",
        entity="user",
        entity_id=user.id,
        detail={"role": role.value, "teams": [t.slug for t in teams]},
    )
    return NewAccount(user=user, one_time_password=password if generated else None)


def update_user(
    *,
    session: Session,
    user: User,
    actor: str,
    display_name: str | None = None,
    role: Role | str | None = None,
    team_slugs: Iterable[str] | None = None,
) -> None:
    """Changes a user's name, role or teams (None: unchanged); takes effect at their next request."""
    changed: list[str] = []
    if display_name is not None:
        name = _clean_display_name(display_name, user.username)
        if name != user.display_name:
            user.display_name = name
            changed.append("display_name")
    new_role = Role(user.role)
    if role is not None:
        try:
            new_role = Role(role)
        except ValueError:
            raise UserError("Vai trò phải là admin, staff hoặc team.") from None
    teams = (
        _teams_by_slug(session=session, slugs=team_slugs) if team_slugs is not None else user.teams
    )
    if new_role == Role.TEAM and not teams:
        raise UserError("Thành viên tổ cần thuộc ít nhất một tổ.")
    if (
        user.role == Role.ADMIN
        and new_role != Role.ADMIN
        and not user.disabled
        and _active_admins(session=session) <= 1
    ):
        raise UserError("Không thể đổi vai trò của quản trị viên cuối cùng.")
    if new_role != user.role:
        user.role = new_role
        changed.append("role")
    if team_slugs is not None and {t.id for t in teams} != {t.id for t in user.teams}:
        user.teams = teams
        changed.append("teams")
    if changed:
        record_audit(
            session=session,
            actor=actor,
            action="user.updated",
            entity="user",
            entity_id=user.id,
            detail={"changed": changed, "role": user.role, "teams": [t.slug for t in user.teams]},
        )
        session.flush()


def _login_failed(*, session: Session, user_id: int | None, reason: str, **detail: object) -> None:
    """Audits a refused sign-in: the reason, never the username typed or the password."""
    record_audit(
        session=session,
        actor="anonymous",
        action="auth.login_failed",
        entity="user",
        entity_id=user_id,
        detail={"reason": reason, **detail},
    )


def authenticate(
    *,
    session: Session,
    username: str,
    password: str,
    max_failures: int,
    lockout: timedelta,
    now: datetime | None = None,
) -> LoginResult:
    """Checks a username and password, counting failures and locking the account after too many."""
    now = now or utcnow()
    user = get_user_by_username(session=session, username=username[:200])
    if user is None:
        burn_verify_time(password)
        _login_failed(session=session, user_id=None, reason="unknown_user")
        return LoginResult(LoginOutcome.BAD_CREDENTIALS)
    locked_until = _aware(user.locked_until)
    if locked_until is not None and locked_until > now:
        burn_verify_time(password)
        _login_failed(session=session, user_id=user.id, reason="locked")
        return LoginResult(LoginOutcome.LOCKED, locked_until=locked_until)
    ok, new_hash = verify_password(password, user.password_hash)
    if not ok:
        user.failed_attempts += 1
        _login_failed(
            session=session, user_id=user.id, reason="bad_password", failures=user.failed_attempts
        )
        if user.failed_attempts < max_failures:
            session.flush()
            return LoginResult(LoginOutcome.BAD_CREDENTIALS)
        user.locked_until = now + lockout
        user.failed_attempts = 0
        record_audit(
            session=session,
            actor="system",
            action="auth.locked_out",
            entity="user",
            entity_id=user.id,
            detail={"minutes": int(lockout.total_seconds() // 60)},
        )
        session.flush()
        return LoginResult(LoginOutcome.LOCKED, locked_until=now + lockout)
    if user.disabled:
        _login_failed(session=session, user_id=user.id, reason="disabled")
        return LoginResult(LoginOutcome.DISABLED)
    if new_hash is not None:
        user.password_hash = new_hash
    user.failed_attempts = 0
    user.locked_until = None
    user.last_login_at = now
    record_audit(
        session=session,
        actor=audit_actor(user),
        action="auth.login",
        entity="user",
        entity_id=user.id,
    )
    session.flush()
    return LoginResult(LoginOutcome.OK, user=user)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time here is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def verify_current_password(*, user: User, password: str) -> bool:
    """Whether `password` is the user's current password (before they choose a new one)."""
    return verify_password(password, user.password_hash)[0]


def set_password(*, session: Session, user: User, password: str, actor: str) -> None:
    """Sets a password the user chose; ends every other session of theirs."""
    if problem := password_problem(password, username=user.username):
        raise UserError(problem)
    if verify_password(password, user.password_hash)[0]:
        raise UserError("Mật khẩu mới phải khác mật khẩu hiện tại.")
    user.password_hash = hash_password(password)
    user.must_change_password = False
    user.password_changed_at = utcnow()
    user.session_version += 1
    record_audit(
        session=session,
        actor=actor,
        action="user.password_changed",
        entity="user",
        entity_id=user.id,
    )
    session.flush()


def reset_password(*, session: Session, user: User, actor: str) -> str:
    """Gives the user a new one-time password (returned once), unlocks them, ends their sessions."""
    password = generate_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.failed_attempts = 0
    user.locked_until = None
    user.session_version += 1
    record_audit(
        session=session, actor=actor, action="user.password_reset", entity="user", entity_id=user.id
    )
    session.flush()
    return password


def disable_user(*, session: Session, user: User, actor: str) -> None:
    """Disables an account and ends all its sessions at once."""
    if user.disabled:
        return
    if user.role == Role.ADMIN and _active_admins(session=session) <= 1:
        raise UserError("Không thể vô hiệu hóa quản trị viên cuối cùng.")
    user.disabled = True
    user.session_version += 1
    record_audit(
        session=session, actor=actor, action="user.disabled", entity="user", entity_id=user.id
    )
    session.flush()


def enable_user(*, session: Session, user: User, actor: str) -> None:
    """Lets a disabled account sign in again."""
    if not user.disabled:
        return
    user.disabled = False
    user.failed_attempts = 0
    user.locked_until = None
    record_audit(
        session=session, actor=actor, action="user.enabled", entity="user", entity_id=user.id
    )
    session.flush()


def _active_admins(*, session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN, User.disabled.is_(False))
        )
        or 0
    )


def ward_scope(user: User) -> frozenset[str] | None:
    """The ward codes a user may see: None for admin and staff (every ward), a team's wards for team members."""
    if user.role in (Role.ADMIN, Role.STAFF):
        return None
    return frozenset(w.ward_code for team in user.teams if team.active for w in team.wards)


def can_see_ward(user: User, ward_code: str | None) -> bool:
    """Whether the user may see a record of this ward (a record without a ward: staff only)."""
    scope = ward_scope(user)
    if scope is None:
        return True
    return ward_code is not None and ward_code in scope


def team_members(*, session: Session, team: Team) -> list[User]:
    """The accounts that belong to a team, by name."""
    return sorted(
        session.scalars(select(User).where(User.teams.any(Team.id == team.id))),
        key=lambda u: (u.display_name.lower(), u.username),
    )


def team_candidates(*, session: Session, team: Team) -> list[User]:
    """Enabled accounts with the `team` role not yet in this team (who may be added)."""
    return sorted(
        session.scalars(
            select(User).where(
                User.role == Role.TEAM,
                User.disabled.is_(False),
                ~User.teams.any(Team.id == team.id),
            )
        ),
        key=lambda u: (u.display_name.lower(), u.username),
    )


def add_to_team(*, session: Session, user: User, team: Team, actor: str) -> None:
    """Adds a team member (role `team`) to one more team; they see its wards at once."""
    if user.role != Role.TEAM:
        raise UserError("Chỉ thêm được tài khoản có vai trò thành viên tổ.")
    if any(t.id == team.id for t in user.teams):
        raise UserError("Tài khoản này đã ở trong tổ.")
    user.teams.append(team)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="user.team_added",
        entity="user",
        entity_id=user.id,
        detail={"team": team.slug},
    )


def remove_from_team(*, session: Session, user: User, team: Team, actor: str) -> None:
    """Takes a member out of a team; a `team` member keeps at least one team."""
    if not any(t.id == team.id for t in user.teams):
        raise UserError("Tài khoản này không ở trong tổ.")
    if user.role == Role.TEAM and len(user.teams) == 1:
        raise UserError(
            "Đây là tổ duy nhất của thành viên này: thêm họ vào tổ khác hoặc vô hiệu hóa "
            "tài khoản trước."
        )
    user.teams = [t for t in user.teams if t.id != team.id]
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="user.team_removed",
        entity="user",
        entity_id=user.id,
        detail={"team": team.slug},
    )
