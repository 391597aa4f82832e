"""In-app notifications (알림)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from courses.db import affected, utcnow
from courses.models import Notification, User


def notify(
    session: Session, user_ids: Iterable[int], title: str, body: str = "", link: str | None = None
) -> None:
    """Add one notification per user (duplicates in user_ids are sent once)."""
    for uid in sorted(set(user_ids)):
        session.add(Notification(user_id=uid, title=title, body=body, link=link))


def list_notifications(session: Session, actor: User, limit: int = 50) -> list[Notification]:
    """The actor's newest notifications."""
    stmt = (
        select(Notification)
        .where(Notification.user_id == actor.id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def unread_count(session: Session, actor: User) -> int:
    """How many of the actor's notifications are unread."""
    stmt = select(func.count()).where(Notification.user_id == actor.id, Notification.read_at.is_(None))
    return session.scalar(stmt) or 0


def mark_all_read(session: Session, actor: User) -> int:
    """Mark every unread notification of the actor as read; returns how many."""
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return affected(result)
