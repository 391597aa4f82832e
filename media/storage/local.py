"""The local-folder backend (embedded default): objects as files, multipart uploads as part files,
presigned URLs pointing at the app itself."""

from __future__ import annotations

import builtins
import hashlib
import json
import mimetypes
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

from media.storage.interface import (
    _COPY_CHUNK,
    _UPLOAD_ID_RE,
    DEFAULT_CONTENT_TYPE,
    S3_MIN_PART_SIZE,
    InvalidKeyError,
    ObjectInfo,
    ObjectNotFoundError,
    SignatureError,
    Storage,
    StorageError,
    UploadedPart,
    UploadError,
    _bare_etag,
    _check_expiry,
    _check_part_number,
    _check_parts,
    validate_key,
    validate_prefix,
)
from media.storage.signing import _url_signing_key, sign_local_url, verify_local_url


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

    def signed_file(self, key: str, query: Mapping[str, str]) -> tuple[Path, ObjectInfo]:
        """The file behind a ``/media/<key>?exp=..&sig=..`` URL this store made."""
        if not self.verify_local_url(key, query.get("exp", ""), query.get("sig", "")):
            raise SignatureError(key)
        path = self.path_for(key)
        if not path.is_file():
            raise ObjectNotFoundError(key)
        return path, self.stat(key)

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
