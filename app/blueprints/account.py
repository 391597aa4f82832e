"""One's own account (devices, password, where notices reach them); for admins, the people in their scope (sign out, disable) and,
for office admins, the audit log of reads and exports of students' records."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _

from app.audit import audit as audit_entry
from app.auth import actor, begin_session, current_token, login_required
from app.exports import export_response, wants_export
from app.extensions import dbs
from app.forms import parse_date, parse_int
from app.i18n import translate
from app.input import bounded_int
from app.transactions import discard
from courses import api_tokens, audit, calendar, sessions
from courses.delivery import outbox, preferences
from courses.errors import N_, Errors, NotFound, ValidationError
from courses.models import AccessAction, ChannelKind, NoticeCategory, Role, User

bp = Blueprint("account", __name__)
PEOPLE_LIMIT = 50


@bp.route("/account", methods=["GET"])
@login_required
def page():  # type: ignore[no-untyped-def]
    user = actor()
    return _render(user, {})


def _render(  # type: ignore[no-untyped-def]
    user: User,
    errors: dict[str, str],
    status: int = 200,
    notices: list[preferences.Choice] | None = None,
):
    rows = sessions.live_sessions(dbs(), user)
    token = current_token()
    return render_template(
        "account/page.html",
        person=user,
        devices=[(r, sessions.is_current(r, token)) for r in rows],
        feed=calendar.has_feed(dbs(), user),
        notices=notices if notices is not None else preferences.choices(dbs(), user),
        offered=_offered_channels(user),
        email_configured=ChannelKind.email in outbox.available_channels(),
        sms_configured=ChannelKind.sms in outbox.available_channels(),
        has_email=preferences.has_email(user.email),
        errors=errors,
    ), status


def _offered_channels(user: User) -> set[ChannelKind]:
    """The channels the page lets this person switch: configured here, and e-mail only with an address."""
    on = set(outbox.available_channels())
    if not preferences.has_email(user.email):
        on.discard(ChannelKind.email)
    return on


@bp.route("/account/notifications", methods=["POST"])
@login_required
def save_notifications():  # type: ignore[no-untyped-def]
    """Where each kind of notice reaches the person (checkboxes `email-<category>`, `sms-<category>`)."""
    user = actor()
    form = request.form
    e = Errors()
    wanted: dict[NoticeCategory, set[ChannelKind]] = {}
    for cat in preferences.categories_for(user):
        wanted[cat] = set()
        for ch in ChannelKind:
            value = form.get(f"{ch.value}-{cat.value}")
            if value is None:
                continue
            if value != "1":
                e.add(f"{ch.value}-{cat.value}", N_("허용되지 않는 값입니다."))
            wanted[cat].add(ch)
    if e:  # shown again as ticked, with the field named
        typed = [
            preferences.Choice(
                c.category,
                c.label,
                ChannelKind.email in wanted[c.category],
                ChannelKind.sms in wanted[c.category],
            )
            for c in preferences.choices(dbs(), user)
        ]
        return _render(user, {f: translate(m, p) for f, (m, p) in e.errors.items()}, 422, typed)
    preferences.save(dbs(), user, wanted, channels=_offered_channels(user))
    flash(_("알림 받는 방법을 저장했습니다."), "success")
    return redirect(url_for("account.page") + "#notify-h")


@bp.route("/account/sessions/end-others", methods=["POST"])
@login_required
def end_others():  # type: ignore[no-untyped-def]
    user = actor()
    n = sessions.sign_out_everywhere(dbs(), user, user.id, keep_token=current_token())
    flash(_("다른 기기 %(n)d곳에서 로그아웃했습니다.", n=n), "success")
    return redirect(url_for("account.page"))


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():  # type: ignore[no-untyped-def]
    user = actor()
    form = request.form
    try:
        sessions.change_password(
            dbs(), user, form.get("current", ""), form.get("new", ""), form.get("confirm", "")
        )
    except ValidationError as err:
        discard()
        return _render(user, {f: translate(m, p) for f, (m, p) in err.errors.items()}, 422)
    begin_session(user)  # every session ended with the change; this browser gets a new one
    flash(_("비밀번호를 바꾸었습니다. 다른 기기에서는 모두 로그아웃되었습니다."), "success")
    return redirect(url_for("account.page"))


@bp.route("/admin/people")
@login_required
def people():  # type: ignore[no-untyped-def]
    q = (request.args.get("q") or "").strip()[:64]
    people = sessions.find_people(dbs(), actor(), q, limit=PEOPLE_LIMIT)
    return render_template("account/people.html", people=people, q=q, limit=PEOPLE_LIMIT)


@bp.route("/admin/people/<int:user_id>", methods=["GET", "POST"])
@login_required
def person(user_id: int):  # type: ignore[no-untyped-def]
    user = actor()
    if user.role not in (Role.office_admin, Role.school_admin):
        raise NotFound()
    if request.method == "POST":
        op = request.form.get("op")
        if op == "sign_out":
            n = sessions.sign_out_everywhere(dbs(), user, user_id)
            flash(_("%(n)d곳의 로그인을 끝냈습니다.", n=n), "success")
        elif op == "temp_password":
            password = sessions.issue_temporary_password(dbs(), user, user_id)
            flash(
                _("임시 비밀번호: %(pw)s — 지금 한 번만 보입니다. 본인에게 직접 전하세요.", pw=password),
                "success",
            )
        elif op in ("disable", "enable"):
            sessions.set_active(dbs(), user, user_id, op == "enable")
            flash(
                _("계정을 사용 중지했습니다.") if op == "disable" else _("계정을 다시 사용하게 했습니다."),
                "success",
            )
        else:
            e = Errors()
            e.add("op", N_("허용되지 않는 값입니다."))
            e.raise_if_any()
        return redirect(url_for("account.person", user_id=user_id))
    target = dbs().get(User, user_id)
    if target is None or not sessions.may_manage_account(user, target):
        raise NotFound()
    return render_template(
        "account/person.html", person=target, devices=sessions.live_sessions(dbs(), target)
    )


__all__ = ["bp"]


@bp.route("/admin/audit")
@login_required
def audit_log():  # type: ignore[no-untyped-def]
    """Office admins: who read or exported students' records, filtered by person, action and dates."""
    user = actor()
    if user.role != Role.office_admin:
        raise NotFound()
    args = request.args
    e = Errors()
    action_raw = (args.get("action") or "").strip()
    action = None
    if action_raw:
        try:
            action = AccessAction(action_raw)
        except ValueError:
            e.add("action", N_("허용되지 않는 값입니다."))
    f = audit.AuditFilter(
        person=(args.get("person") or "").strip()[:64],
        action=action,
        since=parse_date(e, args, "since"),
        until=parse_date(e, args, "until"),
    )
    page_no = bounded_int(args.get("page"), 1, 1, 100_000)
    fmt = args.get("format")
    if e:
        return render_template(
            "account/audit.html",
            rows=[],
            total=0,
            f=f,
            page=1,
            pages=1,
            labels=audit.ACTION_LABELS,
            errors={k: translate(m, p) for k, (m, p) in e.errors.items()},
        ), 422
    if wants_export(fmt):
        rows, _total = audit.entries(dbs(), user, f, limit=50_000, offset=0)
        period = f"{f.since or ''} ~ {f.until or ''}" if f.since or f.until else ""
        record = audit.as_report(rows, lambda at: format_datetime(at, "yyyy-MM-dd HH:mm:ss"), period)
        audit_entry(AccessAction.audit_log_exported, "audit_log", None, f"{fmt}, {len(rows)}")
        return export_response(record, fmt, "audit-log")  # type: ignore[arg-type]
    rows, total = audit.entries(dbs(), user, f, limit=audit.PAGE, offset=(page_no - 1) * audit.PAGE)
    pages = max(1, (total + audit.PAGE - 1) // audit.PAGE)
    return render_template(
        "account/audit.html",
        rows=rows,
        total=total,
        f=f,
        page=page_no,
        pages=pages,
        labels=audit.ACTION_LABELS,
        errors={},
    )


@bp.route("/admin/api-tokens", methods=["GET", "POST"])
@login_required
def api_tokens_page():  # type: ignore[no-untyped-def]
    """Office admins: create (the secret shown once), list and revoke the office's API tokens."""
    user = actor()
    if user.role != Role.office_admin:
        raise NotFound()
    created, errors, status = None, {}, 200
    if request.method == "POST":
        form = request.form
        if form.get("op") == "revoke":
            e = Errors()
            token_id = parse_int(e, form, "token_id")
            e.raise_if_any()
            api_tokens.revoke(dbs(), user, token_id)  # type: ignore[arg-type]
            flash(_("토큰을 폐기했습니다. 이 토큰을 쓰는 시스템은 더 이상 접속할 수 없습니다."), "success")
            return redirect(url_for("account.api_tokens_page"))
        e = Errors()
        days = parse_int(e, form, "days", required=False)
        scopes = sorted(api_tokens.READ_ONLY) if form.get("preset") == "read" else form.getlist("scopes")
        try:
            e.raise_if_any()
            token, secret = api_tokens.create(
                dbs(), user, name=form.get("name", ""), scopes=scopes, days=days
            )
            created = (token, secret)
        except ValidationError as err:
            discard()
            errors = {f: translate(m, p) for f, (m, p) in err.errors.items()}
            status = 422
    return render_template(
        "account/api_tokens.html",
        tokens=api_tokens.office_tokens(dbs(), user),
        uses=api_tokens.recent_uses(dbs(), user),
        scopes=api_tokens.SCOPES,
        created=created,
        errors=errors,
    ), status
