"""Recorded lessons and their videos: adding a lesson, the resumable upload, the processing states a job
moves a video through, publishing a class recording, and deleting a video with all its objects.

Services take the session and the acting user and never commit; the job functions at the bottom are what
the worker calls between its own commits. Object keys are built here from ids only."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from courses import text
from courses.db import utcnow
from courses.errors import N_, DomainError, Errors, InvalidTransition, NotFound
from courses.models import (
    Course,
    LessonKind,
    LiveSession,
    Recording,
    User,
    Video,
    VideoState,
)
from courses.models.course import Lesson
from courses.policy import get_course, may, require_action
from courses.workflow import TITLE_MAX, lesson_text
from media.storage import Storage, StorageError, UploadedPart, UploadError

NAME_MAX = 200
MIN_PART = 8 * 1024 * 1024  # above S3's 5 MiB floor; a few GB stay well under 10,000 parts
MAX_PARTS = 9000
PART_URL_TTL_S = 3600
MAX_URLS_PER_CALL = 100
STATE_LABELS = {
    VideoState.uploading: N_("올리는 중"),
    VideoState.processing: N_("변환 중"),
    VideoState.ready: N_("시청 가능"),
    VideoState.failed: N_("처리 실패"),
}
ERROR_MESSAGES = {
    "not_video": N_("동영상으로 재생할 수 없는 파일입니다. 영상 파일(mp4, mov, webm 등)을 올려 주세요."),
    "too_large": N_("파일이 허용된 크기를 넘습니다."),
    "size_mismatch": N_("올린 파일의 크기가 처음 알린 크기와 다릅니다. 다시 올려 주세요."),
    "ffmpeg": N_("동영상 변환에 실패했습니다."),
    "storage": N_("저장소에서 파일을 읽지 못했습니다."),
}


class UploadRefused(DomainError):
    """The upload cannot go on as asked (wrong state, unknown parts)."""

    status = 409


@dataclass(frozen=True, slots=True)
class UploadPlan:
    """What the browser needs to upload (or resume) a file."""

    video: Video
    part_size: int
    part_count: int
    done: list[UploadedPart]
    resumed: bool


def source_key(video_id: int) -> str:
    """The uploaded file's key."""
    return f"videos/{video_id}/source"


def lesson_for(session: Session, actor: User, lesson_id: int) -> tuple[Lesson, Course]:
    """A lesson and its course, if the actor may see the course; NotFound otherwise."""
    lesson = session.get(Lesson, lesson_id)
    if lesson is None:
        raise NotFound()
    return lesson, get_course(session, actor, lesson.course_id)


def video_of(session: Session, lesson: Lesson) -> Video | None:
    """The lesson's video, if one was added."""
    return session.scalar(select(Video).where(Video.lesson_id == lesson.id))


def video_for(session: Session, actor: User, video_id: int) -> tuple[Video, Lesson, Course]:
    """A video, its lesson and course, if the actor may see the course."""
    video = session.get(Video, video_id)
    if video is None:
        raise NotFound()
    lesson, course = lesson_for(session, actor, video.lesson_id)
    return video, lesson, course


def videos_by_lesson(session: Session, course: Course) -> dict[int, Video]:
    """The course's videos by lesson id (one query for a course page)."""
    rows = session.scalars(
        select(Video).join(Lesson, Lesson.id == Video.lesson_id).where(Lesson.course_id == course.id)
    )
    return {v.lesson_id: v for v in rows}


def add_recorded_lesson(
    session: Session, actor: User, course: Course, *, title: str, description: str = ""
) -> Lesson:
    """Append a recorded lesson to the course (its video is uploaded from the lesson)."""
    require_action(session, actor, course, "manage_videos")
    e = Errors()
    title, description = lesson_text(e, title, description)
    e.raise_if_any()
    number = (session.scalar(select(func.max(Lesson.number)).where(Lesson.course_id == course.id)) or 0) + 1
    lesson = Lesson(
        course_id=course.id, number=number, title=title, kind=LessonKind.recorded, description=description
    )
    session.add(lesson)
    session.flush()
    return lesson


WATCH_THRESHOLD_RANGE = (50, 100)


def update_watch_settings(
    session: Session, actor: User, course: Course, *, threshold_pct: int | None, seek_lock: bool
) -> Course:
    """The share of a video that completes a recorded lesson, and whether seeking ahead is locked until then."""
    require_action(session, actor, course, "manage_videos")
    e = Errors()
    lo, hi = WATCH_THRESHOLD_RANGE
    if threshold_pct is None or not lo <= threshold_pct <= hi:
        e.add("watch_threshold_pct", N_("%(min)d~%(max)d 사이여야 합니다."), min=lo, max=hi)
    e.raise_if_any()
    course.watch_threshold_pct = int(threshold_pct)  # type: ignore[arg-type]
    course.seek_lock = seek_lock
    return course


