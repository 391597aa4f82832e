"""LocalStorage and the storage factory: real files in a temp folder, no network."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from media.storage import (
    InvalidKeyError,
    LocalStorage,
    ObjectNotFoundError,
    S3Storage,
    UploadedPart,
    UploadError,
    sign_local_url,
    storage_from_config,
    validate_key,
    verify_local_url,
)

SECRET = "test-secret-key"


@pytest.fixture
def store(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "media", SECRET, min_part_size=4)


def _query(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return unquote(parts.path), {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_bytes_round_trip_with_content_type(store: LocalStorage) -> None:
    store.put_bytes("lectures/1/playlist.m3u8", b"#EXTM3U\n", "application/vnd.apple.mpegurl")

    assert store.get_bytes("lectures/1/playlist.m3u8") == b"#EXTM3U\n"
    assert store.exists("lectures/1/playlist.m3u8")
    assert store.size("lectures/1/playlist.m3u8") == 8
    assert store.stat("lectures/1/playlist.m3u8").content_type == "application/vnd.apple.mpegurl"
    with store.open("lectures/1/playlist.m3u8") as stream:
        assert stream.read(3) == b"#EX"


def test_file_round_trip_and_overwrite(store: LocalStorage, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 3_000_000)
    store.put_file("uploads/a.bin", src, "video/mp4")
    store.put_file("uploads/a.bin", src, "video/mp4")  # replacing is allowed

    dest = tmp_path / "out" / "a.bin"
    dest.parent.mkdir()
    store.get_to_file("uploads/a.bin", dest)

    assert dest.read_bytes() == src.read_bytes()
    assert store.size("uploads/a.bin") == 3_000_000
    assert list(dest.parent.iterdir()) == [dest]  # no temp files left behind


def test_hand_copied_file_gets_a_guessed_content_type(store: LocalStorage) -> None:
    path = store.path_for("posters/p.png")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x89PNG")

    assert store.stat("posters/p.png").content_type == "image/png"


def test_missing_objects(store: LocalStorage, tmp_path: Path) -> None:
    assert not store.exists("nope/missing.txt")
    with pytest.raises(ObjectNotFoundError):
        store.get_bytes("nope/missing.txt")
    with pytest.raises(ObjectNotFoundError):
        store.size("nope/missing.txt")
    with pytest.raises(ObjectNotFoundError):
        store.get_to_file("nope/missing.txt", tmp_path / "x")
    store.delete("nope/missing.txt")  # deleting a missing object is fine, as on S3


def test_list_and_delete(store: LocalStorage) -> None:
    for key in ["a/1.ts", "a/2.ts", "a/b/3.ts", "ab/4.ts", "c.txt"]:
        store.put_bytes(key, b"data")

    assert store.list() == ["a/1.ts", "a/2.ts", "a/b/3.ts", "ab/4.ts", "c.txt"]
    assert store.list("a/") == ["a/1.ts", "a/2.ts", "a/b/3.ts"]
    assert store.list("a") == ["a/1.ts", "a/2.ts", "a/b/3.ts", "ab/4.ts"]
    assert store.list("a/b/") == ["a/b/3.ts"]
    assert store.list("zzz/") == []

    store.delete("a/b/3.ts")
    assert store.list("a/") == ["a/1.ts", "a/2.ts"]
    assert not store.path_for("a/1.ts").parent.joinpath("b").exists()  # empty folder pruned


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../outside",
        "a/../../outside",
        "a/./b",
        "a//b",
        "folder/",
        ".ieum/tmp/x",
        "a\\b",
        "bad\x00name",
        "x" * 1025,
    ],
)
def test_bad_keys_are_refused(store: LocalStorage, key: str) -> None:
    with pytest.raises(InvalidKeyError):
        validate_key(key)
    with pytest.raises(InvalidKeyError):
        store.put_bytes(key, b"x")
    with pytest.raises(InvalidKeyError):
        store.exists(key)


def test_bad_prefixes_are_refused(store: LocalStorage) -> None:
    for prefix in ["/a", "../", "a/../", ".ieum/"]:
        with pytest.raises(InvalidKeyError):
            store.list(prefix)


def test_unicode_keys_work(store: LocalStorage) -> None:
    store.put_bytes("강의/1주차 소개.mp4", b"v")

    assert store.list("강의/") == ["강의/1주차 소개.mp4"]
    path, query = _query(store.presigned_get_url("강의/1주차 소개.mp4"))
    assert path == "/media/강의/1주차 소개.mp4"
    assert store.verify_local_url("강의/1주차 소개.mp4", query["exp"], query["sig"])


def test_object_and_folder_name_clash_is_a_clear_error(store: LocalStorage) -> None:
    store.put_bytes("a", b"x")
    with pytest.raises(Exception, match="clash"):
        store.put_bytes("a/b", b"y")


def test_presigned_get_url_verifies(store: LocalStorage) -> None:
    store.put_bytes("lectures/7/v.mp4", b"v")
    url = store.presigned_get_url("lectures/7/v.mp4", expires_s=60)
    path, query = _query(url)

    assert path == "/media/lectures/7/v.mp4"
    assert set(query) == {"exp", "sig"}
    assert abs(int(query["exp"]) - (time.time() + 60)) < 5
    assert store.verify_local_url("lectures/7/v.mp4", query["exp"], query["sig"])
    assert verify_local_url(SECRET, "lectures/7/v.mp4", query["exp"], query["sig"])


def test_presigned_get_url_rejects_expired_and_tampered(store: LocalStorage) -> None:
    _, query = _query(store.presigned_get_url("lectures/7/v.mp4", expires_s=60))
    exp, sig = query["exp"], query["sig"]

    assert not store.verify_local_url("lectures/7/v.mp4", exp, sig, now=int(exp) + 1)
    assert not store.verify_local_url("lectures/8/v.mp4", exp, sig)  # other key
    assert not store.verify_local_url("lectures/7/v.mp4", str(int(exp) + 3600), sig)  # extended
    assert not store.verify_local_url("lectures/7/v.mp4", exp, sig[:-1] + ("0" if sig[-1] != "0" else "1"))
    assert not store.verify_local_url("lectures/7/v.mp4", "soon", sig)
    assert not store.verify_local_url("../etc/passwd", exp, sig)
    assert not verify_local_url("another-secret", "lectures/7/v.mp4", exp, sig)
    # A download URL must not authorise uploading a part.
    assert not store.verify_local_url("lectures/7/v.mp4", exp, sig, method="PUT")


def test_signature_is_bound_to_its_purpose() -> None:
    # The raw secret is never used directly, so the media signature differs from a plain HMAC.
    import hmac

    plain = hmac.new(SECRET.encode(), b"GET\nk\n1\n\n", hashlib.sha256).hexdigest()
    assert sign_local_url(SECRET, "k", 1) != plain


def test_expiry_must_be_sane(store: LocalStorage) -> None:
    with pytest.raises(ValueError):
        store.presigned_get_url("a.txt", expires_s=0)
    with pytest.raises(ValueError):
        store.presigned_get_url("a.txt", expires_s=8 * 24 * 3600)


def test_multipart_upload_through_signed_part_urls(store: LocalStorage) -> None:
    key = "uploads/lecture.mp4"
    chunks = [b"first-part-", b"second-part-", b"end"]
    upload_id = store.create_multipart(key, "video/mp4")

    parts = []
    for number, chunk in reversed(list(enumerate(chunks, start=1))):  # browsers finish out of order
        path, query = _query(store.presigned_part_url(key, upload_id, number, expires_s=300))
        # What the app's PUT route does: check the signature, then store the body.
        assert path == f"/media/{key}"
        assert query["uploadId"] == upload_id and query["partNumber"] == str(number)
        assert store.verify_local_url(
            key,
            query["exp"],
            query["sig"],
            method="PUT",
            upload_id=query["uploadId"],
            part_number=query["partNumber"],
        )
        assert not store.verify_local_url(
            key, query["exp"], query["sig"], method="PUT", upload_id=upload_id, part_number=number + 1
        )
        etag = store.put_part(key, upload_id, number, chunk)
        assert etag == f'"{hashlib.md5(chunk).hexdigest()}"'
        parts.append(UploadedPart(number, etag))

    assert [p.part_number for p in store.list_parts(key, upload_id)] == [1, 2, 3]
    assert not store.exists(key)

    store.complete_multipart(key, upload_id, sorted(parts, key=lambda p: p.part_number))

    assert store.get_bytes(key) == b"".join(chunks)
    assert store.stat(key).content_type == "video/mp4"
    assert store.list() == [key]  # nothing of the upload is visible
    with pytest.raises(UploadError):
        store.list_parts(key, upload_id)  # finished uploads are gone


def test_multipart_checks_parts(store: LocalStorage) -> None:
    key = "uploads/x.bin"
    upload_id = store.create_multipart(key)
    etag1 = store.put_part(key, upload_id, 1, b"aaaaaa")
    etag2 = store.put_part(key, upload_id, 2, b"bb")

    with pytest.raises(UploadError, match="ETag"):
        store.complete_multipart(key, upload_id, [UploadedPart(1, etag2), UploadedPart(2, etag2)])
    with pytest.raises(UploadError, match="never uploaded"):
        store.complete_multipart(key, upload_id, [UploadedPart(1, etag1), UploadedPart(3, etag2)])
    with pytest.raises(UploadError, match="ascending"):
        store.complete_multipart(key, upload_id, [UploadedPart(2, etag2), UploadedPart(1, etag1)])
    with pytest.raises(UploadError, match="smaller"):
        store.complete_multipart(key, upload_id, [UploadedPart(2, etag2), UploadedPart(3, etag2)])
    with pytest.raises(UploadError):
        store.complete_multipart(key, upload_id, [])
    with pytest.raises(UploadError):
        store.put_part(key, upload_id, 0, b"x")
    with pytest.raises(UploadError):
        store.put_part("uploads/other.bin", upload_id, 1, b"x")  # upload belongs to another key
    with pytest.raises(UploadError):
        store.put_part(key, "../../etc", 1, b"x")

    # The ETag may come back without quotes, as some clients strip them.
    store.complete_multipart(key, upload_id, [UploadedPart(1, etag1.strip('"')), UploadedPart(2, etag2)])
    assert store.get_bytes(key) == b"aaaaaabb"


def test_abort_multipart(store: LocalStorage) -> None:
    key = "uploads/y.bin"
    upload_id = store.create_multipart(key)
    store.put_part(key, upload_id, 1, b"zzzz")

    store.abort_multipart(key, upload_id)
    store.abort_multipart(key, upload_id)  # twice is fine

    with pytest.raises(UploadError):
        store.put_part(key, upload_id, 2, b"zzzz")
    assert not store.exists(key)
    assert not any((store.root / ".ieum" / "uploads").iterdir())


def test_streamed_part_body(store: LocalStorage) -> None:
    import io

    key = "uploads/s.bin"
    upload_id = store.create_multipart(key)
    etag = store.put_part(key, upload_id, 1, io.BytesIO(b"streamed"))
    store.complete_multipart(key, upload_id, [UploadedPart(1, etag)])
    assert store.get_bytes(key) == b"streamed"


# --- factory ------------------------------------------------------------------------------------


def test_factory_local(tmp_path: Path) -> None:
    store = storage_from_config({"LMS_STORAGE_DIR": str(tmp_path), "LMS_SECRET_KEY": "s"})
    assert isinstance(store, LocalStorage)
    assert store.root == tmp_path.resolve()


def test_factory_s3_does_not_connect() -> None:
    store = storage_from_config(
        {
            "LMS_STORAGE": "S3",
            "LMS_S3_ENDPOINT": "http://127.0.0.1:1",  # nothing listens; constructing must not care
            "LMS_S3_ACCESS_KEY": "ak",
            "LMS_S3_SECRET_KEY": "sk",
            "LMS_S3_BUCKET": "ieum-media",
            "LMS_S3_REGION": "ap-northeast-2",
        }
    )
    assert isinstance(store, S3Storage)
    assert store.bucket == "ieum-media"
    url = store.presigned_get_url("a/b.mp4", 60)  # presigning is offline with a fixed region
    assert url.startswith("http://127.0.0.1:1/ieum-media/a/b.mp4?")
    assert "ap-northeast-2" in url


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"LMS_STORAGE": "ftp"}, "LMS_STORAGE must be"),
        ({"LMS_SECRET_KEY": "s"}, "LMS_STORAGE_DIR"),
        ({"LMS_STORAGE_DIR": "/tmp/x"}, "LMS_SECRET_KEY"),
        ({"LMS_STORAGE": "s3"}, "LMS_S3_ENDPOINT"),
        ({"LMS_STORAGE": "s3", "LMS_S3_ENDPOINT": "minio:9000"}, "LMS_S3_ACCESS_KEY"),
        (
            {"LMS_STORAGE": "s3", "LMS_S3_ENDPOINT": "ftp://minio:9000"},
            "LMS_S3_ENDPOINT must be",
        ),
    ],
)
def test_factory_reports_missing_or_invalid_settings(config: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        storage_from_config(config)


def _s3_config(**overrides: str) -> dict[str, str]:
    config = {
        "LMS_STORAGE": "s3",
        "LMS_S3_ENDPOINT": "minio:9000",
        "LMS_S3_ACCESS_KEY": "ak",
        "LMS_S3_SECRET_KEY": "sk",
        "LMS_S3_BUCKET": "ieum",
    }
    config.update(overrides)
    return config


def test_factory_validates_s3_details() -> None:
    with pytest.raises(ValueError, match="LMS_S3_BUCKET"):
        storage_from_config(_s3_config(LMS_S3_BUCKET="Bad_Bucket"))
    with pytest.raises(ValueError, match="LMS_S3_SECURE must be"):
        storage_from_config(_s3_config(LMS_S3_SECURE="maybe"))
    with pytest.raises(ValueError, match="contradicts"):
        storage_from_config(_s3_config(LMS_S3_ENDPOINT="https://minio:9000", LMS_S3_SECURE="false"))

    insecure = storage_from_config(_s3_config(LMS_S3_SECURE="0"))
    assert isinstance(insecure, S3Storage)
    assert insecure.presigned_get_url("k", 60).startswith("http://minio:9000/")

    public = storage_from_config(_s3_config(LMS_S3_PUBLIC_ENDPOINT="https://files.example.org"))
    assert public.presigned_get_url("k", 60).startswith("https://files.example.org/ieum/k?")


def test_the_local_backend_serves_its_own_signed_urls(store: LocalStorage) -> None:
    from media.storage import ObjectNotFoundError, SignatureError

    store.put_bytes("lectures/1/a.txt", b"hello", "text/plain")
    path_part, query = _query(store.presigned_get_url("lectures/1/a.txt", 60))
    key = path_part.removeprefix("/media/")
    path, info = store.signed_file(key, query)
    assert path.read_bytes() == b"hello" and info.content_type == "text/plain"
    with pytest.raises(SignatureError):
        store.signed_file(key, {**query, "sig": "0" * 64})
    store.delete("lectures/1/a.txt")
    with pytest.raises(ObjectNotFoundError):
        store.signed_file(key, query)


def test_a_backend_with_its_own_urls_serves_nothing_through_the_app() -> None:
    from media.storage import ObjectNotFoundError, S3Storage

    s3 = S3Storage("127.0.0.1:9", "k", "s" * 8, "ieum", secure=False)
    with pytest.raises(ObjectNotFoundError):
        s3.signed_file("lectures/1/a.txt", {"exp": "1", "sig": "x"})
