"""S3Storage against a real S3 HTTP server (moto's), through the minio SDK and plain HTTP."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from media.storage import (
    InvalidKeyError,
    ObjectNotFoundError,
    S3Storage,
    UploadedPart,
    UploadError,
    storage_from_config,
)

# No proxy from the environment: every request here must go to 127.0.0.1.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last


@pytest.fixture
def store(s3_endpoint: str) -> S3Storage:
    # A fresh bucket per test keeps tests independent; S3Storage creates it on first use.
    return S3Storage(s3_endpoint, "test-access", "test-secret", f"ieum-{uuid.uuid4().hex[:12]}", secure=False)


def _http_put(url: str, body: bytes) -> tuple[int, str]:
    # Set the type as a browser does for a Blob; urllib would otherwise claim a form body.
    headers = {"Content-Type": "application/octet-stream"}
    request = urllib.request.Request(url, data=body, method="PUT", headers=headers)
    with _http.open(request, timeout=30) as response:
        return response.status, response.headers["ETag"]


def _http_get(url: str) -> bytes:
    with _http.open(url, timeout=30) as response:
        body: bytes = response.read()
        return body


def test_bucket_is_created_on_first_use(store: S3Storage) -> None:
    assert not store._client.bucket_exists(store.bucket)

    assert store.list() == []
    assert store._client.bucket_exists(store.bucket)


def test_object_round_trip(store: S3Storage, tmp_path: Path) -> None:
    store.put_bytes("lectures/1/index.m3u8", b"#EXTM3U\n", "application/vnd.apple.mpegurl")
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(200_000))
    store.put_file("lectures/1/source.bin", source, "video/mp4")

    assert store.get_bytes("lectures/1/index.m3u8") == b"#EXTM3U\n"
    assert store.exists("lectures/1/source.bin")
    assert store.size("lectures/1/source.bin") == 200_000
    info = store.stat("lectures/1/index.m3u8")
    assert (info.size, info.content_type) == (8, "application/vnd.apple.mpegurl")
    with store.open("lectures/1/source.bin") as stream:
        assert stream.read(10) == source.read_bytes()[:10]
        assert stream.read() == source.read_bytes()[10:]

    dest = tmp_path / "copy.bin"
    store.get_to_file("lectures/1/source.bin", dest)
    assert dest.read_bytes() == source.read_bytes()


def test_unicode_key_round_trip(store: S3Storage) -> None:
    store.put_bytes("강의/1주차 소개.txt", "안녕하세요".encode(), "text/plain; charset=utf-8")

    assert store.list("강의/") == ["강의/1주차 소개.txt"]
    assert _http_get(store.presigned_get_url("강의/1주차 소개.txt", 60)).decode() == "안녕하세요"


def test_list_and_delete(store: S3Storage) -> None:
    for key in ["a/1.ts", "a/2.ts", "a/b/3.ts", "ab/4.ts", "c.txt"]:
        store.put_bytes(key, b"data")

    assert store.list() == ["a/1.ts", "a/2.ts", "a/b/3.ts", "ab/4.ts", "c.txt"]
    assert store.list("a/") == ["a/1.ts", "a/2.ts", "a/b/3.ts"]
    assert store.list("a") == ["a/1.ts", "a/2.ts", "a/b/3.ts", "ab/4.ts"]

    store.delete("a/b/3.ts")
    store.delete("a/b/3.ts")  # already gone: still fine
    assert store.list("a/") == ["a/1.ts", "a/2.ts"]
    assert not store.exists("a/b/3.ts")


def test_missing_object(store: S3Storage, tmp_path: Path) -> None:
    assert not store.exists("missing.txt")
    with pytest.raises(ObjectNotFoundError):
        store.size("missing.txt")
    with pytest.raises(ObjectNotFoundError):
        store.get_bytes("missing.txt")
    with pytest.raises(ObjectNotFoundError):
        store.get_to_file("missing.txt", tmp_path / "x")


def test_bad_keys_are_refused_before_any_request(store: S3Storage) -> None:
    for key in ["../x", "/abs", "a//b", ".hidden/x"]:
        with pytest.raises(InvalidKeyError):
            store.put_bytes(key, b"x")
        with pytest.raises(InvalidKeyError):
            store.presigned_get_url(key)


def test_presigned_get_url_over_plain_http(store: S3Storage) -> None:
    store.put_bytes("lectures/2/poster.jpg", b"\xff\xd8jpeg", "image/jpeg")
    url = store.presigned_get_url("lectures/2/poster.jpg", expires_s=120)

    assert "X-Amz-Signature=" in url and "X-Amz-Expires=120" in url
    with _http.open(url, timeout=30) as response:
        assert response.read() == b"\xff\xd8jpeg"
        assert response.headers["Content-Type"] == "image/jpeg"


def test_browser_style_multipart_upload(store: S3Storage) -> None:
    key = "uploads/lecture.mp4"
    chunks = [os.urandom(PART_SIZE), b"tail-of-the-file"]
    upload_id = store.create_multipart(key, "video/mp4")

    parts = []
    for number, chunk in enumerate(chunks, start=1):
        url = store.presigned_part_url(key, upload_id, number, expires_s=300)
        status, etag = _http_put(url, chunk)  # what the browser does with fetch(url, {method: "PUT"})
        assert status == 200
        assert etag.strip('"') == hashlib.md5(chunk).hexdigest()
        parts.append(UploadedPart(number, etag))

    assert [p.part_number for p in store.list_parts(key, upload_id)] == [1, 2]
    assert not store.exists(key)

    store.complete_multipart(key, upload_id, parts)

    assert store.size(key) == PART_SIZE + len(chunks[1])
    assert store.stat(key).content_type == "video/mp4"
    assert hashlib.sha256(store.get_bytes(key)).digest() == hashlib.sha256(b"".join(chunks)).digest()
    assert _http_get(store.presigned_get_url(key, 60))[-16:] == b"tail-of-the-file"


def test_server_side_parts_resume_and_complete(store: S3Storage) -> None:
    key = "recordings/r.webm"
    upload_id = store.create_multipart(key, "video/webm")
    first = store.put_part(key, upload_id, 1, b"a" * PART_SIZE)

    # An interrupted upload picks up from what the store already holds.
    assert store.list_parts(key, upload_id) == [UploadedPart(1, first)]
    second = store.put_part(key, upload_id, 2, b"b" * 10)
    store.complete_multipart(key, upload_id, [UploadedPart(1, first.strip('"')), UploadedPart(2, second)])

    assert store.size(key) == PART_SIZE + 10


def test_too_small_parts_and_abort(store: S3Storage) -> None:
    key = "uploads/small.bin"
    upload_id = store.create_multipart(key)
    first = store.put_part(key, upload_id, 1, b"tiny")
    second = store.put_part(key, upload_id, 2, b"tiny")

    with pytest.raises(UploadError):
        store.complete_multipart(key, upload_id, [UploadedPart(1, first), UploadedPart(2, second)])

    store.abort_multipart(key, upload_id)
    store.abort_multipart(key, upload_id)  # twice is fine
    with pytest.raises(UploadError):
        store.list_parts(key, upload_id)
    assert not store.exists(key)


def test_factory_builds_a_working_s3_store(s3_endpoint: str) -> None:
    store = storage_from_config(
        {
            "LMS_STORAGE": "s3",
            "LMS_S3_ENDPOINT": f"http://{s3_endpoint}",
            "LMS_S3_ACCESS_KEY": "test-access",
            "LMS_S3_SECRET_KEY": "test-secret",
            "LMS_S3_BUCKET": "ieum-factory",
            "LMS_S3_REGION": "us-east-1",
        }
    )
    store.put_bytes("hello.txt", b"hi", "text/plain")

    assert _http_get(store.presigned_get_url("hello.txt", 60)) == b"hi"
    with pytest.raises(urllib.error.HTTPError):
        _http_get(store.presigned_get_url("nope.txt", 60))
