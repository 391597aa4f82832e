"""The processing job's lease and retries: a video whose worker died mid-job is re-enqueued by the sweep and
completes on the next attempt; one whose every attempt died is marked failed; stale uploads are aborted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from courses import videos
from courses.db import utcnow
from courses.models import Video, VideoState
from media.jobs import ManualQueue
from media.worker import sweep
from tests.video_support import make_clip, process, recorded_course


@pytest.fixture()
def waiting_video(app, db_session, web_world, tmp_path):  # type: ignore[no-untyped-def]
    _, lesson = recorded_course(db_session, web_world)
    clip = make_clip(tmp_path / "c.mp4", seconds=2)
    video = Video(lesson_id=lesson.id, state=VideoState.processing, source_key="")
    db_session.add(video)
    db_session.flush()
    video.source_key = videos.source_key(video.id)
    app.extensions["storage"].put_file(video.source_key, clip, "video/mp4")
    db_session.commit()
    return video


def test_a_job_whose_worker_died_is_retried_and_completes(app, db_session, waiting_video):
    vid = waiting_video.id
    # A worker claimed it (attempt 1) and was killed: its lease runs out, nothing else happens.
    claimed = videos.claim(
        db_session, vid, now=utcnow() - timedelta(minutes=10), lease=timedelta(minutes=5), max_attempts=3
    )
    assert claimed is not None and claimed.attempts == 1
    db_session.commit()
    # While the lease is live, nobody else takes it.
    assert (
        videos.claim(
            db_session, vid, now=utcnow() - timedelta(minutes=9), lease=timedelta(minutes=5), max_attempts=3
        )
        is None
    )
    queue = ManualQueue()
    assert sweep(db_session, queue.enqueue, max_attempts=3, include_unclaimed=False) == 1
    assert queue.drain() == [vid]
    assert process(app, db_session, vid) == "ready"
    video = db_session.get(Video, vid)
    assert video.state == VideoState.ready and video.attempts == 2
    # A duplicate announcement of a finished job is harmless.
    assert process(app, db_session, vid) == "skipped"


def test_a_video_whose_every_attempt_died_is_marked_failed(app, db_session, waiting_video):
    vid = waiting_video.id
    for i in range(3):
        assert videos.claim(
            db_session, vid, now=utcnow() - timedelta(hours=3 - i), lease=timedelta(minutes=1), max_attempts=3
        )
        db_session.commit()
    queue = ManualQueue()
    assert sweep(db_session, queue.enqueue, max_attempts=3, include_unclaimed=True) == 0
    video = db_session.get(Video, vid)
    assert video.state == VideoState.failed and video.error


def test_start_up_sweep_announces_never_claimed_videos_and_aborts_stale_uploads(
    app, db_session, web_world, waiting_video
):
    _, lesson = recorded_course(db_session, web_world)
    storage = app.extensions["storage"]
    plan = videos.start_upload(
        db_session,
        storage,
        web_world["teacher"],
        lesson,
        lesson.course,
        filename="x.mp4",
        size=10,
        max_bytes=100,
        now=utcnow() - timedelta(days=3),
    )
    db_session.commit()
    queue = ManualQueue()
    n = sweep(
        db_session,
        queue.enqueue,
        max_attempts=3,
        include_unclaimed=True,
        storage=storage,
        stale_after=timedelta(hours=24),
    )
    assert n == 1 and queue.drain() == [waiting_video.id]
    assert db_session.get(Video, plan.video.id) is None
