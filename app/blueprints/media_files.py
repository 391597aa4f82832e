"""Serving stored objects through the short-lived signed URLs of a backend whose URLs point at the app."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request, send_file

from media.storage import InvalidKeyError, ObjectNotFoundError, SignatureError

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
