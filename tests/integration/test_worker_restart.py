"""A real `python -m media.worker` (RQ on Redis) killed with SIGKILL in the middle of encoding: the job is not
lost — once its lease runs out, another worker's sweep re-enqueues it and it completes on the second attempt."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from courses.db import Base
from courses.models import Video, VideoState
from tests.factories import build_world
from tests.video_support import make_clip, recorded_course

REDIS = os.environ.get("LMS_TEST_REDIS_URL")
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not REDIS, reason="needs LMS_TEST_REDIS_URL (CI sets it): RQ runs on Redis")


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "media.worker", "--sweep-every", "0.5"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )


def _kill_tree(pid: int, sig: int) -> None:
    """The worker and everything it started (RQ runs each job in a forked work horse, which runs ffmpeg)."""
    import psutil

    with contextlib.suppress(psutil.NoSuchProcess):
        parent = psutil.Process(pid)
        for proc in [*parent.children(recursive=True), parent]:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(sig)


def _video(url: str, video_id: int) -> Video:
    engine = create_engine(url)
    try:
        with Session(engine) as s:
            return s.scalars(select(Video).where(Video.id == video_id)).one()
    finally:
        engine.dispose()


def test_a_worker_killed_mid_job_leaves_a_job_that_completes_on_retry(tmp_path: Path) -> None:
    from media.jobs import RqQueue
    from media.storage import LocalStorage

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    secret = "worker-restart-secret-0123456789abcdefghijkl"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    storage = LocalStorage(str(tmp_path / "storage"), secret)
    clip = make_clip(tmp_path / "long.mp4", seconds=40, width=640, height=360)
    with Session(engine) as s:
        world = build_world(s, students=1)
        _, lesson = recorded_course(s, world)
        video = Video(lesson_id=lesson.id, state=VideoState.processing, source_key="")
        s.add(video)
        s.flush()
        video.source_key = f"videos/{video.id}/source"
        storage.put_file(video.source_key, clip, "video/mp4")
        s.commit()
        video_id = video.id
    engine.dispose()
    queue_name = f"ieum-media-test-{uuid.uuid4().hex[:8]}"  # this test's jobs only
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    env.update(
        LMS_DATABASE_URL=url,
        LMS_SECRET_KEY=secret,
        LMS_STORAGE_DIR=str(tmp_path / "storage"),
        LMS_REDIS_URL=str(REDIS),
        LMS_JOBS="rq",
        LMS_JOBS_QUEUE=queue_name,
        LMS_VIDEO_LEASE_S="3",
        LMS_VIDEO_THREADS="1",  # slow enough to be killed in the middle
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "workers.log"
    first = _worker(env, log)
    try:
        RqQueue(str(REDIS), queue_name=queue_name, job_timeout_s=600, retries=0).enqueue(video_id)
        deadline = time.monotonic() + 60
        while _video(url, video_id).progress_pct <= 0:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        # The machine loses the worker mid-encode: the worker, its work horse and ffmpeg, with no cleanup.
        assert first.poll() is None, log.read_text()[-3000:]
        _kill_tree(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        dead = _video(url, video_id)
        assert dead.state == VideoState.processing and dead.attempts == 1 and dead.progress_pct < 100
        second = _worker(env, log)
        try:
            deadline = time.monotonic() + 150
            while (v := _video(url, video_id)).state == VideoState.processing:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.5)
            assert v.state == VideoState.ready, (v.error, log.read_text()[-3000:])
            assert v.attempts == 2 and storage.exists(f"videos/{video_id}/hls/master.m3u8")
        finally:
            _kill_tree(second.pid, signal.SIGKILL)
            second.wait(timeout=20)
    finally:
        _kill_tree(first.pid, signal.SIGKILL)  # the work horse too, whatever happened above
