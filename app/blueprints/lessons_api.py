"""JSON API for recorded lessons: the resumable upload, the video's processing state, and watch progress.

Routes hang on the one /api/v1 blueprint (app.blueprints.api), so they share its login check, error shape,
token scopes and OpenAPI document. The progress beat is exempt from the CSRF header because a player's last
beat goes by navigator.sendBeacon, which cannot set headers: it takes only `application/json` (which a
cross-site form cannot send without a CORS preflight this app never grants) and the session cookie is
SameSite=Lax, so a forged page can neither send nor authenticate one."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue

from app import jobs
from app.auth import actor, current_token
from app.blueprints.api import BadRequest, _body, _iso, _json_types, bp, course_json
from app.extensions import csrf, dbs, limiter
from app.i18n import translate
from app.openapi import describe
from courses import videos, watch
from courses.errors import N_, Errors
from courses.models import Video
from courses.policy import get_course, require_action
from media.storage import UploadedPart

MAX_PARTS_LISTED = 10_000


def _storage() -> Any:
    return current_app.extensions["storage"]


def video_json(video: Video | None) -> dict[str, Any] | None:
    """A video's state as the lesson page and the upload script read it."""
    if video is None:
        return None
    message, detail = videos.error_message(video) if video.state == "failed" else (None, None)
    return {
        "id": video.id,
        "lesson_id": video.lesson_id,
        "state": video.state.value,
        "progress_pct": video.progress_pct,
        "duration_s": video.duration_s,
        "width": video.width,
        "height": video.height,
        "size": video.size or video.declared_size,
        "name": video.original_name,
        "renditions": video.renditions or [],
        "error": translate(message) if message else None,
        "error_detail": detail,
        "created_at": _iso(video.created_at),
        "ready_at": _iso(video.ready_at),
    }


def _plan_json(plan: videos.UploadPlan) -> dict[str, Any]:
    return {
        "video": video_json(plan.video),
        "part_size": plan.part_size,
        "part_count": plan.part_count,
        "resumed": plan.resumed,
        "uploaded_parts": [{"part_number": p.part_number, "etag": p.etag} for p in plan.done],
    }


def _int_list(e: Errors, body: dict[str, Any], name: str, maximum: int) -> list[int]:
    raw = body.get(name)
    if not isinstance(raw, list) or len(raw) > maximum:
        e.add(name, N_("정수 목록이어야 합니다 (최대 %(max)d개)."), max=maximum)
        return []
    if any(not isinstance(n, int) or isinstance(n, bool) for n in raw):
        e.add(name, N_("정수 목록이어야 합니다 (최대 %(max)d개)."), max=maximum)
        return []
    return list(raw)


@bp.post("/lessons/<int:lesson_id>/video/upload")
@describe(
    summary="Start (or resume) the upload of a recorded lesson's video",
    description="The same file (name and size) resumes the unfinished upload: `uploaded_parts` lists what the "
    "store already holds. Another file replaces the lesson's video. Then ask for part URLs, PUT each part, "
    "and complete.",
    tag="videos",
    response="UploadPlan",
    body="UploadInput",
    errors=(403, 409),
)
def start_upload(lesson_id: int) -> ResponseReturnValue:
    """Create the multipart upload for the lesson's video."""
    user = actor()
    lesson, course = videos.lesson_for(dbs(), user, lesson_id)
    body = _body()
    e = Errors()
    _json_types(e, body, strings=("filename",))
    size = body.get("size")
    if not isinstance(size, int) or isinstance(size, bool):
        e.add("size", N_("정수를 입력하세요."))
    e.raise_if_any()
    plan = videos.start_upload(
        dbs(),
        _storage(),
        user,
        lesson,
        course,
        filename=body.get("filename") or "",
        size=int(body.get("size") or 0),
        max_bytes=current_app.config["VIDEO_MAX_BYTES"],
    )
    return jsonify(_plan_json(plan)), 200 if plan.resumed else 201


@bp.put("/courses/<int:course_id>/watch-settings")
@describe(
    summary="When a recorded lesson counts as completed, and whether seeking ahead is locked until then",
    tag="videos",
    response="Course",
    body="WatchSettingsInput",
    errors=(403,),
)
def put_watch_settings(course_id: int) -> ResponseReturnValue:
    """Set the course's completion threshold (50-100 % of a video) and seek lock."""
    user = actor()
    course = get_course(dbs(), user, course_id)
    body = _body()
    threshold, lock = body.get("watch_threshold_pct"), body.get("seek_lock", False)
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        threshold = None
    if not isinstance(lock, bool):
        raise BadRequest(N_("seek_lock은 true 또는 false여야 합니다."))
    videos.update_watch_settings(dbs(), user, course, threshold_pct=threshold, seek_lock=lock)
    return jsonify(course_json(course, user))


@bp.get("/videos/<int:video_id>")
@describe(summary="A video's processing state and progress", tag="videos", response="Video")
def video_detail(video_id: int) -> ResponseReturnValue:
    """The video's state (uploading, processing with a percentage, ready, failed with a reason)."""
    user = actor()
    video, _, course = videos.video_for(dbs(), user, video_id)
    require_action(dbs(), user, course, "play_video")
    return jsonify(video_json(video))


