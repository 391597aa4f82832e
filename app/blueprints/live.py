"""Live classes: the class page, join tokens, ending a class, attendance; the SFU's webhook."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from app.audit import audit
from app.auth import actor, login_required
from app.exports import export_response, wants_export
from app.extensions import dbs
from app.i18n import translate
from app.transactions import discard
from contracts.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_webhook
from courses import live
from courses.db import utcnow
from courses.errors import N_
from courses.exports import Report
from courses.models import AccessAction
from courses.policy import may
from courses.reports import course_context

bp = Blueprint("live", __name__, url_prefix="/live")
webhook_bp = Blueprint("sfu_webhook", __name__)


@bp.route("/<int:live_id>")
@login_required
def room(live_id: int):  # type: ignore[no-untyped-def]
    user = actor()
    session, course = live.get_live_session(dbs(), user, live_id)
    role = live.live_role(dbs(), user, course)
    return render_template(
        "live/room.html", live=session, course=course, role=role, sfu_url=current_app.config["SFU_PUBLIC_URL"]
    )


@bp.route("/<int:live_id>/token", methods=["POST"])
@login_required
def token(live_id: int):  # type: ignore[no-untyped-def]
    user = actor()
    session, course = live.get_live_session(dbs(), user, live_id)
    grant = live.grant_join(dbs(), user, session, course, secret=current_app.config["SFU_SECRET"])
    return jsonify(
        {
            "token": grant.token,
            "room": grant.room,
            "role": grant.role,
            "expires_in": grant.expires_in,
            "sfu_url": current_app.config["SFU_PUBLIC_URL"],
            "record": live.recording_enabled(course),
        }
    )


@bp.route("/<int:live_id>/end", methods=["POST"])
@login_required
def end(live_id: int):  # type: ignore[no-untyped-def]
    user = actor()
    session, course = live.get_live_session(dbs(), user, live_id)
    live.end_session(dbs(), user, session, course)
    return redirect(url_for("live.attendance", live_id=live_id))


ATTENDANCE_COLUMNS = [
    N_("학급"),
    N_("번호"),
    N_("이름"),
    N_("입장"),
    N_("퇴장"),
    N_("참석(분)"),
    N_("참석률(%%)"),
    N_("무대(분)"),
    N_("발언(분)"),
    N_("카메라(분)"),
    N_("채팅"),
    N_("손들기"),
    N_("이수"),
]


@bp.route("/<int:live_id>/attendance")
@login_required
def attendance(live_id: int):  # type: ignore[no-untyped-def]
    user = actor()
    session, course = live.get_live_session(dbs(), user, live_id)
    if request.args.get("part") == "recordings":
        # Only the recordings (no student's record in it): what attendance.js asks for after the class.
        return render_template("live/_recordings.html", **_recordings_context(user, session, course))
    rows = live.attendance_report(dbs(), user, session, course)
    table = Report(
        title=N_("출석 현황"),
        context=[
            *course_context(course),
            (N_("차시"), f"{session.lesson.number}. {session.lesson.label}"),
            (N_("수업 일시"), _fmt(session.starts_at)),
        ],
        columns=ATTENDANCE_COLUMNS,
        rows=[
            [
                r.class_label,
                r.number or "",
                r.user.name,
                _fmt(r.attendance.first_join_at) if r.attendance else "",
                _fmt(r.attendance.last_leave_at) if r.attendance else "",
                round((r.attendance.present_seconds if r.attendance else 0) / 60, 1),
                r.present_pct,
                round((r.attendance.stage_seconds if r.attendance else 0) / 60, 1),
                round((r.attendance.talk_seconds if r.attendance else 0) / 60, 1),
                round((r.attendance.camera_seconds if r.attendance else 0) / 60, 1),
                r.attendance.messages if r.attendance else 0,
                r.attendance.hands_raised if r.attendance else 0,
                _("이수") if r.completed else _("미이수"),
            ]
            for r in rows
        ],
    )
    headers = [translate(c) for c in table.columns]
    fmt = request.args.get("format")
    if wants_export(fmt):
        audit(
            AccessAction.attendance_exported, "live_session", live_id, f"{course.title} ({fmt}, {len(rows)})"
        )
        return export_response(table, fmt, f"attendance-{live_id}")  # type: ignore[arg-type]
    audit(AccessAction.attendance_viewed, "live_session", live_id, f"{course.title} ({len(rows)})")
    chart = {
        "labels": [r.user.name for r in rows],
        "datasets": [{"label": headers[5], "data": [row[5] for row in table.rows]}],
    }
    return render_template(
        "live/attendance.html",
        table=table,
        headers=headers,
        chart=chart,
        chat=live.chat_log(dbs(), user, session, course),
        **_recordings_context(user, session, course),
    )


def _recordings_context(user: Any, session: Any, course: Any) -> dict[str, Any]:
    storage = current_app.extensions["storage"]
    recs = [
        (rec, storage.presigned_get_url(rec.object_key, 3600))
        for rec in live.recordings(dbs(), user, session, course)
    ]
    return {
        "live": session,
        "course": course,
        "recordings": recs,
        "awaiting_recording": not recs and live.awaiting_recording(session, course, utcnow()),
        "manage_videos": may(dbs(), user, course, "manage_videos"),
    }


def _fmt(value: datetime | None) -> str:
    from flask_babel import format_datetime

    return format_datetime(value, "HH:mm:ss") if value else ""


@webhook_bp.route("/api/v1/sfu/webhook", methods=["POST"])
def sfu_webhook():  # type: ignore[no-untyped-def]
    body = request.get_data(cache=False)
    ok = verify_webhook(
        current_app.config["SFU_SECRET"],
        body,
        request.headers.get(SIGNATURE_HEADER, ""),
        request.headers.get(TIMESTAMP_HEADER, ""),
    )
    if not ok:
        return jsonify(
            {"error": {"code": "BadSignature", "message": "invalid or stale webhook signature"}}
        ), 401
    try:
        payload = current_app.json.loads(body)  # app.input's strict JSON (depth, NaN, 64-bit ints, NUL)
        outcome = live.apply_sfu_event(dbs(), payload)
    except (ValueError, live.BadEvent) as err:
        discard()
        return jsonify({"error": {"code": "BadEvent", "message": str(err)}}), 400
    try:
        dbs().flush()  # a unique-key clash shows here, not at the commit at the end of the request
    except IntegrityError:  # the same event delivered twice at once: the other delivery stored it
        discard()
        outcome = "duplicate"
    return jsonify({"status": outcome})
