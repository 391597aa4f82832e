"""A recorded lesson's whole object path on a real S3 HTTP server (moto): the browser's presigned part PUTs, the
upload joined, the worker's job fetching the source and storing the HLS renditions, the renditions fetched by
presigned URL, the video deleted with all its objects; and the bucket lifecycle rule for unfinished uploads."""

from __future__ import annotations

import urllib.request
import uuid
from pathlib import Path

import pytest

from courses import videos
from courses.models import VideoState
from media.storage import S3Storage, UploadedPart
from media.worker import run_job
from tests.video_support import make_clip, recorded_course

_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def store(s3_endpoint: str) -> S3Storage:
    return S3Storage(s3_endpoint, "test-access", "test-secret", f"ieum-{uuid.uuid4().hex[:12]}", secure=False)


def test_upload_process_play_and_delete_on_s3(session, world, store: S3Storage, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = make_clip(tmp_path / "c.mp4", seconds=3).read_bytes()
    course, lesson = recorded_course(session, world)
    plan = videos.start_upload(
        session, store, world["teacher"], lesson, course, filename="강의.mp4", size=len(data), max_bytes=10**9
    )
    video = plan.video
    assert video.source_key == f"videos/{video.id}/source" and plan.part_count == 1
    [url] = videos.part_urls(session, store, world["teacher"], video, course, [1]).values()
    put = urllib.request.Request(
        url, data=data, method="PUT", headers={"Content-Type": "application/octet-stream"}
    )
    with _http.open(put, timeout=30) as response:
        etag = response.headers["ETag"]
    videos.complete_upload(
        session, store, world["teacher"], video, course, [UploadedPart(1, etag)], max_bytes=10**9
    )
    assert video.state == VideoState.processing and video.size == len(data)
    session.commit()
    assert run_job(session, store, video.id, lease_s=60, max_attempts=3, requeue=lambda _id: None) == "ready"
    keys = store.list(video.hls_prefix)
    assert video.hls_prefix + "master.m3u8" in keys and any(k.endswith(".m4s") for k in keys)
    segment = next(k for k in keys if k.endswith(".m4s"))
    with _http.open(store.presigned_get_url(segment, 60), timeout=30) as response:
        assert response.status == 200 and len(response.read()) > 500
    videos.delete_video(session, store, world["teacher"], video, course)
    assert store.list(f"videos/{video.id}/") == []


def test_the_bucket_aborts_unfinished_uploads_itself(store: S3Storage) -> None:
    assert store.expire_unfinished_uploads("videos/", 1) is True
    config = store._client.get_bucket_lifecycle(store.bucket)
    [rule] = config.rules
    assert (
        rule.rule_filter.prefix == "videos/"
        and rule.abort_incomplete_multipart_upload.days_after_initiation == 1
    )
