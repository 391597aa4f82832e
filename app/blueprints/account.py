"""One's own account (devices, password, where notices reach them); for admins, the people in their scope (list
and filters, edit, move a student to another class, link parents and children, sign out, disable) and, for
office admins, the audit log of reads and exports of students' records and of changes to people."""

from __future__ import annotations

from typing import Any

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
from courses import api_tokens, audit, calendar, people, sessions, text
from courses.delivery import outbox, preferences
from courses.errors import N_, Errors, NotFound, ValidationError
from courses.models import AccessAction, ChannelKind, NoticeCategory, Role, User

bp = Blueprint("account", __name__)


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


@bp.route("/admin/people", endpoint="people")
@login_required
def people_list():  # type: ignore[no-untyped-def]
    """Admins: the people they manage, searched by name or username and filtered, a page at a time."""
    user = actor()
    args = request.args
    e = Errors()
    f = people.PeopleFilter(
        q=text.clean(args.get("q"))[:64],
        role=_role(e, args.get("role")),
        school_id=parse_int(e, args, "school_id", required=False),
        grade=parse_int(e, args, "grade", required=False),
        class_id=parse_int(e, args, "class_id", required=False),
        status=(args.get("status") or "").strip(),
    )
    values = {k: args.get(k, "") for k in ("q", "role", "school_id", "grade", "class_id", "status")}
    try:
        options = people.filter_options(dbs(), user, f)
        e.raise_if_any()
    except ValidationError as err:
        try:  # the filters as far as they are good, so the form shows its choices again
            options = people.filter_options(
                dbs(),
                user,
                people.PeopleFilter(school_id=f.school_id if "school_id" not in err.errors else None),
            )
        except ValidationError:
            options = people.filter_options(dbs(), user, people.PeopleFilter())
        return _people_page(options, None, values, _messages({**err.errors, **e.errors}), 422)
    found = people.find_people(dbs(), user, f, options, page=bounded_int(args.get("page"), 1, 1, 100_000))
    audit_entry(AccessAction.people_listed, "people", None, f"{people.describe(f, options)} ({found.total})")
    return _people_page(options, found, values, {})


def _people_page(
    options: people.FilterOptions,
    found: people.PeoplePage | None,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "account/people.html",
        options=options,
        found=found,
        values=values,
        query={k: v for k, v in values.items() if v},
        errors=errors,
        role_labels=people.ROLE_LABELS,
        status_labels=people.STATUS_LABELS,
        office=actor().role == Role.office_admin,
    ), status


def _role(e: Errors, raw: str | None) -> Role | None:
    if not raw:
        return None
    try:
        return Role(raw)
    except ValueError:
        e.add("role", N_("허용되지 않는 값입니다."))
        return None


def _messages(errors: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, str]:
    return {f: translate(m, p) for f, (m, p) in errors.items()}


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
    return _person_page(user_id)


