"""Helpers for recorded-lesson tests: a running course with a recorded lesson, generated clips, the browser's
upload protocol driven through the API, and one processing job run by hand."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from courses import enrolment, videos, workflow
from media.ffmpeg import lavfi_clip_args
from media.tools import ffmpeg_binary
from tests.factories import World, course_input


def recorded_course(session: Any, world: World, **overrides: Any) -> tuple[Any, Any]:
    """A running class-level course with its class enrolled and one recorded lesson (no video yet)."""
    course = workflow.submit_request(
        session,
        world["teacher"],
        course_input(world, instructor_id=world["instructor"].id, delivery="recorded"),
    )
    workflow.approve(session, world["school_admin"], course)
    workflow.start(session, world["teacher"], course)
    enrolment.enrol_group(session, world["teacher"], course, school_id=world.school.id, class_id=world.cls.id)
    for key, value in overrides.items():
        setattr(course, key, value)
    lesson = videos.add_recorded_lesson(session, world["teacher"], course, title="녹화 1강")
    return course, lesson


def make_clip(
    path: Path, *, seconds: float = 3, width: int = 320, height: int = 180, audio: bool = True
) -> Path:
    """A tiny generated clip (skips the test if no ffmpeg is installed)."""
    try:
        binary = ffmpeg_binary()  # the system's, else the one the imageio-ffmpeg package ships
    except RuntimeError:
        pytest.skip("no ffmpeg: neither on PATH nor from imageio-ffmpeg")
    args = lavfi_clip_args(
        binary, str(path), seconds=seconds, width=width, height=height, rate=15, audio=audio
    )
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    return path


def put_part(client: Any, url: str, data: bytes) -> Any:
    """PUT a part to a local-storage presigned URL through the app (as the browser does)."""
    parts = urlsplit(url)
    return client.put(parts.path, query_string=parts.query, data=data)


def upload(client: Any, lesson_id: int, data: bytes, *, name: str = "lecture.mp4") -> dict[str, Any]:
    """Start, PUT every part, complete: the upload script's protocol. Returns the completed video's JSON."""
    token = client.csrf()
    headers = {"X-CSRFToken": token}
    r = client.post(
        f"/api/v1/lessons/{lesson_id}/video/upload",
        json={"filename": name, "size": len(data)},
        headers=headers,
    )
    assert r.status_code in (200, 201), r.get_json()
    plan = r.get_json()
    vid, size, count = plan["video"]["id"], plan["part_size"], plan["part_count"]
    urls = client.post(
        f"/api/v1/videos/{vid}/upload/parts", json={"parts": list(range(1, count + 1))}, headers=headers
    ).get_json()["urls"]
    etags = []
    for n in range(1, count + 1):
        put = put_part(client, urls[str(n)], data[(n - 1) * size : n * size])
        assert put.status_code == 200, put.data
        etags.append({"part_number": n, "etag": put.headers["ETag"]})
    done = client.post(f"/api/v1/videos/{vid}/upload/complete", json={"parts": etags}, headers=headers)
    assert done.status_code == 200, done.get_json()
    return dict(done.get_json())


def process(app: Any, session: Any, video_id: int) -> str:
    """Run the video's processing job now, in this test's transaction."""
    from media.worker import run_job

    return run_job(
        session,
        app.extensions["storage"],
        video_id,
        lease_s=60,
        max_attempts=app.config["VIDEO_MAX_ATTEMPTS"],
        requeue=app.extensions["jobs"].enqueue,
    )
