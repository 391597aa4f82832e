"""Passwords (argon2id) and authentication."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.db import utcnow
from courses.models import User

# argon2id. "owasp" is OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): the library default
# (64 MiB, 3 passes, 4 lanes) measured 0.69 s per login on our 2-core machines, too slow for a class of 30
# logging in together. "test" is for the test suite only; hashes carry their parameters, and a login
# rehashes a password whose parameters differ from the configured profile.
PROFILES = {"owasp": (2, 19 * 1024, 1), "test": (1, 1024, 1)}
_hasher = PasswordHasher(*PROFILES["owasp"])


def configure_hasher(profile: str) -> None:
    """Select the argon2id cost profile ("owasp" in production, "test" in the test suite)."""
    global _hasher
    if profile not in PROFILES:
        raise ValueError(f"unknown password hashing profile {profile!r}")
    time_cost, memory_kib, lanes = PROFILES[profile]
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=lanes)
    _dummy_hash.cache_clear()


@cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so both paths cost the same time."""
    return _hasher.hash("ieum-timing-equaliser")


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    """Whether the password matches; upgrades the stored hash when parameters changed."""
    if not user.password_hash:
        _safe_verify(_dummy_hash(), password)
        return False
    if not _safe_verify(user.password_hash, password):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def _safe_verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None; a match is a login, noted as their last one."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        _safe_verify(_dummy_hash(), password)
        return None
    if not check_password(user, password) or not user.active:
        return None
    user.last_login_at = utcnow()
    return user
