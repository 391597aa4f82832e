"""Object storage behind one small interface: a local folder (embedded default) or S3 / MinIO.

Keys are S3-style paths (``lectures/42/source.mp4``). Both backends accept exactly the same keys, so
code written against the local folder keeps working on MinIO. Browser uploads use S3's multipart
protocol on both backends: the app creates an upload, hands out one presigned URL per part, the
browser PUTs each part and reports the ``ETag`` headers back, and the app completes the upload.
On the local backend the presigned URLs point at the app itself (``/media/<key>?...``) and carry an
HMAC signature that the app's route checks with :func:`verify_local_url`.
"""

from __future__ import annotations

import abc
import builtins
import hashlib
import hmac
import io
import json
import mimetypes
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final
from urllib.parse import quote, urlencode, urlsplit

if TYPE_CHECKING:  # the SDK is imported lazily so that a local-only install never loads it
    import urllib3
    from minio import Minio

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "InvalidKeyError",
    "LocalStorage",
    "ObjectInfo",
    "ObjectNotFoundError",
    "S3Storage",
    "Storage",
    "StorageError",
    "UploadError",
    "UploadedPart",
    "sign_local_url",
    "storage_from_config",
    "validate_key",
    "validate_prefix",
    "verify_local_url",
]

DEFAULT_CONTENT_TYPE: Final = "application/octet-stream"
MAX_KEY_BYTES: Final = 1024  # S3's limit on object names
MAX_PART_NUMBER: Final = 10_000  # S3's limit on parts per upload
S3_MIN_PART_SIZE: Final = 5 * 1024 * 1024  # every part but the last must be at least this on S3
MAX_PRESIGN_S: Final = 7 * 24 * 3600  # SigV4 refuses longer-lived URLs; keep both backends alike
_COPY_CHUNK: Final = 1024 * 1024
_UPLOAD_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")
_BUCKET_RE: Final = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_NOT_FOUND_CODES: Final = frozenset({"NoSuchKey", "NotFound", "NoSuchObject", "ResourceNotFound"})


class StorageError(Exception):
    """Base class for storage failures the caller can act on."""


class InvalidKeyError(StorageError, ValueError):
    """The object key (or prefix) is not acceptable to every backend."""


class ObjectNotFoundError(StorageError, LookupError):
    """No object is stored under the key."""


class UploadError(StorageError):
    """A multipart upload is unknown, or its parts do not match what was uploaded."""


