"""Account rules on the real database: creation, passwords, lock-out, disabling, ward scope."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.db.base import utcnow
from bot.users.models import Role
from bot.users.service import (
    LoginOutcome,
    UserError,
    authenticate,
    can_see_ward,
    create_user,
    disable_user,
    enable_user,
    list_users,
    reset_password,
    set_password,
    ward_scope,
)
from tests.requests.factories import BEN_THANH, HOAN_KIEM, SAI_GON, make_team
from tests.users.factories import PASSWORD, make_user

LOCKOUT = timedelta(minutes=15)


def _auth(session: Session, username: str, password: str, **kw: object):  # type: ignore[no-untyped-def]
    return authenticate(
        session=session, username=username, password=password, max_failures=3, lockout=LOCKOUT, **kw
    )


def _audit(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_new_account_gets_a_one_time_password_hashed_with_argon2(session: Session) -> None:
    account = create_user(
        session=session,
        username="  Lan.Nguyen ",
        role="staff",
        display_name="Nguyễn Thị Lan",
        actor="test",
    )
    user, password = account.user, account.one_time_password
    assert user.username == "lan.nguyen"
    assert password is not None and len(password) == 19
    assert user.password_hash.startswith("$argon2id$")
    assert password not in user.password_hash
    assert user.must_change_password
    assert _auth(session, "LAN.NGUYEN", password).outcome is LoginOutcome.OK
    created = _audit(session, "user.created")
    assert created[-1].detail == {"role": "staff", "teams": []}
    assert password not in str(created[-1].detail)


@pytest.mark.parametrize(
    ("username", "role", "teams", "message"),
    [
        ("ab", "staff", [], "3–64 ký tự"),
        ("có dấu", "staff", [], "3–64 ký tự"),
        ("x" * 65, "staff", [], "3–64 ký tự"),
        ("ok.name", "root", [], "Vai trò"),
        ("ok.name", "team", [], "ít nhất một tổ"),
        ("ok.name", "team", ["no-such-team"], "Không có tổ: no-such-team"),
    ],
)
def test_bad_accounts_are_refused_with_a_reason(
    session: Session, username: str, role: str, teams: list[str], message: str
) -> None:
    with pytest.raises(UserError, match=message):
        create_user(session=session, username=username, role=role, team_slugs=teams, actor="test")


def test_a_username_is_taken_once_whatever_its_case(session: Session) -> None:
    make_user(session, username="minh")
    with pytest.raises(UserError, match="đã có người dùng"):
        make_user(session, username="MINH")


def test_unknown_user_and_wrong_password_look_the_same(session: Session) -> None:
    make_user(session, username="hoa")
    unknown = _auth(session, "nobody", PASSWORD)
    wrong = _auth(session, "hoa", "wrong-password-1")
    assert unknown.outcome is wrong.outcome is LoginOutcome.BAD_CREDENTIALS
    assert unknown.user is None and wrong.user is None
    reasons = [e.detail["reason"] for e in _audit(session, "auth.login_failed")]
    assert reasons == ["unknown_user", "bad_password"]
    assert all(
        "hoa" not in str(e.detail) and "nobody" not in str(e.detail)
        for e in _audit(session, "auth.login_failed")
    )


def test_repeated_failures_lock_the_account_even_for_the_right_password(session: Session) -> None:
    user = make_user(session, username="tuan")
    now = utcnow()
    assert _auth(session, "tuan", "bad-1", now=now).outcome is LoginOutcome.BAD_CREDENTIALS
    assert _auth(session, "tuan", "bad-2", now=now).outcome is LoginOutcome.BAD_CREDENTIALS
    third = _auth(session, "tuan", "bad-3", now=now)
    assert third.outcome is LoginOutcome.LOCKED
    assert third.locked_until == now + LOCKOUT
    assert (
        _auth(session, "tuan", PASSWORD, now=now + timedelta(minutes=1)).outcome
        is LoginOutcome.LOCKED
    )
    assert len(_audit(session, "auth.locked_out")) == 1
    later = _auth(session, "tuan", PASSWORD, now=now + LOCKOUT + timedelta(seconds=1))
    assert later.outcome is LoginOutcome.OK and later.user is user
    assert user.failed_attempts == 0 and user.locked_until is None


def test_a_success_resets_the_failure_count(session: Session) -> None:
    user = make_user(session, username="binh")
    _auth(session, "binh", "bad-1")
    _auth(session, "binh", "bad-2")
    assert _auth(session, "binh", PASSWORD).outcome is LoginOutcome.OK
    assert user.failed_attempts == 0
    assert _auth(session, "binh", "bad-3").outcome is LoginOutcome.BAD_CREDENTIALS


def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(session: Session) -> None:
    admin = make_user(session, role=Role.ADMIN)
    user = make_user(session, username="khoa")
    version = user.session_version
    disable_user(session=session, user=user, actor=f"user:{admin.id}")
    assert user.session_version == version + 1
    assert _auth(session, "khoa", PASSWORD).outcome is LoginOutcome.DISABLED
    enable_user(session=session, user=user, actor="test")
    assert _auth(session, "khoa", PASSWORD).outcome is LoginOutcome.OK


def test_the_last_admin_cannot_be_disabled(session: Session) -> None:
    admins = [u for u in list_users(session=session) if u.role == Role.ADMIN and not u.disabled]
    admin = admins[0] if admins else make_user(session, role=Role.ADMIN)
    for other in admins[1:]:
        disable_user(session=session, user=other, actor="test")
    with pytest.raises(UserError, match="quản trị viên cuối cùng"):
        disable_user(session=session, user=admin, actor="test")


def test_password_rules_and_changes(session: Session) -> None:
    user = make_user(session, username="quyen")
    version = user.session_version
    for bad, message in [
        ("short", "ít nhất 10"),
        ("x" * 129, "dài quá"),
        ("quyen-1234567", "tên đăng nhập"),
        ("aaaaaaaaaaaa", "dễ đoán"),
        (" leading-space-pw", "khoảng trắng"),
        (PASSWORD, "khác mật khẩu hiện tại"),
    ]:
        with pytest.raises(UserError, match=message):
            set_password(session=session, user=user, password=bad, actor="test")
    set_password(session=session, user=user, password="Mot-mat-khau-moi-7", actor="test")
    assert user.session_version == version + 1
    assert not user.must_change_password
    assert _auth(session, "quyen", "Mot-mat-khau-moi-7").outcome is LoginOutcome.OK
    assert _auth(session, "quyen", PASSWORD).outcome is LoginOutcome.BAD_CREDENTIALS


def test_reset_gives_a_new_one_time_password_and_unlocks(session: Session) -> None:
    user = make_user(session, username="son")
    for attempt in range(3):
        _auth(session, "son", f"bad-{attempt}")
    assert user.locked_until is not None
    new = reset_password(session=session, user=user, actor="test")
    assert user.must_change_password and user.locked_until is None
    assert _auth(session, "son", new).outcome is LoginOutcome.OK
    events = _audit(session, "user.password_reset")
    assert events and new not in str(events[-1].detail)


def test_ward_scope_by_role(session: Session) -> None:
    make_team(session, slug="t-ben-thanh", wards=[BEN_THANH])
    make_team(session, slug="t-sai-gon", wards=[SAI_GON])
    admin = make_user(session, role=Role.ADMIN)
    staff = make_user(session, role=Role.STAFF)
    member = make_user(session, role=Role.TEAM, teams=["t-ben-thanh"])
    both = make_user(session, role=Role.TEAM, teams=["t-ben-thanh", "t-sai-gon"])
    assert ward_scope(admin) is None and ward_scope(staff) is None
    assert ward_scope(member) == frozenset({BEN_THANH})
    assert ward_scope(both) == frozenset({BEN_THANH, SAI_GON})
    assert can_see_ward(member, BEN_THANH)
    assert not can_see_ward(member, HOAN_KIEM)
    assert not can_see_ward(member, None)
    assert can_see_ward(staff, None)


def test_update_changes_role_teams_and_name_and_audits_what_changed(session: Session) -> None:
    from bot.users.service import update_user

    make_team(session, slug="t-upd-1", wards=[BEN_THANH])
    make_team(session, slug="t-upd-2", wards=[SAI_GON])
    user = make_user(session, role=Role.STAFF, username="doi")
    update_user(session=session, user=user, actor="test", role="team", team_slugs=["t-upd-1"])
    assert user.role == Role.TEAM and ward_scope(user) == frozenset({BEN_THANH})
    update_user(
        session=session, user=user, actor="test", team_slugs=["t-upd-2"], display_name=" Đổi  Tên "
    )
    assert ward_scope(user) == frozenset({SAI_GON}) and user.display_name == "Đổi Tên"
    details = [e.detail["changed"] for e in _audit(session, "user.updated")]
    assert details == [["role", "teams"], ["display_name", "teams"]]
    update_user(session=session, user=user, actor="test", display_name="Đổi Tên")  # no change
    assert len(_audit(session, "user.updated")) == 2
    with pytest.raises(UserError, match="ít nhất một tổ"):
        update_user(session=session, user=user, actor="test", team_slugs=[])
    with pytest.raises(UserError, match="Vai trò"):
        update_user(session=session, user=user, actor="test", role="boss")


def test_the_last_admin_keeps_the_role(session: Session) -> None:
    from bot.users.service import update_user

    for other in [u for u in list_users(session=session) if u.role == Role.ADMIN]:
        other.disabled = True
    admin = make_user(session, role=Role.ADMIN)
    with pytest.raises(UserError, match="quản trị viên cuối cùng"):
        update_user(session=session, user=admin, actor="test", role="staff")
    second = make_user(session, role=Role.ADMIN)
    update_user(session=session, user=admin, actor="test", role="staff")
    assert admin.role == Role.STAFF and second.role == Role.ADMIN
