"""Serving objects of the local storage backend through short-lived signed URLs."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request, send_file

from media.storage import InvalidKeyError, LocalStorage

bp = Blueprint("media_files", __name__)


@bp.route("/media/<path:key>")
def get(key: str):  # type: ignore[no-untyped-def]
    storage = current_app.extensions["storage"]
    if not isinstance(storage, LocalStorage):
        abort(404)  # S3 hands out its own presigned URLs
    try:
        ok = storage.verify_local_url(key, request.args.get("exp", ""), request.args.get("sig", ""))
    except (InvalidKeyError, ValueError):
        ok = False
    if not ok:
        abort(403)
    path = storage.path_for(key)
    if not path.is_file():
        abort(404)
    info = storage.stat(key)
    return send_file(path, mimetype=info.content_type, conditional=True, max_age=0)