@dataclass(frozen=True, slots=True)
class UploadedPart:
    """One uploaded part of a multipart upload, as the browser reports it back."""

    part_number: int
    etag: str


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What the store knows about one object."""

    key: str
    size: int
    content_type: str


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe object key, else raise :class:`InvalidKeyError`."""
    if not isinstance(key, str) or not key:
        raise InvalidKeyError("object key must be a non-empty string")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidKeyError(f"object key is longer than {MAX_KEY_BYTES} bytes")
    if key.startswith("/"):
        raise InvalidKeyError(f"object key must not start with '/': {key!r}")
    if key.endswith("/"):
        raise InvalidKeyError(f"object key must not end with '/': {key!r}")
    _check_key_chars(key)
    for segment in key.split("/"):
        if not segment:
            raise InvalidKeyError(f"object key has an empty path segment: {key!r}")
        # '.' and '..' would escape or alias paths on the local backend; other dot-names are
        # refused too because the local backend keeps its own bookkeeping under '.ieum/'.
        if segment.startswith("."):
            raise InvalidKeyError(f"object key segments must not start with '.': {key!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is a safe listing prefix ('' lists everything)."""
    if not isinstance(prefix, str):
        raise InvalidKeyError("prefix must be a string")
    if not prefix:
        return prefix
    if prefix.startswith("/"):
        raise InvalidKeyError(f"prefix must not start with '/': {prefix!r}")
    _check_key_chars(prefix)
    segments = prefix.split("/")
    # The last segment may be partial ("lectures/4" lists lectures/4*), but complete segments
    # follow the key rules.
    for segment in segments[:-1]:
        if not segment or segment.startswith("."):
            raise InvalidKeyError(f"prefix has an empty or dot path segment: {prefix!r}")
    if segments[-1].startswith("."):
        raise InvalidKeyError(f"prefix segments must not start with '.': {prefix!r}")
    return prefix


def _check_key_chars(value: str) -> None:
    if "\\" in value:
        raise InvalidKeyError(f"object key must use '/' as separator, not '\\': {value!r}")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise InvalidKeyError(f"object key must not contain control characters: {value!r}")


def _check_part_number(part_number: int) -> int:
    if not isinstance(part_number, int) or not 1 <= part_number <= MAX_PART_NUMBER:
        raise UploadError(f"part number must be between 1 and {MAX_PART_NUMBER}, got {part_number!r}")
    return part_number


def _check_expiry(expires_s: int) -> int:
    if not isinstance(expires_s, int) or not 1 <= expires_s <= MAX_PRESIGN_S:
        raise ValueError(f"expires_s must be between 1 and {MAX_PRESIGN_S} seconds, got {expires_s!r}")
    return expires_s


def _check_parts(parts: Sequence[UploadedPart]) -> list[UploadedPart]:
    if not parts:
        raise UploadError("a multipart upload needs at least one part")
    numbers = [_check_part_number(p.part_number) for p in parts]
    if numbers != sorted(set(numbers)):
        raise UploadError("parts must be listed once each in ascending part-number order")
    return list(parts)


def _bare_etag(etag: str) -> str:
    # Browsers see the ETag header with its quotes; S3 accepts both forms, so compare without.
    return etag.strip().strip('"')


class Storage(abc.ABC):
    """Where lecture videos, HLS renditions, recordings and attachments live."""

    @abc.abstractmethod
    def put_file(
        self, key: str, path: str | os.PathLike[str], content_type: str = DEFAULT_CONTENT_TYPE
    ) -> None:
        """Store the file at ``path`` under ``key``, replacing any object there."""

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> None:
        """Store ``data`` under ``key``, replacing any object there."""

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Open the object for streaming reads; close it (or use ``with``) when done."""

    def get_bytes(self, key: str) -> bytes:
        """Return the whole object; meant for small objects such as playlists."""
        with self.open(key) as stream:
            return stream.read()

    @abc.abstractmethod
    def get_to_file(self, key: str, path: str | os.PathLike[str]) -> None:
        """Download the object to ``path`` (written atomically)."""

    @abc.abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Return size and content type, or raise :class:`ObjectNotFoundError`."""

    def exists(self, key: str) -> bool:
        """Tell whether an object is stored under ``key``."""
        try:
            self.stat(key)
        except ObjectNotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        """Return the object's size in bytes, or raise :class:`ObjectNotFoundError`."""
        return self.stat(key).size

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; removing a missing object is not an error (as on S3)."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Return the sorted keys that start with ``prefix``."""

    @abc.abstractmethod
    def presigned_get_url(self, key: str, expires_s: int = 3600) -> str:
        """Return a URL that lets a browser GET the object until it expires."""

    @abc.abstractmethod
    def create_multipart(self, key: str, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        """Start a multipart upload to ``key`` and return its upload id."""

    @abc.abstractmethod
    def presigned_part_url(self, key: str, upload_id: str, part_number: int, expires_s: int = 3600) -> str:
        """Return a URL the browser PUTs one part to; the response's ETag header names the part."""

    @abc.abstractmethod
    def put_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> str:
        """Upload one part from the server side and return its ETag."""

    @abc.abstractmethod
    def list_parts(self, key: str, upload_id: str) -> builtins.list[UploadedPart]:
        """Return the parts uploaded so far, so that an interrupted upload can resume."""

    @abc.abstractmethod
    def complete_multipart(self, key: str, upload_id: str, parts: Sequence[UploadedPart]) -> None:
        """Join the parts (ascending part numbers, ETags as uploaded) into the object."""

    @abc.abstractmethod
    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Discard an unfinished upload and its parts; aborting twice is not an error."""


# --- local folder -------------------------------------------------------------------------------


def _url_signing_key(secret: str | bytes) -> bytes:
    # Derive a purpose-bound key so a media URL signature can never double as, say, a session
    # cookie signature made with the same LMS_SECRET_KEY.
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not raw:
        raise ValueError("a non-empty secret is needed to sign media URLs")
    return hmac.new(raw, b"ieum.media.url.v1", hashlib.sha256).digest()


def _url_message(method: str, key: str, exp: int, upload_id: str | None, part_number: int | None) -> bytes:
    fields = [method.upper(), key, str(exp), upload_id or "", "" if part_number is None else str(part_number)]
    return "\n".join(fields).encode("utf-8")


def sign_local_url(
    secret: str | bytes,
    key: str,
    exp: int,
    *,
    method: str = "GET",
    upload_id: str | None = None,
    part_number: int | None = None,
) -> str:
    """Return the hex HMAC-SHA256 signature of a local media URL."""
    message = _url_message(method, key, exp, upload_id, part_number)
    return hmac.new(_url_signing_key(secret), message, hashlib.sha256).hexdigest()


def verify_local_url(
    secret: str | bytes,
    key: str,
    exp: int | str,
    sig: str,
    *,
    method: str = "GET",
    upload_id: str | None = None,
    part_number: int | str | None = None,
    now: float | None = None,
) -> bool:
    """Tell whether ``sig`` is a valid, unexpired signature for the URL's key and query."""
    try:
        exp_int = int(exp)
        part_int = None if part_number is None else int(part_number)
    except (TypeError, ValueError):
        return False
    if (time.time() if now is None else now) > exp_int:
        return False
    if not isinstance(sig, str):
        return False
    expected = sign_local_url(secret, key, exp_int, method=method, upload_id=upload_id, part_number=part_int)
    return hmac.compare_digest(expected, sig)


class LocalStorage(Storage):
    """Objects as files under ``root_dir``; signed URLs are served by the app under ``url_prefix``.

    Bookkeeping (content types, temp files, unfinished uploads) lives in ``root_dir/.ieum``, which
    no valid key can reach. Unlike S3, a folder cannot hold both an object ``a`` and ``a/b``.
    """

    def __init__(
        self,
        root_dir: str | os.PathLike[str],
        secret: str | bytes,
        *,
        url_prefix: str = "/media",
        min_part_size: int = S3_MIN_PART_SIZE,
    ) -> None:
        self.root = Path(root_dir).resolve()
        self._signing_secret = secret
        _url_signing_key(secret)  # fail at construction, not at the first URL
        self.url_prefix = "/" + url_prefix.strip("/")
        # Enforce S3's minimum part size by default so that browser code tested against the
        # embedded backend does not break on MinIO.
        self.min_part_size = min_part_size
        self._internal = self.root / ".ieum"

    # paths

    def path_for(self, key: str) -> Path:
        """Return the file that holds ``key`` (for the app's send_file), existing or not."""
        return self.root.joinpath(*validate_key(key).split("/"))

    def _meta_path(self, key: str) -> Path:
        return self._internal.joinpath("meta", *key.split("/")).with_name(key.rsplit("/", 1)[-1] + ".json")

    def _upload_dir(self, upload_id: str) -> Path:
        if not isinstance(upload_id, str) or not _UPLOAD_ID_RE.match(upload_id):
            raise UploadError(f"unknown upload id {upload_id!r}")
        return self._internal / "uploads" / upload_id

    def _tmp_dir(self) -> Path:
        tmp = self._internal / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp

    @contextmanager
    def _atomic_target(self, target: Path) -> Iterator[BinaryIO]:
        # Write beside the store and rename into place so readers never see half an object.
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp_dir(), prefix="put-")
        try:
            with os.fdopen(fd, "wb") as out:
                yield out
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_dir():
                    raise StorageError(f"a folder of objects already uses the name {target.name!r}")
                os.replace(tmp_name, target)
            except (FileExistsError, NotADirectoryError) as exc:
                raise StorageError(f"key clashes with an existing object path: {exc}") from exc
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def _write_meta(self, key: str, content_type: str) -> None:
        meta = self._meta_path(key)
        meta.parent.mkdir(parents=True, exist_ok=True)
        with self._atomic_target(meta) as out:
            out.write(json.dumps({"content_type": content_type}).encode("utf-8"))

    # objects

    def put_file(
        self, key: str, path: str | os.PathLike[str], content_type: str = DEFAULT_CONTENT_TYPE
    ) -> None:
        """Store the file at ``path`` under ``key``, replacing any object there."""
        target = self.path_for(key)
        with open(path, "rb") as src, self._atomic_target(target) as out:
            shutil.copyfileobj(src, out, _COPY_CHUNK)
        self._write_meta(key, content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> None:
        """Store ``data`` under ``key``, replacing any object there."""
        target = self.path_for(key)
        with self._atomic_target(target) as out:
            out.write(data)
        self._write_meta(key, content_type)

    def open(self, key: str) -> BinaryIO:
        """Open the object for streaming reads."""
        path = self.path_for(key)
        try:
            return open(path, "rb")  # noqa: SIM115 - the caller owns the stream
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFoundError(key) from None

    def get_to_file(self, key: str, path: str | os.PathLike[str]) -> None:
        """Copy the object to ``path`` (written atomically)."""
        dest = Path(path)
        with self.open(key) as src:
            fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
            try:
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(src, out, _COPY_CHUNK)
                os.replace(tmp_name, dest)
            finally:
                if os.path.exists(tmp_name):
                    os.unlink(tmp_name)

    def stat(self, key: str) -> ObjectInfo:
        """Return size and content type, or raise :class:`ObjectNotFoundError`."""
        path = self.path_for(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFoundError(key) from None
        if not path.is_file():
            raise ObjectNotFoundError(key)
        try:
            content_type = str(json.loads(self._meta_path(key).read_bytes())["content_type"])
        except (OSError, ValueError, KeyError):
            # Files copied in by hand have no metadata; guess like a web server would.
            content_type = mimetypes.guess_type(key)[0] or DEFAULT_CONTENT_TYPE
        return ObjectInfo(key=key, size=st.st_size, content_type=content_type)

    def delete(self, key: str) -> None:
        """Remove the object and any folders it leaves empty."""
        path = self.path_for(key)
        for victim in (path, self._meta_path(key)):
            try:
                victim.unlink()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                continue
            self._prune_empty_dirs(victim.parent)

    def _prune_empty_dirs(self, folder: Path) -> None:
        while folder != self.root and folder != self._internal and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:  # not empty, or already gone
                return
            folder = folder.parent

    def list(self, prefix: str = "") -> list[str]:
        """Return the sorted keys that start with ``prefix``."""
        validate_prefix(prefix)
        folder = prefix.rpartition("/")[0]
        start = self.root.joinpath(*folder.split("/")) if folder else self.root
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            base = "" if rel == "." else rel + "/"
            keys.extend(base + name for name in filenames if not name.startswith("."))
        return sorted(k for k in keys if k.startswith(prefix))

    # signed URLs

    def _signed_url(self, key: str, exp: int, query: dict[str, str], *, method: str) -> str:
        upload_id = query.get("uploadId")
        part = query.get("partNumber")
        sig = sign_local_url(
            self._signing_secret,
            key,
            exp,
            method=method,
            upload_id=upload_id,
            part_number=None if part is None else int(part),
        )
        params = {**query, "exp": str(exp), "sig": sig}
        return f"{self.url_prefix}/{quote(key, safe='/')}?{urlencode(params)}"

    def presigned_get_url(self, key: str, expires_s: int = 3600) -> str:
        """Return ``/media/<key>?exp=..&sig=..``; the app serves it after :meth:`verify_local_url`."""
        validate_key(key)
        exp = int(time.time()) + _check_expiry(expires_s)
        return self._signed_url(key, exp, {}, method="GET")

    def verify_local_url(
        self,
        key: str,
        exp: int | str,
        sig: str,
        *,
        method: str = "GET",
        upload_id: str | None = None,
        part_number: int | str | None = None,
        now: float | None = None,
    ) -> bool:
        """Check a URL made by this store (GET for downloads, PUT with upload id and part for parts)."""
        try:
            validate_key(key)
        except InvalidKeyError:
            return False
        return verify_local_url(
            self._signing_secret,
            key,
            exp,
            sig,
            method=method,
            upload_id=upload_id,
            part_number=part_number,
            now=now,
        )

    # multipart uploads

    def _upload_info(self, key: str, upload_id: str) -> tuple[Path, dict[str, str]]:
        folder = self._upload_dir(upload_id)
        try:
            info: dict[str, str] = json.loads((folder / "upload.json").read_bytes())
        except FileNotFoundError:
            raise UploadError(f"unknown upload id {upload_id!r}") from None
        if info.get("key") != key:
            raise UploadError(f"upload {upload_id!r} is not for key {key!r}")
        return folder, info

    def create_multipart(self, key: str, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        """Start an upload whose parts are kept under ``.ieum/uploads/<id>`` until completed."""
        validate_key(key)
        upload_id = secrets.token_hex(16)
        folder = self._upload_dir(upload_id)
        folder.mkdir(parents=True)
        info = {"key": key, "content_type": content_type, "created": str(int(time.time()))}
        (folder / "upload.json").write_text(json.dumps(info), encoding="utf-8")
        return upload_id

    def presigned_part_url(self, key: str, upload_id: str, part_number: int, expires_s: int = 3600) -> str:
        """Return ``/media/<key>?uploadId=..&partNumber=..&exp=..&sig=..`` for a browser PUT."""
        validate_key(key)
        self._upload_dir(upload_id)
        _check_part_number(part_number)
        exp = int(time.time()) + _check_expiry(expires_s)
        query = {"uploadId": upload_id, "partNumber": str(part_number)}
        return self._signed_url(key, exp, query, method="PUT")

    def put_part(self, key: str, upload_id: str, part_number: int, data: bytes | BinaryIO) -> str:
        """Store one part (bytes, or a stream such as a request body) and return its quoted ETag."""
        validate_key(key)
        _check_part_number(part_number)
        folder, _ = self._upload_info(key, upload_id)
        digest = hashlib.md5(usedforsecurity=False)
        with self._atomic_target(folder / f"part-{part_number:05d}") as out:
            if isinstance(data, bytes | bytearray | memoryview):
                digest.update(data)
                out.write(data)
            else:
                while chunk := data.read(_COPY_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        return f'"{digest.hexdigest()}"'

    def list_parts(self, key: str, upload_id: str) -> builtins.list[UploadedPart]:
        """Return the parts stored so far, in part-number order."""
        validate_key(key)
        folder, _ = self._upload_info(key, upload_id)
        parts = []
        for part_file in sorted(folder.glob("part-*")):
            parts.append(UploadedPart(int(part_file.name[5:]), f'"{_md5_file(part_file)}"'))
        return parts

    def complete_multipart(self, key: str, upload_id: str, parts: Sequence[UploadedPart]) -> None:
        """Check each part's ETag and size, then concatenate the parts into the object."""
        validate_key(key)
        wanted = _check_parts(parts)
        folder, info = self._upload_info(key, upload_id)
        files = []
        for index, part in enumerate(wanted):
            part_file = folder / f"part-{part.part_number:05d}"
            if not part_file.is_file():
                raise UploadError(f"part {part.part_number} was never uploaded")
            if _md5_file(part_file) != _bare_etag(part.etag):
                raise UploadError(f"part {part.part_number} does not match its ETag")
            if index < len(wanted) - 1 and part_file.stat().st_size < self.min_part_size:
                raise UploadError(f"part {part.part_number} is smaller than {self.min_part_size} bytes")
            files.append(part_file)
        with self._atomic_target(self.path_for(key)) as out:
            for part_file in files:
                with part_file.open("rb") as src:
                    shutil.copyfileobj(src, out, _COPY_CHUNK)
        self._write_meta(key, info.get("content_type", DEFAULT_CONTENT_TYPE))
        shutil.rmtree(folder, ignore_errors=True)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Discard the upload's parts."""
        validate_key(key)
        try:
            folder, _ = self._upload_info(key, upload_id)
        except UploadError:
            return
        shutil.rmtree(folder, ignore_errors=True)


def _md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as src:
        while chunk := src.read(_COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- S3 / MinIO ---------------------------------------------------------------------------------


class _ResponseStream(io.RawIOBase):
    """A readable stream over an SDK response that hands its connection back to the pool."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._response = response

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._response.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._response.close()
            self._response.release_conn()
        super().close()


class S3Storage(Storage):
    """Objects in one S3 bucket, reached with the ``minio`` SDK (MinIO in production)."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = True,
        region: str = "us-east-1",
        *,
        public_endpoint: str | None = None,
        public_secure: bool | None = None,
        http_client: urllib3.PoolManager | None = None,
    ) -> None:
        from minio import Minio

        self.bucket = bucket
        self.region = region
        # Minio() only parses its arguments; nothing is contacted until the first request.
        self._client: Minio = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http_client,
        )
        # Browsers may reach the store under another name than the app does (minio:9000 inside
        # compose, files.example.org outside). SigV4 signs the host, so presign with a client for
        # the public name; with the region fixed, presigning never makes a request.
        self._presigner: Minio = self._client
        if public_endpoint:
            self._presigner = Minio(
                public_endpoint,
                access_key=access_key,
                secret_key=secret_key,
                secure=secure if public_secure is None else public_secure,
                region=region,
            )
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (done once, on first use)."""
        if self._bucket_ready:
            return
        with self._bucket_lock:
            if not self._bucket_ready:
                if not self._client.bucket_exists(self.bucket):
                    from minio.error import S3Error

                    try:
                        self._client.make_bucket(self.bucket)
                    except S3Error as exc:  # another process won the race
                        if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                            raise
                self._bucket_ready = True

    def _key(self, key: str) -> str:
        validate_key(key)
        self.ensure_bucket()
        return key

    def put_file(
        self, key: str, path: str | os.PathLike[str], content_type: str = DEFAULT_CONTENT_TYPE
    ) -> None:
        """Upload the file (the SDK switches to multipart for large files)."""
        self._client.fput_object(self.bucket, self._key(key), os.fspath(path), content_type=content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> None:
        """Upload ``data`` as one object."""
        self._client.put_object(
            self.bucket, self._key(key), io.BytesIO(data), len(data), content_type=content_type
        )

    def open(self, key: str) -> BinaryIO:
        """Stream the object; closing the stream returns the connection to the pool."""
        from minio.error import S3Error

        try:
            response = self._client.get_object(self.bucket, self._key(key))
        except S3Error as exc:
            raise _translate(exc, key) from exc
        return io.BufferedReader(_ResponseStream(response), _COPY_CHUNK)

    def get_to_file(self, key: str, path: str | os.PathLike[str]) -> None:
        """Download to ``path``; the SDK writes a temp file and renames it."""
        from minio.error import S3Error

        try:
            self._client.fget_object(self.bucket, self._key(key), os.fspath(path))
        except S3Error as exc:
            raise _translate(exc, key) from exc

    def stat(self, key: str) -> ObjectInfo:
        """HEAD the object."""
        from minio.error import S3Error

        try:
            obj = self._client.stat_object(self.bucket, self._key(key))
        except S3Error as exc:
            raise _translate(exc, key) from exc
        return ObjectInfo(key=key, size=obj.size or 0, content_type=obj.content_type or DEFAULT_CONTENT_TYPE)

    def delete(self, key: str) -> None:
        """Delete the object (S3 answers success for missing keys too)."""
        self._client.remove_object(self.bucket, self._key(key))

    def list(self, prefix: str = "") -> list[str]:
        """List keys under ``prefix`` (the SDK follows continuation tokens)."""
        validate_prefix(prefix)
        self.ensure_bucket()
        objects = self._client.list_objects(self.bucket, prefix=prefix or None, recursive=True)
        return sorted(o.object_name for o in objects if o.object_name and not o.is_dir)

    def presigned_get_url(self, key: str, expires_s: int = 3600) -> str:
        """Return a SigV4-presigned GET URL on the public endpoint."""
        validate_key(key)
        return self._presigner.presigned_get_object(
            self.bucket, key, expires=timedelta(seconds=_check_expiry(expires_s))
        )

    def create_multipart(self, key: str, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        """Start a multipart upload (CreateMultipartUpload)."""
        return self._client._create_multipart_upload(
            self.bucket, self._key(key), {"Content-Type": content_type}
        )

    def presigned_part_url(self, key: str, upload_id: str, part_number: int, expires_s: int = 3600) -> str:
        """Return a presigned UploadPart URL for a browser PUT."""
        validate_key(key)
        _check_part_number(part_number)
        return self._presigner.get_presigned_url(
            "PUT",
            self.bucket,
            key,
            expires=timedelta(seconds=_check_expiry(expires_s)),
            extra_query_params={"uploadId": upload_id, "partNumber": str(part_number)},
        )

    def put_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> str:
        """Upload one part (UploadPart) and return its ETag."""
        from minio.error import S3Error

        _check_part_number(part_number)
        try:
            etag = self._client._upload_part(self.bucket, self._key(key), data, None, upload_id, part_number)
        except S3Error as exc:
            raise _translate(exc, key) from exc
        return f'"{_bare_etag(etag)}"'

    def list_parts(self, key: str, upload_id: str) -> builtins.list[UploadedPart]:
        """Return the parts uploaded so far (ListParts, following pagination)."""
        from minio.error import S3Error

        key = self._key(key)
        parts: builtins.list[UploadedPart] = []
        marker: str | None = None
        while True:
            try:
                result = self._client._list_parts(self.bucket, key, upload_id, part_number_marker=marker)
            except S3Error as exc:
                raise _translate(exc, key) from exc
            parts.extend(UploadedPart(p.part_number, f'"{_bare_etag(p.etag)}"') for p in result.parts)
            if not result.is_truncated or result.next_part_number_marker is None:
                return parts
            marker = str(result.next_part_number_marker)

    def complete_multipart(self, key: str, upload_id: str, parts: Sequence[UploadedPart]) -> None:
        """Join the parts (CompleteMultipartUpload)."""
        from minio.datatypes import Part
        from minio.error import S3Error

        wanted = _check_parts(parts)
        try:
            self._client._complete_multipart_upload(
                self.bucket,
                self._key(key),
                upload_id,
                [Part(p.part_number, _bare_etag(p.etag)) for p in wanted],
            )
        except S3Error as exc:
            raise _translate(exc, key) from exc

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Discard the upload (AbortMultipartUpload); an unknown upload is ignored."""
        from minio.error import S3Error

        try:
            self._client._abort_multipart_upload(self.bucket, self._key(key), upload_id)
        except S3Error as exc:
            if exc.code != "NoSuchUpload":
                raise _translate(exc, key) from exc


def _translate(exc: Exception, key: str) -> Exception:
    code = getattr(exc, "code", None)
    if code in _NOT_FOUND_CODES:
        return ObjectNotFoundError(key)
    if code in {"NoSuchUpload", "InvalidPart", "InvalidPartOrder", "EntityTooSmall"}:
        return UploadError(f"{code}: {getattr(exc, 'message', '') or exc}")
    return exc


# --- configuration ------------------------------------------------------------------------------

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


def _setting(config: Mapping[str, Any], name: str) -> str | None:
    value = config.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _required(config: Mapping[str, Any], name: str, why: str) -> str:
    value = _setting(config, name)
    if value is None:
        raise ValueError(f"{name} must be set {why}")
    return value


def _parse_bool(config: Mapping[str, Any], name: str) -> bool | None:
    value = config.get(name)
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text == "":
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def _parse_endpoint(raw: str, name: str) -> tuple[str, bool | None]:
    """Split ``host:port`` or ``http(s)://host:port`` into the host part and the scheme's TLS flag."""
    if "://" not in raw:
        if "/" in raw:
            raise ValueError(f"{name} must be host[:port] or a URL without a path, got {raw!r}")
        return raw, None
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
        raise ValueError(f"{name} must be host[:port] or http(s)://host[:port], got {raw!r}")
    return parts.netloc, parts.scheme == "https"


def storage_from_config(config: Mapping[str, Any]) -> Storage:
    """Build the configured backend from ``LMS_*`` settings (Flask config or ``os.environ``)."""
    kind = (_setting(config, "LMS_STORAGE") or "local").lower()
    if kind == "local":
        root = _required(config, "LMS_STORAGE_DIR", "to the folder that holds media when LMS_STORAGE=local")
        secret = _required(config, "LMS_SECRET_KEY", "to sign media URLs when LMS_STORAGE=local")
        return LocalStorage(root, secret)
    if kind != "s3":
        raise ValueError(f"LMS_STORAGE must be 'local' or 's3', got {kind!r}")

    why = "when LMS_STORAGE=s3"
    endpoint, scheme_secure = _parse_endpoint(_required(config, "LMS_S3_ENDPOINT", why), "LMS_S3_ENDPOINT")
    access_key = _required(config, "LMS_S3_ACCESS_KEY", why)
    secret_key = _required(config, "LMS_S3_SECRET_KEY", why)
    bucket = _required(config, "LMS_S3_BUCKET", why)
    if not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise ValueError(f"LMS_S3_BUCKET is not a valid bucket name (3-63 of a-z 0-9 . -): {bucket!r}")
    secure = _parse_bool(config, "LMS_S3_SECURE")
    if secure is None:
        secure = True if scheme_secure is None else scheme_secure
    elif scheme_secure is not None and secure != scheme_secure:
        raise ValueError("LMS_S3_SECURE contradicts the scheme of LMS_S3_ENDPOINT")
    region = _setting(config, "LMS_S3_REGION") or "us-east-1"
    public_endpoint = _setting(config, "LMS_S3_PUBLIC_ENDPOINT")
    public_host, public_secure = (
        _parse_endpoint(public_endpoint, "LMS_S3_PUBLIC_ENDPOINT") if public_endpoint else (None, None)
    )
    return S3Storage(
        endpoint,
        access_key,
        secret_key,
        bucket,
        secure=secure,
        region=region,
        public_endpoint=public_host,
        public_secure=public_secure,
    )