def _part_size(size: int) -> int:
    mib = 1024 * 1024
    return max(MIN_PART, math.ceil(size / MAX_PARTS / mib) * mib)


def _check_recorded(lesson: Lesson) -> None:
    if lesson.kind != LessonKind.recorded:
        raise InvalidTransition(N_("녹화 강의 차시에만 영상을 올릴 수 있습니다."))


def start_upload(
    session: Session,
    storage: Storage,
    actor: User,
    lesson: Lesson,
    course: Course,
    *,
    filename: str,
    size: int,
    max_bytes: int,
    now: datetime | None = None,
) -> UploadPlan:
    """Begin the lesson's upload, or resume the unfinished one for the same file (name and size)."""
    require_action(session, actor, course, "manage_videos")
    _check_recorded(lesson)
    e = Errors()
    name = text.clean(filename)[:NAME_MAX]
    if not text.is_visible(name):
        e.add("filename", N_("파일 이름이 필요합니다."))
    if size <= 0:
        e.add("size", N_("빈 파일은 올릴 수 없습니다."))
    elif size > max_bytes:
        e.add("size", N_("파일이 너무 큽니다. %(gb).1fGB 이하만 올릴 수 있습니다."), gb=max_bytes / 1024**3)
    e.raise_if_any()
    existing = video_of(session, lesson)
    if existing is not None:
        if (
            existing.state == VideoState.uploading
            and existing.upload_id
            and existing.declared_size == size
            and existing.original_name == name
        ):
            try:
                done = storage.list_parts(existing.source_key, existing.upload_id)
            except UploadError:
                done = None  # aborted meanwhile (stale): start over below
            if done is not None:
                count = math.ceil(size / existing.part_size)
                return UploadPlan(existing, existing.part_size, count, done, resumed=True)
        _remove_objects(storage, existing)
        session.delete(existing)
        session.flush()
    video = Video(
        lesson_id=lesson.id,
        state=VideoState.uploading,
        source_key="",
        original_name=name,
        declared_size=size,
        part_size=_part_size(size),
        upload_started_at=now or utcnow(),
        created_by_id=actor.id,
    )
    session.add(video)
    session.flush()
    video.source_key = source_key(video.id)
    video.upload_id = storage.create_multipart(video.source_key)
    return UploadPlan(video, video.part_size, math.ceil(size / video.part_size), [], resumed=False)


def _uploading(video: Video) -> str:
    if video.state != VideoState.uploading or not video.upload_id:
        raise UploadRefused(N_("이 영상은 지금 올리는 중이 아닙니다."))
    return video.upload_id


def part_urls(
    session: Session, storage: Storage, actor: User, video: Video, course: Course, numbers: Sequence[int]
) -> dict[int, str]:
    """Presigned PUT URLs for these parts of the video's upload."""
    require_action(session, actor, course, "manage_videos")
    upload_id = _uploading(video)
    count = math.ceil(video.declared_size / video.part_size)
    e = Errors()
    if not numbers or len(numbers) > MAX_URLS_PER_CALL:
        e.add("parts", N_("한 번에 1~%(max)d개 조각의 주소를 받을 수 있습니다."), max=MAX_URLS_PER_CALL)
    elif any(not 1 <= n <= count for n in numbers):
        e.add("parts", N_("조각 번호는 1~%(max)d 사이여야 합니다."), max=count)
    e.raise_if_any()
    return {
        n: storage.presigned_part_url(video.source_key, upload_id, n, expires_s=PART_URL_TTL_S)
        for n in sorted(set(numbers))
    }


def uploaded_parts(
    session: Session, storage: Storage, actor: User, video: Video, course: Course
) -> list[UploadedPart]:
    """The parts the store already holds (resuming after a dropped connection)."""
    require_action(session, actor, course, "manage_videos")
    upload_id = _uploading(video)
    try:
        return storage.list_parts(video.source_key, upload_id)
    except UploadError as exc:
        raise UploadRefused(N_("올리기가 만료되었습니다. 처음부터 다시 올려 주세요.")) from exc


