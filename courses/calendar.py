"""Calendar export: a person's lessons as an iCalendar (RFC 5545) feed at a private URL they can revoke.

The feed URL carries a 256-bit random token; only its SHA-256 is stored, so the URL is shown once, when it
is made. Making a new one revokes the old. The feed lists the lessons of the courses the person may see
(the same policy as the pages), from 60 days back to 180 days ahead.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from courses.db import affected, utcnow
from courses.models import Course, CourseStatus, Lesson, User
from courses.models.calendar import CalendarFeed
from courses.policy import course_filter

PAST, AHEAD = timedelta(days=60), timedelta(days=180)
SHOWN = (CourseStatus.approved, CourseStatus.running, CourseStatus.completed, CourseStatus.confirmed)


@dataclass(frozen=True, slots=True)
class Event:
    """One calendar event."""

    uid: str
    starts: datetime
    ends: datetime
    summary: str
    description: str
    url: str


def _escape(text: str) -> str:
    """TEXT value escaping (RFC 5545 §3.3.11)."""
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Lines longer than 75 octets are folded (§3.1), never inside a UTF-8 character."""
    out: list[str] = []
    current = b""
    for ch in line:
        b = ch.encode()
        if len(current) + len(b) > (75 if not out else 74):
            out.append(current.decode())
            current = b""
        current += b
    out.append(current.decode())
    return "\r\n ".join(out)


def _stamp(at: datetime) -> str:
    """A UTC date-time (naive values are UTC: that is how the database keeps them)."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def to_ics(events: Iterable[Event], *, name: str, now: datetime) -> str:
    """The events as one VCALENDAR text, CRLF line ends."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Ieum//Remote learning//KO",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_escape(name)}",
    ]
    for e in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{e.uid}",
            f"DTSTAMP:{_stamp(now)}",
            f"DTSTART:{_stamp(e.starts)}",
            f"DTEND:{_stamp(e.ends)}",
            f"SUMMARY:{_escape(e.summary)}",
            f"DESCRIPTION:{_escape(e.description)}",
            f"URL:{e.url}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def make_feed(session: Session, actor: User) -> str:
    """A new private feed token for the actor (the old URL stops working); returned once."""
    session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == actor.id))
    token = secrets.token_urlsafe(32)
    session.add(CalendarFeed(user_id=actor.id, token_hash=_hash(token)))
    session.flush()
    return token


def revoke_feed(session: Session, actor: User) -> bool:
    """Stop the actor's feed; whether there was one."""
    return bool(affected(session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == actor.id))))


def has_feed(session: Session, actor: User) -> CalendarFeed | None:
    """The actor's feed, if they have one."""
    return session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == actor.id))


def feed_owner(session: Session, token: str) -> User | None:
    """Whose feed a token opens (None for an unknown or revoked token, or an inactive account)."""
    if not token or len(token) > 100:
        return None
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == _hash(token)))
    if feed is None:
        return None
    user = session.get(User, feed.user_id)
    if user is None or not user.active:
        return None
    feed.last_used_at = utcnow()
    return user


def events_for(session: Session, actor: User, base_url: str, now: datetime) -> list[Event]:
    """The actor's scheduled lessons in the feed's window."""
    stmt = (
        select(Lesson, Course)
        .join(Course, Course.id == Lesson.course_id)
        .where(
            course_filter(actor),
            Course.status.in_(SHOWN),
            Lesson.starts_at.is_not(None),
            Lesson.starts_at >= now - PAST,
            Lesson.starts_at <= now + AHEAD,
        )
        .order_by(Lesson.starts_at)
        .limit(2000)
    )
    out = []
    host = base_url.rstrip("/")
    for lesson, course in session.execute(stmt):
        assert lesson.starts_at is not None
        ends = lesson.ends_at or lesson.starts_at + timedelta(minutes=40)
        out.append(
            Event(
                uid=f"lesson-{lesson.id}@ieum",
                starts=lesson.starts_at,
                ends=ends,
                summary=f"{course.title} · {lesson.title}",
                description=lesson.description or course.title,
                url=f"{host}/courses/{course.id}",
            )
        )
    return out
