"""In-app notifications (알림); each also queues its deliveries beyond the app (courses.delivery.outbox) in
the same transaction, per the recipient's preferences for its category."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from courses.db import affected, utcnow
from courses.delivery import outbox
from courses.models import Enrolment, NoticeCategory, Notification, ParentLink, User


def notify(
    session: Session,
    user_ids: Iterable[int],
    title: str,
    body: str = "",
    link: str | None = None,
    *,
    category: NoticeCategory = NoticeCategory.other,
) -> None:
    """Add one notification per user (duplicates in user_ids are sent once)."""
    notify_many(session, user_ids, title, body, link, category=category)


def with_parents(session: Session, student_ids: Iterable[int]) -> list[int]:
    """These students and their parents (parents get their children's notices)."""
    ids = sorted(set(student_ids))
    if not ids:
        return []
    parents = session.scalars(select(ParentLink.parent_id).where(ParentLink.child_id.in_(ids)))
    return sorted(set(ids) | set(parents))


def notify_many(
    session: Session,
    user_ids: Iterable[int],
    title: str,
    body: str = "",
    link: str | None = None,
    *,
    category: NoticeCategory = NoticeCategory.other,
) -> int:
    """One notification per user in one statement (a whole school enrolled at once), and the outbox rows
    for them; how many notifications."""
    rows = [
        {"user_id": uid, "title": title, "body": body, "link": link, "category": category}
        for uid in sorted(set(user_ids))
    ]
    if rows:
        made = session.execute(insert(Notification).returning(Notification.id, Notification.user_id), rows)
        outbox.queue_notifications(session, [(nid, uid) for nid, uid in made], category)
    return len(rows)


def notify_course_audience(
    session: Session,
    course_id: int,
    title: str,
    body: str = "",
    link: str | None = None,
    *,
    category: NoticeCategory = NoticeCategory.other,
) -> int:
    """Every enrolled student of a course and their parents."""
    students = session.scalars(select(Enrolment.student_id).where(Enrolment.course_id == course_id))
    return notify_many(session, with_parents(session, students), title, body, link, category=category)


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
