"""Server-side login sessions: started at login, checked on every request, ended by logout, a password
change, disabling the account or "sign out everywhere". Idle and absolute lifetimes are enforced here,
so a copied cookie stops working the moment its session ends."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from courses.db import affected, utcnow
from courses.errors import N_, Errors, Forbidden, NotFound
from courses.models import LoginSession, Role, User
from courses.policy import may_manage_account

TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most once a minute per session
PASSWORD_MIN, PASSWORD_MAX = 10, 256


class Outcome(StrEnum):
    """Why a session is or is not valid."""

    ok = "ok"
    missing = "missing"
    revoked = "revoked"
    idle = "idle"
    expired = "expired"
    disabled = "disabled"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(
    session: Session,
    user: User,
    *,
    ip: str,
    user_agent: str,
    lifetime: timedelta,
    now: datetime | None = None,
) -> str:
    """Open a login session; returns the token the cookie carries (never stored as is)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            token_hash=_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            ip=ip[:45],
            user_agent=user_agent[:200],
        )
    )
    session.flush()
    return token


def check(
    session: Session, token: str | None, user_id: int, *, idle: timedelta, now: datetime | None = None
) -> tuple[Outcome, User | None]:
    """The session's user if it is live; otherwise why not (and the session is ended)."""
    if not token:
        return Outcome.missing, None
    now = now or utcnow()
    # The session and its user in one query: this runs before every request.
    found = session.execute(
        select(LoginSession, User)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.token_hash == _hash(token))
    ).one_or_none()
    if found is None or found[0].user_id != user_id:
        return Outcome.missing, None
    row, user = found
    if row.revoked_at is not None:
        return Outcome.revoked, None
    outcome = Outcome.ok
    if now >= row.expires_at:
        outcome = Outcome.expired
    elif now - row.last_seen_at > idle:
        outcome = Outcome.idle
    if outcome == Outcome.ok and not user.active:
        outcome = Outcome.disabled
    if outcome != Outcome.ok:
        row.revoked_at = now
        return outcome, None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return Outcome.ok, user


def end(session: Session, token: str | None) -> None:
    """End one session (logout)."""
    if token:
        session.execute(
            update(LoginSession)
            .where(LoginSession.token_hash == _hash(token), LoginSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def end_all(session: Session, user: User, *, keep_token: str | None = None) -> int:
    """End every live session of the user (but the one named); returns how many ended."""
    stmt = update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
    if keep_token:
        stmt = stmt.where(LoginSession.token_hash != _hash(keep_token))
    return affected(session.execute(stmt.values(revoked_at=utcnow())))


def live_sessions(session: Session, user: User, *, now: datetime | None = None) -> list[LoginSession]:
    """The user's sessions still open, newest first (their devices)."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(LoginSession)
            .where(
                LoginSession.user_id == user.id,
                LoginSession.revoked_at.is_(None),
                LoginSession.expires_at > now,
            )
            .order_by(LoginSession.last_seen_at.desc())
        )
    )


def is_current(row: LoginSession, token: str | None) -> bool:
    """Whether the row is the session this token belongs to."""
    return bool(token) and row.token_hash == _hash(token or "")


def _managed_user(session: Session, actor: User, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not may_manage_account(actor, user):
        raise NotFound()
    return user


def sign_out_everywhere(session: Session, actor: User, user_id: int, *, keep_token: str | None = None) -> int:
    """End every session of a person (oneself, or someone in the admin's scope)."""
    user = _managed_user(session, actor, user_id)
    return end_all(session, user, keep_token=keep_token if user.id == actor.id else None)


def set_active(session: Session, actor: User, user_id: int, active: bool) -> User:
    """Disable (ending every session) or re-enable an account in the admin's scope."""
    user = _managed_user(session, actor, user_id)
    if actor.role not in (Role.office_admin, Role.school_admin) or user.id == actor.id:
        raise Forbidden(N_("자기 계정이나 관할 밖의 계정은 사용 중지할 수 없습니다."))
    user.active = active
    if not active:
        end_all(session, user)
    return user


TEMP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or copied from paper


def issue_temporary_password(session: Session, actor: User, user_id: int) -> str:
    """A one-time password an admin gives a student or teacher of theirs (an imported user's first, or a
    forgotten one): every session of that person ends, and they must choose their own at the next login."""
    import secrets

    from courses.accounts import hash_password

    user = _managed_user(session, actor, user_id)
    if actor.role not in (Role.office_admin, Role.school_admin) or user.id == actor.id:
        raise Forbidden(N_("자기 계정이나 관할 밖의 계정에는 임시 비밀번호를 줄 수 없습니다."))
    if actor.role == Role.school_admin and user.role not in (Role.student, Role.teacher, Role.parent):
        raise Forbidden(N_("학교 관리자는 학생·교사·보호자에게만 임시 비밀번호를 줄 수 있습니다."))
    password = "".join(secrets.choice(TEMP_ALPHABET) for _ in range(PASSWORD_MIN + 2))
    user.password_hash = hash_password(password)
    user.must_change_password = True
    end_all(session, user)
    return password


def check_new_password(e: Errors, new: str, confirm: str) -> bool:
    """The rules every new password follows (its length, typed twice alike); whether it passed."""
    if not PASSWORD_MIN <= len(new or "") <= PASSWORD_MAX:
        e.add("new", N_("새 비밀번호는 %(min)d~%(max)d자로 입력하세요."), min=PASSWORD_MIN, max=PASSWORD_MAX)
        return False
    if new != confirm:
        e.add("confirm", N_("새 비밀번호가 서로 다릅니다."))
        return False
    return True


def change_password(session: Session, actor: User, current: str, new: str, confirm: str) -> None:
    """Change one's own password; every session ends (the caller opens a new one for this browser)."""
    from courses.accounts import check_password, hash_password

    e = Errors()
    if not check_password(actor, current or ""):
        e.add("current", N_("현재 비밀번호가 맞지 않습니다."))
    if check_new_password(e, new, confirm) and new == current:
        e.add("new", N_("현재와 다른 비밀번호를 입력하세요."))
    e.raise_if_any()
    actor.password_hash = hash_password(new)
    actor.must_change_password = False
    end_all(session, actor)