def complete_upload(
    session: Session,
    storage: Storage,
    actor: User,
    video: Video,
    course: Course,
    parts: Sequence[UploadedPart],
    *,
    max_bytes: int,
) -> Video:
    """Join the parts; the video then waits for processing (the caller enqueues the job after commit)."""
    require_action(session, actor, course, "manage_videos")
    upload_id = _uploading(video)
    count = math.ceil(video.declared_size / video.part_size)
    numbers = [p.part_number for p in parts]
    if numbers != list(range(1, count + 1)):
        raise UploadRefused(N_("모든 조각(1~%(n)d)을 순서대로 알려 주세요."), n=count)
    try:
        storage.complete_multipart(video.source_key, upload_id, parts)
    except UploadError as exc:
        raise UploadRefused(N_("조각이 올린 내용과 맞지 않습니다. 빠진 조각을 다시 올려 주세요.")) from exc
    video.upload_id = None
    video.size = storage.size(video.source_key)
    if video.size > max_bytes:
        return _refuse_source(storage, video, "too_large")
    if video.size != video.declared_size:
        return _refuse_source(storage, video, "size_mismatch")
    video.state = VideoState.processing
    video.progress_pct = 0.0
    video.attempts = 0
    video.lease_until = None
    video.error = None
    return video


def _refuse_source(storage: Storage, video: Video, code: str) -> Video:
    storage.delete(video.source_key)
    video.state = VideoState.failed
    video.error = code
    return video


def _remove_objects(storage: Storage, video: Video) -> None:
    """Every object of the video: an unfinished upload, its renditions, and its own source."""
    if video.upload_id:
        storage.abort_multipart(video.source_key, video.upload_id)
    for key in storage.list(video.hls_prefix):
        storage.delete(key)
    if video.source_key == source_key(video.id):  # a published recording's object stays the recording's
        storage.delete(video.source_key)
    if video.captions_key:
        storage.delete(video.captions_key)


def delete_video(session: Session, storage: Storage, actor: User, video: Video, course: Course) -> None:
    """Delete the video and all its objects (the lesson stays, without video)."""
    require_action(session, actor, course, "manage_videos")
    _remove_objects(storage, video)
    session.delete(video)


def add_captions(
    session: Session, storage: Storage, actor: User, video: Video, course: Course, data: bytes
) -> None:
    """Attach a WebVTT captions track (checked to be WebVTT, stored under the video's own key)."""
    require_action(session, actor, course, "manage_videos")
    e = Errors()
    try:
        body = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        body = ""
    if not body.startswith("WEBVTT") or len(data) > 2 * 1024 * 1024:
        e.add("captions", N_("WebVTT(.vtt) 자막 파일만 올릴 수 있습니다 (2MB 이하)."))
    e.raise_if_any()
    video.captions_key = f"videos/{video.id}/captions.vtt"
    storage.put_bytes(video.captions_key, body.encode("utf-8"), "text/vtt; charset=utf-8")


def abort_stale_uploads(session: Session, storage: Storage, *, older_than: timedelta, now: datetime) -> int:
    """Abort uploads left unfinished for longer than `older_than` (the video goes with them)."""
    stale = session.scalars(
        select(Video).where(Video.state == VideoState.uploading, Video.upload_started_at < now - older_than)
    ).all()
    for video in stale:
        try:
            _remove_objects(storage, video)
        except StorageError:
            continue  # the store is unreachable: try again next time
        session.delete(video)
    return len(stale)


# -- class recordings ------------------------------------------------------------------------------

RECORDING_DECISIONS = ("publish", "private", "delete")


def recording_for(session: Session, actor: User, recording_id: int) -> tuple[Recording, LiveSession, Course]:
    """A recording, its live session and course, if the actor may see the course."""
    recording = session.get(Recording, recording_id)
    if recording is None:
        raise NotFound()
    live = session.get(LiveSession, recording.live_session_id)
    assert live is not None
    course = get_course(session, actor, live.course_id)
    if not may(session, actor, course, "view_results"):
        raise NotFound()
    return recording, live, course


def decide_recording(
    session: Session,
    storage: Storage,
    actor: User,
    recording: Recording,
    live: LiveSession,
    course: Course,
    decision: str,
) -> Lesson | None:
    """Publish the recording as a recorded lesson (processed like an upload), keep it private, or delete it."""
    require_action(session, actor, course, "manage_videos")
    if decision not in RECORDING_DECISIONS:
        raise InvalidTransition(N_("알 수 없는 선택입니다."))
    if decision == "delete":
        if recording.lesson_id is not None:
            raise InvalidTransition(N_("강의로 공개된 녹화는 먼저 그 차시의 영상을 지워야 합니다."))
        storage.delete(recording.object_key)
        session.delete(recording)
        return None
    if decision == "private":
        if recording.lesson_id is not None:
            raise InvalidTransition(N_("이미 강의로 공개된 녹화입니다."))
        recording.decision = "private"
        return None
    if recording.lesson_id is not None:
        return session.get(Lesson, recording.lesson_id)
    title = f"{live.lesson.title} (녹화)"[:TITLE_MAX]  # the live lesson's title fits; the suffix may not
    lesson = add_recorded_lesson(session, actor, course, title=title, description=live.lesson.description)
    video = Video(
        lesson_id=lesson.id,
        state=VideoState.processing,
        source_key=recording.object_key,
        original_name=recording.object_key.rsplit("/", 1)[-1],
        declared_size=recording.size,
        size=recording.size,
        recording_id=recording.id,
        created_by_id=actor.id,
    )
    session.add(video)
    recording.decision = "published"
    recording.lesson_id = lesson.id
    session.flush()
    return lesson


