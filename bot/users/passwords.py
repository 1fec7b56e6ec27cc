"""Password hashing (Argon2id through pwdlib), generated one-time passwords and the policy."""

from __future__ import annotations

import secrets
from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

MIN_LENGTH = 10
# Argon2 hashes whatever it is given; a cap keeps a megabyte "password" from costing CPU.
MAX_LENGTH = 128
# Letters and digits that cannot be mistaken for each other when read aloud or copied by hand.
_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@lru_cache
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    """Returns the Argon2id hash of a password."""
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str) -> tuple[bool, str | None]:
    """Checks a password; also returns a new hash when the stored one uses older parameters."""
    if len(password) > MAX_LENGTH:
        return False, None
    return _hasher().verify_and_update(password, password_hash)


@lru_cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def burn_verify_time(password: str) -> None:
    """Spends the time of one verification, so an unknown username answers as slowly as a known one."""
    verify_password(password[:MAX_LENGTH], _dummy_hash())


def generate_password() -> str:
    """A one-time password of 16 unambiguous letters and digits, in groups of four."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def password_problem(password: str, *, username: str) -> str | None:
    """Why a new password is not acceptable (in Vietnamese), or None."""
    if len(password) < MIN_LENGTH:
        return f"Mật khẩu cần ít nhất {MIN_LENGTH} ký tự."
    if len(password) > MAX_LENGTH:
        return f"Mật khẩu dài quá {MAX_LENGTH} ký tự."
    if password.strip() != password:
        return "Mật khẩu không được bắt đầu hoặc kết thúc bằng khoảng trắng."
    if username and username.lower() in password.lower():
        return "Mật khẩu không được chứa tên đăng nhập."
    if len(set(password)) < 4:
        return "Mật khẩu quá dễ đoán: hãy dùng nhiều ký tự khác nhau."
    return None
