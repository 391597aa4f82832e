"""Building the configured backend from ``LMS_*`` settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from media.storage.interface import (
    _BUCKET_RE,
    Storage,
)
from media.storage.local import LocalStorage
from media.storage.s3 import S3Storage

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