# -- the processing job's steps (the worker commits between them) -----------------------------------


def claim(
    session: Session, video_id: int, *, now: datetime, lease: timedelta, max_attempts: int
) -> Video | None:
    """Take the video for processing if it waits and nobody holds it; None otherwise (already taken or done)."""
    claimed = session.execute(
        update(Video)
        .where(
            Video.id == video_id,
            Video.state == VideoState.processing,
            or_(Video.lease_until.is_(None), Video.lease_until < now),
            Video.attempts < max_attempts,
        )
        .values(attempts=Video.attempts + 1, lease_until=now + lease, progress_pct=0.0)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    video = session.get(Video, video_id)
    if video is not None:
        session.refresh(video)
    return video


def report_progress(
    session: Session, video: Video, fraction: float, *, now: datetime, lease: timedelta
) -> None:
    """Store the encoding progress and renew the lease (a live job keeps its claim)."""
    video.progress_pct = round(max(0.0, min(1.0, fraction)) * 100, 1)
    video.lease_until = now + lease


def finish(
    session: Session,
    video: Video,
    *,
    duration_s: float,
    width: int,
    height: int,
    has_audio: bool,
    renditions: list[dict[str, object]],
    now: datetime,
) -> None:
    """The renditions are stored: the video can be watched."""
    video.state = VideoState.ready
    video.duration_s = duration_s
    video.width, video.height, video.has_audio = width, height, has_audio
    video.renditions = renditions
    video.progress_pct = 100.0
    video.lease_until = None
    video.error = None
    video.ready_at = now


def fail(session: Session, video: Video, code: str, detail: str, *, retry: bool, max_attempts: int) -> bool:
    """Record a failed attempt; True if it will be retried (the lease is released), False if it is final."""
    video.lease_until = None
    video.error = f"{code}: {detail}"[:1000]
    if retry and video.attempts < max_attempts:
        return True
    video.state = VideoState.failed
    return False


def due_for_retry(
    session: Session, *, now: datetime, max_attempts: int, claimed_only: bool = False
) -> list[int]:
    """Videos waiting for processing that no live job holds: whose worker died (its lease expired) and, unless
    `claimed_only`, those never claimed (waiting in a queue, or announced to a process that stopped)."""
    expired = Video.lease_until < now
    return list(
        session.scalars(
            select(Video.id).where(
                Video.state == VideoState.processing,
                expired if claimed_only else or_(Video.lease_until.is_(None), expired),
                Video.attempts < max_attempts,
            )
        )
    )


def give_up_exhausted(session: Session, *, now: datetime, max_attempts: int) -> int:
    """Videos whose every attempt died with its worker are marked failed (not left processing forever)."""
    rows = session.scalars(
        select(Video).where(
            Video.state == VideoState.processing,
            Video.lease_until < now,
            Video.attempts >= max_attempts,
        )
    ).all()
    for video in rows:
        video.state = VideoState.failed
        video.error = video.error or "ffmpeg: the worker stopped during every attempt"
        video.lease_until = None
    return len(rows)


def error_message(video: Video) -> tuple[str, str]:
    """The teacher's message for a failed video (a msgid) and the technical detail."""
    code, _, detail = (video.error or "").partition(": ")
    return ERROR_MESSAGES.get(code, ERROR_MESSAGES["ffmpeg"]), detail


__all__ = [
    "ERROR_MESSAGES",
    "STATE_LABELS",
    "UploadPlan",
    "UploadRefused",
    "abort_stale_uploads",
    "add_captions",
    "update_watch_settings",
    "add_recorded_lesson",
    "claim",
    "complete_upload",
    "decide_recording",
    "delete_video",
    "due_for_retry",
    "error_message",
    "fail",
    "finish",
    "give_up_exhausted",
    "lesson_for",
    "part_urls",
    "recording_for",
    "report_progress",
    "source_key",
    "start_upload",
    "uploaded_parts",
    "video_for",
    "video_of",
    "videos_by_lesson",
]
