"""Viewing as xAPI statements of the ADL Video Profile (initialized, played, paused, seeked, completed), so an
education office's LRS can take them. Actors are pseudonymous accounts (the platform's user id on its home
page), never names: the learners are minors."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Course, Video, WatchEvent, WatchSession
from courses.models.course import Lesson
from media import progress

VIDEO = "https://w3id.org/xapi/video"
EXT = f"{VIDEO}/extensions"
VERBS = {
    "initialized": "http://adlnet.gov/expapi/verbs/initialized",
    "played": f"{VIDEO}/verbs/played",
    "paused": f"{VIDEO}/verbs/paused",
    "seeked": f"{VIDEO}/verbs/seeked",
    "completed": "http://adlnet.gov/expapi/verbs/completed",
}
_NAMESPACE = uuid.UUID("6f1c7d2e-4b8a-5e0f-9a3d-2c1b0e9f8a7d")


def _verb(event: WatchEvent, first: bool) -> str | None:
    if first or event.event == "initialized":
        return "initialized"
    if event.event == "completed":
        return "completed"
    if event.event == "pause":
        return "paused"
    if event.event == "seek":
        return "seeked"
    return "played" if event.segments else None


def lesson_statements(
    session: Session, course: Course, lesson: Lesson, video: Video, user_ids: Iterable[int], *, base_url: str
) -> list[dict[str, Any]]:
    """Every accepted beat of these students on this lesson, oldest first, as Video Profile statements."""
    ids = list(user_ids)
    if not ids:
        return []
    duration = float(video.duration_s or 0)
    base = base_url.rstrip("/")
    rows = session.execute(
        select(WatchEvent, WatchSession)
        .join(WatchSession, WatchSession.id == WatchEvent.watch_session_id)
        .where(WatchSession.lesson_id == lesson.id, WatchSession.user_id.in_(ids))
        .order_by(WatchSession.user_id, WatchEvent.at, WatchEvent.id)
    )
    out: list[dict[str, Any]] = []
    credited: dict[int, float] = {}
    union: dict[int, list[progress.Interval]] = {}
    seen_sessions: set[int] = set()
    for event, ws in rows:
        credited[ws.user_id] = credited.get(ws.user_id, 0.0) + event.credited_s
        segs = [(float(s), float(e)) for s, e in event.segments]
        union[ws.user_id] = progress.normalise([*union.get(ws.user_id, []), *progress.clamp(segs, duration)])
        first = ws.id not in seen_sessions
        seen_sessions.add(ws.id)
        verb = _verb(event, first)
        if verb is None:
            continue
        extensions: dict[str, Any] = {f"{EXT}/time": round(event.position, 3)}
        if verb in ("played", "paused", "completed"):
            extensions[f"{EXT}/played-segments"] = progress.to_xapi(union[ws.user_id])
            extensions[f"{EXT}/progress"] = (
                round(min(1.0, credited[ws.user_id] / duration), 3) if duration else 0
            )
        if verb == "played" and segs:
            extensions[f"{EXT}/time-from"] = round(segs[0][0], 3)
            extensions[f"{EXT}/time-to"] = round(segs[-1][1], 3)
        if verb == "seeked":
            extensions[f"{EXT}/time-from"] = round(event.seek_from or 0.0, 3)
            extensions[f"{EXT}/time-to"] = round(event.position, 3)
        result: dict[str, Any] = {"extensions": extensions}
        if verb == "completed":
            result["completion"] = True
        out.append(
            {
                "id": str(uuid.uuid5(_NAMESPACE, f"{base}|{event.id}")),
                "actor": {"objectType": "Agent", "account": {"homePage": base, "name": str(ws.user_id)}},
                "verb": {"id": VERBS[verb], "display": {"en-US": verb}},
                "object": {
                    "objectType": "Activity",
                    "id": f"{base}/courses/{course.id}/lessons/{lesson.id}",
                    "definition": {
                        "type": f"{VIDEO}/activity-type/video",
                        "name": {"ko-KR": lesson.title},
                    },
                },
                "result": result,
                "context": {
                    "registration": str(uuid.uuid5(_NAMESPACE, f"{ws.user_id}|{ws.key}")),
                    "contextActivities": {"category": [{"id": VIDEO}]},
                    "extensions": {
                        f"{EXT}/session-id": ws.key,
                        f"{EXT}/length": round(duration, 3),
                        f"{EXT}/completion-threshold": round(course.watch_threshold_pct / 100, 2),
                        f"{EXT}/speed": f"{event.rate:g}x",
                    },
                },
                "timestamp": event.at.isoformat(),
            }
        )
    return out


__all__ = ["VERBS", "lesson_statements"]
