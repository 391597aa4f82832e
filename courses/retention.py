"""Retention of class recordings: a recording kept as a recording (not decided yet, or kept private) is removed
from storage a configured number of days after it was made, and the course's teachers are told a week before
(and never sooner than a week after that notice).

A recording published as a recorded lesson is not touched while a lesson's video uses its object as its source:
the lesson's video has its own life (deleting it is the teachers' decision). Runs from the worker's sweep and
from ``flask purge-recordings``; idempotent, and a storage error on one recording leaves it for the next run
without stopping the others. Never commits (the caller does, once).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from courses.errors import N_
from courses.models import Course, LiveSession, Recording, Video
from courses.notifications import notify
from media.storage import Storage, StorageError

NOTICE_DAYS = 7
SEOUL = ZoneInfo("Asia/Seoul")


def _unused_recordings() -> Select[Recording]:
    """Recordings still in storage whose object no lesson's video uses."""
    return select(Recording).where(
        Recording.removed_at.is_(None),
        ~exists().where(Video.recording_id == Recording.id),
        ~exists().where(Video.source_key == Recording.object_key),
    )


def due_recordings(session: Session, now: datetime, days: int) -> list[Recording]:
    """Recordings past their retention of `days` days whose teachers were told a week ago (none when days is 0).

    A recording found past its date without a notice (retention newly switched on, or shortened) gets its
    notice first and goes a week later: teachers always have a week to publish or download it."""
    if days <= 0:
        return []
    stmt = (
        _unused_recordings()
        .where(
            Recording.created_at <= now - timedelta(days=days),
            Recording.retention_notice_at.is_not(None),
            Recording.retention_notice_at <= now - timedelta(days=NOTICE_DAYS),
        )
        .order_by(Recording.id)
    )
    return list(session.scalars(stmt))


def _due_for_notice(session: Session, now: datetime, days: int) -> list[Recording]:
    stmt = (
        _unused_recordings()
        .where(
            Recording.retention_notice_at.is_(None),
            Recording.created_at <= now - timedelta(days=days - NOTICE_DAYS),
        )
        .order_by(Recording.id)
    )
    return list(session.scalars(stmt))


def _course_of(session: Session, recording: Recording) -> tuple[Course, LiveSession]:
    live = session.get(LiveSession, recording.live_session_id)
    assert live is not None  # the foreign key cascades
    return live.course, live


def notify_and_purge(
    session: Session, storage: Storage, *, now: datetime, retention_days: int
) -> tuple[int, int]:
    """Tell teachers a week ahead (once per recording), then remove expired recordings; (noticed, removed)."""
    if retention_days <= 0:
        return 0, 0
    noticed = 0
    for rec in _due_for_notice(session, now, retention_days):
        course, live = _course_of(session, rec)
        removal = max(rec.created_at + timedelta(days=retention_days), now + timedelta(days=NOTICE_DAYS))
        notify(
            session,
            [uid for uid in (course.requester_id, course.instructor_id) if uid is not None],
            N_("녹화 보관 기간 만료 예정"),
            f"{course.title} · {live.lesson.title} · {removal.astimezone(SEOUL):%Y-%m-%d}",
            f"/live/{live.id}/attendance#rec-h",
        )
        rec.retention_notice_at = now
        noticed += 1
    removed = 0
    for rec in due_recordings(session, now, retention_days):
        try:
            storage.delete(rec.object_key)
        except StorageError:
            continue  # the store is unreachable or refused: try again next time
        rec.removed_at = now
        removed += 1
    session.flush()
    return noticed, removed
