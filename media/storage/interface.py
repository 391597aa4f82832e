"""The storage interface: the `Storage` base class every backend implements, object keys and their
rules, upload parts, object info and errors.

Keys are S3-style paths (``lectures/42/source.mp4``). Both backends accept exactly the same keys, so
code written against the local folder keeps working on MinIO. Browser uploads use S3's multipart
protocol on both backends: the app creates an upload, hands out one presigned URL per part, the
browser PUTs each part and reports the ``ETag`` headers back, and the app completes the upload."""

from __future__ import annotations

import abc
import builtins
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

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


class SignatureError(StorageError):
    """A signed URL whose signature is wrong or has expired."""


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

    def expire_unfinished_uploads(self, prefix: str, days: int) -> bool:
        """Ask the store itself to abort multipart uploads under `prefix` left unfinished for `days` (a bucket
        lifecycle rule); False where the store has no such rule (the platform's own sweep still aborts them)."""
        return False

    def signed_file(self, key: str, query: Mapping[str, str]) -> tuple[Path, ObjectInfo]:
        """The file behind one of this backend's own signed download URLs, for the app to send.

        Only a backend whose URLs point at the app (the local folder) has any: others hand out their own
        URLs, so here every key is ObjectNotFoundError. SignatureError for a wrong or expired signature.
        """
        raise ObjectNotFoundError(key)


# --- local folder -------------------------------------------------------------------------------