@bp.get("/videos/<int:video_id>/upload")
@describe(
    summary="The parts of an unfinished upload the store already holds", tag="videos", response="UploadParts"
)
def upload_parts(video_id: int) -> ResponseReturnValue:
    """What to skip when resuming."""
    user = actor()
    video, _, course = videos.video_for(dbs(), user, video_id)
    done = videos.uploaded_parts(dbs(), _storage(), user, video, course)
    return jsonify({"uploaded_parts": [{"part_number": p.part_number, "etag": p.etag} for p in done]})


@bp.post("/videos/<int:video_id>/upload/parts")
@describe(
    summary="Presigned URLs to PUT parts of the upload to (valid one hour)",
    tag="videos",
    response="PartUrls",
    body="PartUrlsInput",
    errors=(403, 409),
)
def part_urls(video_id: int) -> ResponseReturnValue:
    """One URL per requested part number; the PUT's ETag response header names the part."""
    user = actor()
    video, _, course = videos.video_for(dbs(), user, video_id)
    body = _body()
    e = Errors()
    numbers = _int_list(e, body, "parts", videos.MAX_URLS_PER_CALL)
    e.raise_if_any()
    urls = videos.part_urls(dbs(), _storage(), user, video, course, numbers)
    return jsonify({"urls": {str(n): url for n, url in urls.items()}})


@bp.post("/videos/<int:video_id>/upload/complete")
@describe(
    summary="Finish the upload; the video is then processed (watch its state)",
    tag="videos",
    response="Video",
    body="CompleteInput",
    errors=(403, 409),
)
def complete_upload(video_id: int) -> ResponseReturnValue:
    """Join the parts and queue the processing job."""
    user = actor()
    video, _, course = videos.video_for(dbs(), user, video_id)
    body = _body()
    raw = body.get("parts")
    if not isinstance(raw, list) or not raw or len(raw) > MAX_PARTS_LISTED:
        raise BadRequest(N_("parts는 {part_number, etag} 목록이어야 합니다."))
    parts = []
    for item in raw:
        number, etag = (item.get("part_number"), item.get("etag")) if isinstance(item, dict) else (None, None)
        if (
            not isinstance(number, int)
            or isinstance(number, bool)
            or not isinstance(etag, str)
            or len(etag) > 200
        ):
            raise BadRequest(N_("parts는 {part_number, etag} 목록이어야 합니다."))
        parts.append(UploadedPart(number, etag))
    videos.complete_upload(
        dbs(), _storage(), user, video, course, parts, max_bytes=current_app.config["VIDEO_MAX_BYTES"]
    )
    if video.state == "processing":
        jobs.enqueue_after_commit(video.id)
    return jsonify(video_json(video))


@bp.delete("/videos/<int:video_id>")
@describe(
    summary="Delete a video and all its objects", tag="videos", response=None, status=204, errors=(403,)
)
def delete_video(video_id: int) -> ResponseReturnValue:
    """The lesson stays; its video, renditions and source go."""
    user = actor()
    video, _, course = videos.video_for(dbs(), user, video_id)
    videos.delete_video(dbs(), _storage(), user, video, course)
    return "", 204


def _beat_key() -> str:
    return f"beat|{current_token() or request.remote_addr}"


@bp.post("/lessons/<int:lesson_id>/progress")
@csrf.exempt  # type: ignore[untyped-decorator]
@limiter.limit(lambda: current_app.config["HEARTBEAT_RATE_LIMIT"], key_func=_beat_key)
@describe(
    summary="Report what the player played since the last beat",
    description="Idempotent by (session_id, seq): a replayed or older seq changes nothing and credits 0. "
    "Credit is the growth of the union of played intervals, clamped to the duration, and never more than "
    "the server's wall-clock time since the session's previous beat × 2 (plus a small slack), shared by "
    "every session of the same student. `credited_s` is what this beat added.",
    tag="progress",
    response="ProgressState",
    body="ProgressBeat",
    errors=(403, 409, 429),
)
def post_progress(lesson_id: int) -> ResponseReturnValue:
    """One heartbeat from the player (also by sendBeacon on pagehide)."""
    if not request.is_json:
        raise BadRequest(N_("Content-Type은 application/json이어야 합니다."))
    body = _body()
    state = watch.record_beat(dbs(), actor(), lesson_id, body, user_agent=request.user_agent.string or "")
    return jsonify(state)


@bp.get("/lessons/<int:lesson_id>/progress")
@describe(
    summary="The caller's own progress on a recorded lesson",
    description="`played_segments` is the xAPI Video Profile's string form (`0.000[.]12.000[,]14.000[.]21.000`).",
    tag="progress",
    response="OwnProgress",
    errors=(409,),
)
def get_progress(lesson_id: int) -> ResponseReturnValue:
    """Where to resume, and what was watched."""
    user = actor()
    lesson, course = videos.lesson_for(dbs(), user, lesson_id)
    require_action(dbs(), user, course, "play_video")
    return jsonify(watch.own_progress(dbs(), user, lesson, course))


__all__ = ["bp", "video_json"]
