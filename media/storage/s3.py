"""The S3 / MinIO backend through the ``minio`` SDK (imported lazily: a local-only install never loads it)."""

from __future__ import annotations

import builtins
import io
import os
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:  # the SDK is imported lazily so that a local-only install never loads it
    import urllib3
    from minio import Minio
from media.storage.interface import (
    _COPY_CHUNK,
    _NOT_FOUND_CODES,
    DEFAULT_CONTENT_TYPE,
    ObjectInfo,
    ObjectNotFoundError,
    Storage,
    UploadedPart,
    UploadError,
    _bare_etag,
    _check_expiry,
    _check_part_number,
    _check_parts,
    validate_key,
    validate_prefix,
)


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

    def expire_unfinished_uploads(self, prefix: str, days: int) -> bool:
        """Set the bucket lifecycle rule AbortIncompleteMultipartUpload for `prefix` (replacing any other rules)."""
        from minio.commonconfig import ENABLED, Filter
        from minio.lifecycleconfig import AbortIncompleteMultipartUpload, LifecycleConfig, Rule

        self.ensure_bucket()
        rule = Rule(
            ENABLED,
            rule_filter=Filter(prefix=prefix),
            rule_id="ieum-abort-unfinished-uploads",
            abort_incomplete_multipart_upload=AbortIncompleteMultipartUpload(
                days_after_initiation=max(1, days)
            ),
        )
        self._client.set_bucket_lifecycle(self.bucket, LifecycleConfig([rule]))
        return True

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
