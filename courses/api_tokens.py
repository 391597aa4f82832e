"""Machine access to /api/v1: tokens created and revoked by office admins, scoped, hashed at rest.

A token acts as the office admin who created it (their scope of schools and courses), limited to its
scopes; when that admin is disabled or leaves the role, the token stops working. The secret is shown once,
at creation; only its SHA-256 is kept (it is 256 random bits, so a plain hash is enough).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses import text
from courses.db import utcnow
from courses.errors import N_, DomainError, Errors, NotFound
from courses.models import ApiToken, ApiTokenUse, Role, User
from courses.policy import require

TOKEN_PREFIX = "ieum_"
# Scopes per area; a read-only token holds every ':read' scope.
SCOPES = {
    "courses:read": N_("강좌·주제·강사 읽기"),
    "courses:write": N_("강좌 요청·승인·강사 지정"),
    "enrolment:read": N_("수강생 명단 읽기"),
    "enrolment:write": N_("수강 등록·취소"),
    "notifications:read": N_("알림 읽기"),
    "notifications:write": N_("알림 읽음 처리"),
    "videos:write": N_("녹화 강의 영상 올리기·지우기"),
    "progress:read": N_("시청 기록 읽기"),
    "progress:write": N_("시청 기록 보내기"),
}
READ_ONLY = frozenset(s for s in SCOPES if s.endswith(":read"))
MAX_DAYS = 366


class TokenRefused(DomainError):
    """A bearer token that is not (or no longer) valid."""

    status = 401


class ScopeMissing(DomainError):
    """A valid token without the scope this call needs."""

    status = 403


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(
    session: Session,
    actor: User,
    *,
    name: str,
    scopes: list[str],
    days: int | None,
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token for the actor's office; returns it and its secret (shown once, never stored)."""
    require(actor.role == Role.office_admin)
    e = Errors()
    name = text.clean(name)
    if not 1 <= text.visible_length(name) <= 80:
        e.add("name", N_("이름은 1~%(max)d자로 입력하세요."), max=80)
    chosen = sorted(set(scopes))
    if not chosen or any(s not in SCOPES for s in chosen):
        e.add("scopes", N_("권한을 하나 이상 고르세요."))
    if days is not None and not 1 <= days <= MAX_DAYS:
        e.add("days", N_("유효 기간은 1~%(max)d일입니다."), max=MAX_DAYS)
    e.raise_if_any()
    now = now or utcnow()
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        office_id=actor.office_id,
        owner_id=actor.id,
        name=name,
        prefix=secret[:12],
        token_hash=_hash(secret),
        scopes=" ".join(chosen),
        created_at=now,
        expires_at=now + timedelta(days=days) if days else None,
    )
    session.add(token)
    session.flush()
    return token, secret


def revoke(session: Session, actor: User, token_id: int) -> ApiToken:
    """Revoke one of the office's tokens (at once, for every client using it)."""
    require(actor.role == Role.office_admin)
    token = session.get(ApiToken, token_id)
    if token is None or token.office_id != actor.office_id:
        raise NotFound()
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token


def office_tokens(session: Session, actor: User) -> list[ApiToken]:
    """The office's tokens, newest first."""
    require(actor.role == Role.office_admin)
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.office_id == actor.office_id).order_by(ApiToken.id.desc())
        )
    )


def recent_uses(session: Session, actor: User, limit: int = 50) -> list[tuple[ApiTokenUse, ApiToken]]:
    """The latest requests made with the office's tokens."""
    require(actor.role == Role.office_admin)
    return [
        (r[0], r[1])
        for r in session.execute(
            select(ApiTokenUse, ApiToken)
            .join(ApiToken, ApiToken.id == ApiTokenUse.token_id)
            .where(ApiToken.office_id == actor.office_id)
            .order_by(ApiTokenUse.id.desc())
            .limit(limit)
        )
    ]


def authenticate(session: Session, secret: str, *, now: datetime | None = None) -> tuple[ApiToken, User]:
    """The token and the user it acts as; TokenRefused when unknown, revoked, expired or its owner can't."""
    now = now or utcnow()
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        raise TokenRefused(N_("API 토큰이 올바르지 않습니다."))
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(secret)))
    if token is None:
        raise TokenRefused(N_("API 토큰이 올바르지 않습니다."))
    if token.revoked_at is not None:
        raise TokenRefused(N_("폐기된 API 토큰입니다."))
    if token.expires_at is not None and now >= token.expires_at:
        raise TokenRefused(N_("기간이 지난 API 토큰입니다."))
    owner = token.owner
    if not owner.active or owner.role != Role.office_admin or owner.office_id != token.office_id:
        raise TokenRefused(N_("토큰을 만든 관리자의 계정을 쓸 수 없어 토큰도 쓸 수 없습니다."))
    token.last_used_at = now
    return token, owner


def require_scope(token: ApiToken, scope: str) -> None:
    """ScopeMissing unless the token holds the scope."""
    if scope not in token.scopes.split():
        raise ScopeMissing(N_("이 API 토큰에는 '%(scope)s' 권한이 없습니다."), scope=scope)


def record_use(session: Session, token: ApiToken, *, method: str, path: str, status: int, ip: str) -> None:
    """Log one request made with the token."""
    session.add(
        ApiTokenUse(token_id=token.id, method=method[:10], path=path[:300], status=status, ip=ip[:45])
    )
