"""Recorded lessons: the lesson page (player, upload, state), the authorising HLS proxy, the teachers' progress
report with its retention chart and exports, the xAPI export, and the decision on each class recording."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.audit import audit
from app.auth import actor, login_required
from app.blueprints.lessons_api import video_json
from app.exports import export_response, wants_export
from app.extensions import dbs
from app.i18n import translate
from app.input import ID_MAX, bounded_int
from courses import videos, watch, xapi
from courses.errors import N_, NotFound
from courses.exports import Report
from courses.models import AccessAction, Video, VideoState
from courses.policy import may, require_action
from courses.reports import course_context
from media.storage import ObjectNotFoundError

bp = Blueprint("lessons", __name__)
HLS_NAME = re.compile(r"^(master\.m3u8|v\d{1,2}/index\.m3u8|sprite\.vtt|captions\.vtt|poster\.jpg)$")
SEGMENT_LINE = re.compile(r"^[A-Za-z0-9_./-]+\.(m4s|mp4|jpg)$")
MAP_URI = re.compile(r'URI="([A-Za-z0-9_./-]+)"')
PROGRESS_COLUMNS = [
    N_("반"),
    N_("번호"),
    N_("이름"),
    N_("시청 시간(분)"),
    N_("시청률(%)"),
    N_("마지막 시청"),
    N_("이수"),
]


def _storage() -> Any:
    return current_app.extensions["storage"]


def _url_ttl(video: Video) -> int:
    """Segment URLs outlive one viewing of the video (hls.js loads a VOD playlist once), and no more."""
    return int(min(6 * 3600, 15 * 60 + 2 * (video.duration_s or 0)))


@bp.route("/courses/<int:course_id>/lessons/<int:lesson_id>/watch")
@login_required
def page(course_id: int, lesson_id: int):  # type: ignore[no-untyped-def]
    user = actor()
    lesson, course = videos.lesson_for(dbs(), user, lesson_id)
    if course.id != course_id:
        raise NotFound()
    require_action(dbs(), user, course, "play_video")
    video = videos.video_of(dbs(), lesson)
    manage = may(dbs(), user, course, "manage_videos")
    is_student = may(dbs(), user, course, "watch")
    own = None
    if video is not None and video.state == VideoState.ready and is_student:
        own = watch.own_progress(dbs(), user, lesson, course)
    config = {
        "lessonId": lesson.id,
        "progressUrl": url_for("api.post_progress", lesson_id=lesson.id),
        "uploadUrl": url_for("api.start_upload", lesson_id=lesson.id),
        "videoUrl": url_for("api.video_detail", video_id=video.id) if video else None,
        "tracks": is_student,
        "seekLock": bool(own and own["seek_lock"]),
        "resumeAt": own["last_position"] if own else 0,
        "segments": own["segments"] if own else [],
        "duration": video.duration_s if video else None,
        "maxBytes": current_app.config["VIDEO_MAX_BYTES"],
    }
    return render_template(
        "lessons/watch.html",
        course=course,
        lesson=lesson,
        video=video,
        video_info=video_json(video),
        manage=manage,
        is_student=is_student,
        own=own,
        config=config,
        states=videos.STATE_LABELS,
        can_report=may(dbs(), user, course, "view_results"),
    )


@bp.route("/lessons/<int:lesson_id>/hls/<path:name>")
@login_required
def hls(lesson_id: int, name: str):  # type: ignore[no-untyped-def]
    """Playlists and previews for someone allowed to play the lesson, with short-lived signed object URLs."""
    user = actor()
    lesson, course = videos.lesson_for(dbs(), user, lesson_id)
    require_action(dbs(), user, course, "play_video")
    video = videos.video_of(dbs(), lesson)
    if video is None or video.state != VideoState.ready or not HLS_NAME.match(name):
        abort(404)
    storage = _storage()
    ttl = _url_ttl(video)
    if name == "captions.vtt":
        if not video.captions_key:
            abort(404)
        return _object(storage, video.captions_key, "text/vtt; charset=utf-8")
    key = video.hls_prefix + name
    if name == "poster.jpg":
        return redirect(storage.presigned_get_url(key, ttl))
    try:
        text = storage.get_bytes(key).decode("utf-8")
    except ObjectNotFoundError:
        abort(404)
    folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
    if name == "master.m3u8":
        body = _rewrite(text, lambda rel: url_for("lessons.hls", lesson_id=lesson.id, name=rel))
        mimetype = "application/vnd.apple.mpegurl"
    elif name == "sprite.vtt":
        body = re.sub(
            r"^([A-Za-z0-9_.-]+\.jpg)(#xywh=[0-9,]+)$",
            lambda m: storage.presigned_get_url(video.hls_prefix + m.group(1), ttl) + m.group(2),
            text,
            flags=re.M,
        )
        mimetype = "text/vtt; charset=utf-8"
    else:
        body = _rewrite(text, lambda rel: storage.presigned_get_url(video.hls_prefix + folder + rel, ttl))
        mimetype = "application/vnd.apple.mpegurl"
    return Response(body, mimetype=mimetype, headers={"Cache-Control": "private, no-store"})


def _rewrite(playlist: str, url: Any) -> str:
    """Point every URI of a playlist (lines and EXT-X-MAP / EXT-X-MEDIA URI attributes) through `url`."""
    out = []
    for line in playlist.splitlines():
        if line.startswith("#"):
            line = MAP_URI.sub(lambda m: f'URI="{url(m.group(1))}"', line)
        elif line.strip():
            if not (SEGMENT_LINE.match(line.strip()) or line.strip().endswith(".m3u8")):
                continue  # never pass through anything unexpected
            line = url(line.strip())
        out.append(line)
    return "\n".join(out) + "\n"


def _object(storage: Any, key: str, mimetype: str) -> Response:
    try:
        return Response(
            storage.get_bytes(key), mimetype=mimetype, headers={"Cache-Control": "private, no-store"}
        )
    except ObjectNotFoundError:
        abort(404)


@bp.route("/courses/<int:course_id>/lessons/recorded", methods=["POST"])
@login_required
def add(course_id: int):  # type: ignore[no-untyped-def]
    from courses.policy import get_course

    user = actor()
    course = get_course(dbs(), user, course_id)
    lesson = videos.add_recorded_lesson(
        dbs(),
        user,
        course,
        title=request.form.get("title", ""),
        description=request.form.get("description", ""),
    )
    flash(_("녹화 강의 차시를 추가했습니다. 이제 영상을 올리세요."), "success")
    return redirect(url_for("lessons.page", course_id=course.id, lesson_id=lesson.id))


@bp.route("/courses/<int:course_id>/watch-settings", methods=["POST"])
@login_required
def watch_settings(course_id: int):  # type: ignore[no-untyped-def]
    from courses.policy import get_course

    user = actor()
    course = get_course(dbs(), user, course_id)
    raw = request.form.get("watch_threshold_pct", "")
    videos.update_watch_settings(
        dbs(),
        user,
        course,
        threshold_pct=int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 3 else None,
        seek_lock=request.form.get("seek_lock") == "on",
    )
    flash(_("녹화 강의 설정을 저장했습니다."), "success")
    return redirect(url_for("courses.detail", course_id=course.id) + "#lessons")


@bp.route("/lessons/<int:lesson_id>/video/delete", methods=["POST"])
@login_required
def delete(lesson_id: int):  # type: ignore[no-untyped-def]
    user = actor()
    lesson, course = videos.lesson_for(dbs(), user, lesson_id)
    video = videos.video_of(dbs(), lesson)
    if video is None:
        raise NotFound()
    videos.delete_video(dbs(), _storage(), user, video, course)
    flash(_("영상을 지웠습니다."), "success")
    return redirect(url_for("lessons.page", course_id=course.id, lesson_id=lesson.id))


@bp.route("/lessons/<int:lesson_id>/captions", methods=["POST"])
@login_required
def captions(lesson_id: int):  # type: ignore[no-untyped-def]
    user = actor()
    lesson, course = videos.lesson_for(dbs(), user, lesson_id)
    video = videos.video_of(dbs(), lesson)
    if video is None:
        raise NotFound()
    upload = request.files.get("captions")
    data = upload.read(2 * 1024 * 1024 + 1) if upload else b""
    videos.add_captions(dbs(), _storage(), user, video, course, data)
    flash(_("자막을 올렸습니다."), "success")
    return redirect(url_for("lessons.page", course_id=course.id, lesson_id=lesson.id))


def _json_download(statements: list[dict[str, Any]], name: str) -> Response:
    """xAPI statements as a JSON file to download (for an LRS)."""
    return Response(
        json.dumps(statements, ensure_ascii=False, indent=1),
        mimetype="application/json",
        headers={"Content-Disposition": f"attachment; filename={name}.json"},
    )


def _fmt(value: datetime | None) -> str:
    from flask_babel import format_datetime

    return format_datetime(value, "yyyy-MM-dd HH:mm") if value else ""


@bp.route("/courses/<int:course_id>/lessons/<int:lesson_id>/progress")
@login_required
def report(course_id: int, lesson_id: int):  # type: ignore[no-untyped-def]
    """Per student: watched time, percentage, last activity, completed; the retention chart; exports."""
    user = actor()
    lesson, course = videos.lesson_for(dbs(), user, lesson_id)
    if course.id != course_id:
        raise NotFound()
    class_id = bounded_int(request.args.get("class_id"), 0, 0, ID_MAX) or None
    rows, video = watch.lesson_report(dbs(), user, course, lesson, class_id=class_id)
    table = Report(
        title=N_("시청 현황"),
        context=[*course_context(course), (N_("차시"), f"{lesson.number}. {lesson.label}")],
        columns=PROGRESS_COLUMNS,
        rows=[
            [
                r.class_label,
                r.number or "",
                r.user.name,
                round(r.watched_s / 60, 1),
                r.percent,
                _fmt(r.last_at),
                _("이수") if r.completed else _("미이수"),
            ]
            for r in rows
        ],
    )
    fmt = request.args.get("format")
    if fmt == "xapi":
        audit(AccessAction.xapi_exported, "lesson", lesson.id, f"{course.title} ({len(rows)})")
        statements = xapi.lesson_statements(
            dbs(), course, lesson, video, [r.user.id for r in rows], base_url=request.host_url
        )
        return _json_download(statements, f"xapi-lesson-{lesson.id}")
    if wants_export(fmt):
        audit(AccessAction.progress_exported, "lesson", lesson.id, f"{course.title} ({fmt}, {len(rows)})")
        return export_response(table, fmt, f"progress-lesson-{lesson.id}")  # type: ignore[arg-type]
    audit(AccessAction.progress_viewed, "lesson", lesson.id, f"{course.title} ({len(rows)})")
    counts = watch.retention(rows, video)
    labels = [f"{i * 10 // 60}:{i * 10 % 60:02d}" for i in range(len(counts))]
    chart = {"labels": labels, "datasets": [{"label": translate(N_("시청한 학생 수")), "data": counts}]}
    classes = sorted({(r.class_id, r.class_label) for r in rows if r.class_id}, key=lambda c: c[1])
    completed = sum(1 for r in rows if r.completed)
    return render_template(
        "lessons/report.html",
        course=course,
        lesson=lesson,
        video=video,
        table=table,
        headers=[translate(c) for c in table.columns],
        chart=chart,
        classes=classes,
        class_id=class_id,
        completed=completed,
        retention=list(zip(labels, counts, strict=True)),
    )


@bp.route("/courses/<int:course_id>/progress")
@login_required
def course_report(course_id: int):  # type: ignore[no-untyped-def]
    """The class progress report: every enrolled student × every recorded lesson, with a chart and exports."""
    from courses.policy import get_course

    user = actor()
    course = get_course(dbs(), user, course_id)
    lessons, rows = watch.course_report(dbs(), user, course)
    columns = [
        N_("반"),
        N_("번호"),
        N_("이름"),
        *[f"{lesson.number}. {lesson.label}" for lesson in lessons],
        N_("이수한 차시"),
    ]
    table = Report(
        title=N_("녹화 강의 시청 현황"),
        context=course_context(course),
        columns=columns,
        rows=[
            [
                r.class_label,
                r.number or "",
                r.name,
                *[r.percent[lesson.id] for lesson in lessons],
                r.completed,
            ]
            for r in rows
        ],
    )
    fmt = request.args.get("format")
    if fmt == "xapi":
        # The course's viewing, or one student's (?student_id=, among those this report shows).
        student_id = bounded_int(request.args.get("student_id"), 0, 0, ID_MAX) or None
        user_ids = [r.user_id for r in rows if student_id in (None, r.user_id)]
        if student_id is not None and not user_ids:
            raise NotFound()
        audit(AccessAction.xapi_exported, "course", course.id, f"{course.title} ({len(user_ids)})")
        ready = videos.videos_by_lesson(dbs(), course)
        statements = [
            st
            for lesson in lessons
            for st in xapi.lesson_statements(
                dbs(), course, lesson, ready[lesson.id], user_ids, base_url=request.host_url
            )
        ]
        name = f"xapi-course-{course.id}" + (f"-student-{student_id}" if student_id else "")
        return _json_download(statements, name)
    if wants_export(fmt):
        audit(AccessAction.progress_exported, "course", course.id, f"{course.title} ({fmt}, {len(rows)})")
        return export_response(table, fmt, f"progress-course-{course.id}")  # type: ignore[arg-type]
    audit(AccessAction.progress_viewed, "course", course.id, f"{course.title} ({len(rows)})")
    chart = {
        "labels": [f"{lesson.number}. {lesson.label}" for lesson in lessons],
        "datasets": [
            {
                "label": translate(N_("이수한 학생 수")),
                "data": [sum(r.done[lesson.id] for r in rows) for lesson in lessons],
            }
        ],
    }
    return render_template(
        "lessons/course_report.html",
        course=course,
        lessons=lessons,
        students=[r.user_id for r in rows],
        table=table,
        headers=[translate(c) for c in table.columns],
        chart=chart,
    )


@bp.route("/recordings/<int:recording_id>/decision", methods=["POST"])
@login_required
def decide(recording_id: int):  # type: ignore[no-untyped-def]
    """Publish a class recording as a recorded lesson, keep it private, or delete it."""
    from app import jobs

    user = actor()
    recording, live_session, course = videos.recording_for(dbs(), user, recording_id)
    decision = request.form.get("decision", "")
    lesson = videos.decide_recording(dbs(), _storage(), user, recording, live_session, course, decision)
    if lesson is not None:
        video = videos.video_of(dbs(), lesson)
        if video is not None and video.state == VideoState.processing:
            jobs.enqueue_after_commit(video.id)
        flash(_("녹화를 강의로 공개했습니다. 변환이 끝나면 학생이 볼 수 있습니다."), "success")
        return redirect(url_for("lessons.page", course_id=course.id, lesson_id=lesson.id))
    flash(_("녹화를 지웠습니다.") if decision == "delete" else _("녹화를 비공개로 두었습니다."), "success")
    return redirect(url_for("live.attendance", live_id=live_session.id) + "#rec-h")


__all__ = ["bp"]
