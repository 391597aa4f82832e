"""Choosing a new password by an e-mailed link: asked for by username or e-mail address (always the same
answer, so nobody learns which accounts exist), sent by the worker through the outbox, usable once and for a
short time. The link's token is made when the mail is sent and only its hash is stored; choosing the new
password ends every session of the account, spends every link it had, and is written to the audit log."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from courses import sessions
from courses.audit import record_access
from courses.db import affected, utcnow
from courses.delivery import outbox
from courses.errors import N_, DomainError, Errors
from courses.models import AccessAction, ChannelKind, PasswordReset, User

MAX_PER_HOUR = 3  # links per account per hour, whatever the addresses asking (no mail-bombing a person)
MAX_ACCOUNTS = 5  # accounts one e-mail address may name (a parent and their children may share one)
LOGIN_MAX = 254
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")


class ResetLinkInvalid(DomainError):
    """Not a link this platform made (mistyped, cut short, or made up)."""

    status = 404

    def __init__(self) -> None:
        super().__init__(
            N_(
                "비밀번호 재설정 링크가 올바르지 않습니다. 메일의 링크 전체를 그대로 열었는지 확인하거나, "
                "재설정을 다시 요청하세요."
            )
        )


class ResetLinkUsed(DomainError):
    status = 410

    def __init__(self) -> None:
        super().__init__(N_("이미 사용한 비밀번호 재설정 링크입니다. 필요하면 재설정을 다시 요청하세요."))


class ResetLinkExpired(DomainError):
    status = 410

    def __init__(self) -> None:
        super().__init__(N_("비밀번호 재설정 링크의 유효 시간이 지났습니다. 재설정을 다시 요청하세요."))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def can_send() -> bool:
    """Whether this deployment can send reset links at all (an e-mail channel is configured)."""
    return ChannelKind.email in outbox.available_channels()


def check_login(login: str) -> str:
    """The username or e-mail address typed, trimmed; a field error when empty or too long."""
    cleaned = (login or "").strip()
    e = Errors()
    if not cleaned:
        e.add("login", N_("아이디나 이메일 주소를 입력하세요."))
    elif len(cleaned) > LOGIN_MAX or "\x00" in cleaned:
        e.add("login", N_("%(max)d자 이내로 입력하세요."), max=LOGIN_MAX)
    e.raise_if_any()
    return cleaned


def request_reset(session: Session, login: str, *, ip: str, minutes: int, now: datetime | None = None) -> int:
    """Start a reset for the active account this username names, or the accounts with this e-mail address,
    when they have an address to send to; how many links will go out (never shown to the asker)."""
    now = now or utcnow()
    login = check_login(login)
    if not can_send():
        return 0
    stmt = (
        select(User)
        .where(
            User.active,
            User.email.is_not(None),
            or_(User.username == login, func.lower(User.email) == login.lower()),
        )
        .order_by(User.id)
        .limit(MAX_ACCOUNTS)
    )
    made = 0
    for user in session.scalars(stmt):
        if not user.email or "@" not in user.email:
            continue
        recent = session.scalar(
            select(func.count()).where(
                PasswordReset.user_id == user.id, PasswordReset.created_at > now - timedelta(hours=1)
            )
        )
        if (recent or 0) >= MAX_PER_HOUR:
            continue
        reset = PasswordReset(
            user_id=user.id, created_at=now, expires_at=now + timedelta(minutes=minutes), ip=ip[:45]
        )
        session.add(reset)
        session.flush()
        made += outbox.queue_password_reset(session, reset)
    return made


def issue_token(session: Session, reset: PasswordReset, *, now: datetime) -> str | None:
    """The token for the link in the mail being sent now (its hash replaces any earlier one: a link from a
    failed earlier attempt stops working); None when the request is spent or expired."""
    if reset.used_at is not None or now >= reset.expires_at:
        return None
    token = secrets.token_urlsafe(32)
    reset.token_hash = _hash(token)
    session.flush()
    return token


def find(session: Session, token: str, *, now: datetime | None = None) -> PasswordReset:
    """The live reset request this link's token belongs to; ResetLinkInvalid, ResetLinkUsed or
    ResetLinkExpired otherwise."""
    now = now or utcnow()
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise ResetLinkInvalid()
    reset = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _hash(token)))
    if reset is None:
        raise ResetLinkInvalid()
    if reset.used_at is not None:
        raise ResetLinkUsed()
    if now >= reset.expires_at:
        raise ResetLinkExpired()
    user = session.get(User, reset.user_id)
    if user is None or not user.active:
        raise ResetLinkInvalid()
    return reset


def reset_password(
    session: Session, token: str, new: str, confirm: str, *, ip: str, now: datetime | None = None
) -> User:
    """Set the new password (the same rules as changing it), spend the link and every other one of the
    account, end all its sessions and audit it; returns the account."""
    from courses.accounts import check_password, hash_password

    now = now or utcnow()
    reset = find(session, token, now=now)
    user = session.get(User, reset.user_id)
    assert user is not None  # find checked it
    e = Errors()
    if sessions.check_new_password(e, new, confirm) and check_password(user, new):
        e.add("new", N_("현재와 다른 비밀번호를 입력하세요."))
    e.raise_if_any()
    spent = session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if affected(spent) != 1:  # the same link submitted twice at once: the other one won
        raise ResetLinkUsed()
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    user.password_hash = hash_password(new)
    user.must_change_password = False
    sessions.end_all(session, user)
    record_access(session, user, AccessAction.password_reset, "user", user.id, ip=ip, detail="e-mail link")
    return user
