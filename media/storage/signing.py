"""Signed URLs of the local backend: ``/media/<key>?exp=..&sig=..`` carries an HMAC the app checks."""

from __future__ import annotations

import hashlib
import hmac
import time


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
