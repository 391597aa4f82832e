"""Calendar export: make or revoke one's private feed URL; the feed itself (no login: the URL is the key)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from app.auth import actor, login_required
from app.extensions import csrf, dbs, limiter
from courses import calendar
from courses.db import utcnow

bp = Blueprint("calendar", __name__)


@bp.route("/account/calendar", methods=["POST"])
@login_required
def make():  # type: ignore[no-untyped-def]
    """A new private feed URL (shown once); the old one stops working."""
    token = calendar.make_feed(dbs(), actor())
    url = url_for("calendar.feed", token=token, _external=True)
    flash(_("캘린더 구독 주소를 만들었습니다. 이 주소는 지금 한 번만 보입니다: %(url)s", url=url), "success")
    return redirect(url_for("account.page") + "#calendar-h")


@bp.route("/account/calendar/revoke", methods=["POST"])
@login_required
def revoke():  # type: ignore[no-untyped-def]
    """Stop the feed."""
    calendar.revoke_feed(dbs(), actor())
    flash(_("캘린더 구독 주소를 없앴습니다. 그 주소로는 더 이상 일정을 볼 수 없습니다."), "success")
    return redirect(url_for("account.page") + "#calendar-h")


@bp.route("/calendar/<token>.ics")
@csrf.exempt  # type: ignore[untyped-decorator]
@limiter.limit("60 per minute")
def feed(token: str):  # type: ignore[no-untyped-def]
    """The person's lessons as iCalendar; 404 for an unknown or revoked URL."""
    user = calendar.feed_owner(dbs(), token)
    if user is None:
        abort(404)
    now = utcnow()
    body = calendar.to_ics(
        calendar.events_for(dbs(), user, request.host_url, now), name=f"이음 · {user.name}", now=now
    )
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Cache-Control": "private, max-age=300", "Content-Disposition": "inline; filename=ieum.ics"},
    )
