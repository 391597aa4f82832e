"""Security headers on every response: a Content-Security-Policy without inline scripts, no framing,
no MIME sniffing, and no caching of anything but static files (pages and API replies carry minors' data)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def content_security_policy(sfu_url: str | None, media_url: str | None) -> str:
    """The policy: scripts, styles and everything else from this origin; the SFU's WebSocket; the object
    store's public endpoint for presigned media."""
    # hls.js fetches segments and the upload script PUTs parts: both go to the object store's presigned URLs.
    connect = ["'self'"] + [o for o in (_origin(sfu_url), _origin(media_url)) if o]
    media = ["'self'", "blob:"] + [o for o in (_origin(media_url),) if o]
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:" + (f" {_origin(media_url)}" if _origin(media_url) else ""),
            "media-src " + " ".join(media),
            "connect-src " + " ".join(connect),
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def init_app(app: Flask) -> None:
    """Add the headers to every response."""
    media = (
        app.config.get("S3_PUBLIC_ENDPOINT") or app.config.get("S3_ENDPOINT")
        if app.config.get("STORAGE") == "s3"
        else None
    )
    if media and "://" not in media:
        secure = str(app.config.get("S3_SECURE") or "").lower() in ("1", "true", "yes", "on")
        media = ("https://" if secure else "http://") + media
    csp = content_security_policy(app.config.get("SFU_PUBLIC_URL"), media)

    @app.after_request
    def security_headers(response: Response) -> Response:
        h = response.headers
        h.setdefault("Content-Security-Policy", csp)
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault(
            "Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self), geolocation=()"
        )
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if not request.path.startswith("/static/"):
            h["Cache-Control"] = "no-store"
        if app.config.get("SESSION_COOKIE_SECURE"):
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
