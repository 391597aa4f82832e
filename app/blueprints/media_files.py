"""Serving stored objects through the short-lived signed URLs of a backend whose URLs point at the app, and
taking upload parts PUT to such URLs (the local folder's stand-in for S3's presigned part URLs)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request, send_file

from media.storage import InvalidKeyError, ObjectNotFoundError, SignatureError, UploadError

bp = Blueprint("media_files", __name__)


@bp.route("/media/<path:key>")
def get(key: str):  # type: ignore[no-untyped-def]
    try:
        path, info = current_app.extensions["storage"].signed_file(key, request.args)
    except (InvalidKeyError, SignatureError, ValueError):
        abort(403)
    except ObjectNotFoundError:
        abort(404)  # also every key of a backend that hands out its own URLs (S3)
    return send_file(path, mimetype=info.content_type, conditional=True, max_age=0)


@bp.route("/media/<path:key>", methods=["PUT"])
def put_part(key: str) -> Response:
    """One part of a multipart upload; the signed URL is the credential (no session, no CSRF token)."""
    storage = current_app.extensions["storage"]
    verify = getattr(storage, "verify_local_url", None)
    args = request.args
    if verify is None or not verify(
        key,
        args.get("exp", ""),
        args.get("sig", ""),
        method="PUT",
        upload_id=args.get("uploadId"),
        part_number=args.get("partNumber"),
    ):
        abort(403)
    try:
        etag = storage.put_part(key, args["uploadId"], int(args["partNumber"]), request.stream)
    except (UploadError, InvalidKeyError, ValueError):
        abort(404)
    return Response(status=200, headers={"ETag": etag})