def _person_page(user_id: int, errors: dict[str, str] | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    """The person page; after a refused change, with the messages and what was typed (request.form)."""
    user = actor()
    p = people.profile(dbs(), user, user_id)
    link_q = text.clean(request.values.get("link_q"))[:64]
    if p.person.role == Role.student:
        audit_entry(AccessAction.person_viewed, "user", p.person.id, _who(p.person))
    return render_template(
        "account/person.html",
        p=p,
        person=p.person,
        devices=sessions.live_sessions(dbs(), p.person),
        role_labels=people.ROLE_LABELS,
        link_q=link_q,
        candidates=people.link_candidates(dbs(), user, p.person, link_q),
        values=request.form if request.method == "POST" else {},
        errors=errors or {},
    ), status


def _who(person: User) -> str:
    return f"{person.name} ({person.username})"


@bp.route("/admin/people/<int:user_id>/edit", methods=["POST"])
@login_required
def edit_person(user_id: int):  # type: ignore[no-untyped-def]
    """Change a person's name, e-mail and (students) number in class."""
    user = actor()
    form = request.form
    e = Errors()
    has_number = "number" in form
    number = parse_int(e, form, "number", required=False) if has_number else None
    try:
        changes = people.edit_person(
            dbs(),
            user,
            user_id,
            people.PersonEdit(
                name=form.get("name", ""),
                email=form.get("email", ""),
                number=number,
                set_number=has_number and "number" not in e.errors,
            ),
        )
        e.raise_if_any()
    except ValidationError as err:
        discard()
        return _person_page(user_id, _messages({**err.errors, **e.errors}), 422)
    if changes:
        person = dbs().get(User, user_id)
        detail = ", ".join(
            translate(c.label) + (f" {c.before} → {c.after}" if c.before is not None else "") for c in changes
        )
        audit_entry(AccessAction.person_edited, "user", user_id, f"{_who(person)}: {detail}")  # type: ignore[arg-type]
        flash(_("바꾸었습니다."), "success")
    else:
        flash(_("바뀐 것이 없습니다."), "info")
    return redirect(url_for("account.person", user_id=user_id))


@bp.route("/admin/people/<int:user_id>/class", methods=["POST"])
@login_required
def move_student(user_id: int):  # type: ignore[no-untyped-def]
    """Move a student to another class of their school and school year; their enrolments stay."""
    user = actor()
    form = request.form
    e = Errors()
    class_id = parse_int(e, form, "class_id")
    number = parse_int(e, form, "new_number", required=False)
    try:
        e.raise_if_any()
        move = people.move_to_class(dbs(), user, user_id, class_id, number)  # type: ignore[arg-type]
    except ValidationError as err:
        discard()
        return _person_page(user_id, _messages({**err.errors, **e.errors}), 422)
    before = move.before.label if move.before else "-"
    audit_entry(
        AccessAction.student_moved, "user", user_id, f"{_who(move.student)}: {before} → {move.after.label}"
    )
    flash(_("반을 옮겼습니다: %(cls)s", cls=move.after.label), "success")
    return redirect(url_for("account.person", user_id=user_id))


@bp.route("/admin/people/<int:user_id>/family", methods=["POST"])
@login_required
def link_family(user_id: int):  # type: ignore[no-untyped-def]
    """Link the student on this page to a parent, or the parent on this page to a child."""
    user = actor()
    e = Errors()
    other_id = parse_int(e, request.form, "other_id")
    try:
        e.raise_if_any()
        parent, child = people.link_family(dbs(), user, user_id, other_id)  # type: ignore[arg-type]
    except ValidationError as err:
        discard()
        return _person_page(user_id, _messages(err.errors), 422)
    audit_entry(AccessAction.parent_linked, "user", child.id, f"{_who(parent)} → {_who(child)}")
    flash(
        _("연결했습니다: 보호자 %(parent)s, 자녀 %(child)s", parent=parent.name, child=child.name), "success"
    )
    return redirect(url_for("account.person", user_id=user_id))


@bp.route("/admin/people/<int:user_id>/family/<int:other_id>/remove", methods=["GET", "POST"])
@login_required
def unlink_family(user_id: int, other_id: int):  # type: ignore[no-untyped-def]
    """Ask, then remove a parent's link to a child: the parent no longer sees that child."""
    user = actor()
    if request.method == "GET":
        parent, child = people.family_link(dbs(), user, user_id, other_id)
        return render_template("account/unlink.html", parent=parent, child=child, person_id=user_id)
    parent, child = people.unlink_family(dbs(), user, user_id, other_id)
    audit_entry(AccessAction.parent_unlinked, "user", child.id, f"{_who(parent)} → {_who(child)}")
    flash(
        _("연결을 끊었습니다: 보호자 %(parent)s, 자녀 %(child)s", parent=parent.name, child=child.name),
        "success",
    )
    return redirect(url_for("account.person", user_id=user_id))


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
        record = audit.as_report(
            rows,
            lambda at: format_datetime(at, "yyyy-MM-dd HH:mm:ss"),
            {k: translate(v) for k, v in audit.subject_names(dbs(), rows).items()},
            period,
        )
        audit_entry(AccessAction.audit_log_exported, "audit_log", None, f"{fmt}, {len(rows)}")
        return export_response(record, fmt, "audit-log")  # type: ignore[arg-type]
    rows, total = audit.entries(dbs(), user, f, limit=audit.PAGE, offset=(page_no - 1) * audit.PAGE)
    pages = max(1, (total + audit.PAGE - 1) // audit.PAGE)
    return render_template(
        "account/audit.html",
        rows=rows,
        subjects=audit.subject_names(dbs(), rows),
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
