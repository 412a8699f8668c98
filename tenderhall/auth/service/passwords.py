"""Passwords: argon2id hashes, checked in constant work whether or not the account exists."""

from __future__ import annotations

import secrets
from functools import lru_cache

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from tenderhall.errors import InvalidInput

MIN_PASSWORD_LENGTH = 8
#: Letters and digits of a generated password, without the look-alikes 0 O 1 l I.
_READABLE = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"


_hasher = argon2.PasswordHasher()  # argon2id, RFC 9106 low-memory profile defaults


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists (an absent hash is checked against a dummy)."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str | None) -> bool:
    """True when the hash was made with weaker parameters than the hasher's current ones."""
    return _hasher.check_needs_rehash(password_hash or "")


def check_password_rules(username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符",
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters",
        )
    if password.strip().lower() == username.strip().lower():
        raise InvalidInput("密码不能与用户名相同", "The password must not be the username")


def generate_password(groups: int = 4, size: int = 4) -> str:
    """A random password to read out or copy once: ``groups`` groups of ``size`` readable
    characters joined by dashes (4×4: about 93 bits)."""
    return "-".join("".join(secrets.choice(_READABLE) for _ in range(size)) for _ in range(groups))
