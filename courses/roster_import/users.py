"""Importing users.csv (upserted by sourcedId, passwords capped per run) and the parent ↔ child links in it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from courses.accounts import hash_password
from courses.errors import N_
from courses.models import OrgKind, ParentLink, Role, User
from courses.people import ROLE_LABELS
from courses.roster_import import bulk
from courses.roster_import.bulk import chunks, matched
from courses.roster_import.files import Table
from courses.roster_import.report import Failed
from courses.roster_import.validation import (
    FALSE_WORDS,
    SCHOOL_ROLES,
    SPACE_RE,
    USER_ROLES,
    korean_name,
    split_ids,
)

if TYPE_CHECKING:
    from courses.roster_import.importer import ImportRun

MAX_PLAIN_PASSWORDS = 20  # argon2 at ~0.1 s each: 20 users ≈ 2 s of an import, never 100,000


def import_users(run: ImportRun, t: Table) -> None:
    """Upsert users by sourcedId within the office, then link the parents and children the rows name."""
    c = t.cols
    i_sid, i_username, i_given, i_family = c["sourcedId"], c["username"], c["givenName"], c["familyName"]
    i_role, i_orgs, i_agents, i_email = c["role"], c["orgSourcedIds"], c["agentSourcedIds"], c["email"]
    i_password, i_enabled, i_status = c["password"], c["enabledUser"], c["status"]
    counts = run.result.counts["users"]
    seen: dict[str, int] = {}
    usernames: dict[str, int] = {}
    valid: list[dict[str, Any]] = []  # row values + "_line", "_sid", "_password", "_agents"
    for line, row in t.rows:
        sid = row[i_sid].strip()
        if not sid:
            run.report.error(t.name, line, N_("sourcedId가 비어 있습니다."), entity="users")
            continue
        if sid in seen:
            run.report.error(
                t.name,
                line,
                N_("sourcedId '%(ref)s'이(가) 이 파일에서 중복됩니다 (%(first)d행에 먼저 나옵니다)."),
                entity="users",
                ref=sid,
                first=seen[sid],
            )
            continue
        seen[sid] = line
        values = _user_fields(
            run,
            t.name,
            line,
            sid,
            row[i_username].strip(),
            row[i_family].strip(),
            row[i_given].strip(),
            row[i_role].strip(),
            row[i_orgs],
        )
        if values is None:
            run.user_failed[sid] = Failed(t.name, line)
            continue
        username = values["username"]
        if username in usernames:
            run.report.error(
                t.name,
                line,
                N_("아이디 '%(value)s'이(가) 이 파일에서 중복됩니다 (%(first)d행에 먼저 나옵니다)."),
                entity="users",
                value=username,
                first=usernames[username],
            )
            run.user_failed[sid] = Failed(t.name, line)
            continue
        usernames[username] = line
        email = row[i_email].strip() or None
        if email is not None and (len(email) > 254 or "@" not in email):
            run.report.error(
                t.name,
                line,
                N_("이메일 '%(value)s'의 형식이 올바르지 않아 비워 두었습니다."),
                warning=True,
                value=email[:60],
            )
            email = None
        values["email"] = email
        values["active"] = (
            row[i_enabled].strip().lower() not in FALSE_WORDS
            and row[i_status].strip().lower() != "tobedeleted"
        )
        values["_line"], values["_sid"] = line, sid
        values["_password"] = row[i_password].strip()
        values["_agents"] = split_ids(row[i_agents])
        valid.append(values)

    # A big file: the office's users in one scan (a re-import finds everyone there). Then whatever is
    # left is looked up everywhere: sourcedIds or usernames held by another office or by no sourcedId.
    columns = (
        User.sourced_id,
        User.id,
        User.username,
        User.name,
        User.role,
        User.org_id,
        User.office_id,
        User.email,
        User.active,
        User.password_hash.is_not(None),
    )
    existing: dict[str, tuple[Any, ...]] = {}
    taken: dict[str, str | None] = {}  # username → sourcedId of whoever holds it
    if len(valid) > bulk.SCAN_OVER:
        for db_row in run.s.execute(select(*columns).where(User.office_id == run.office.id)):
            if db_row[0] is not None:
                existing[db_row[0]] = tuple(db_row[1:])
            taken[db_row[2]] = db_row[0]
    for chunk in chunks([v["_sid"] for v in valid if v["_sid"] not in existing]):
        for db_row in run.s.execute(select(*columns).where(User.sourced_id.in_(chunk))):
            existing[matched(db_row[0])] = tuple(db_row[1:])
    for chunk in chunks([u for u in usernames if u not in taken]):
        for username, holder in run.s.execute(
            select(User.username, User.sourced_id).where(User.username.in_(chunk))
        ):
            taken[username] = holder

    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    plain_hashed = 0
    fields = ("username", "name", "role", "org_id", "email", "active")
    for v in valid:
        line, sid = v["_line"], v["_sid"]
        held = existing.get(sid)
        if held is not None and held[5] != run.office_id:
            run.report.error(
                t.name,
                line,
                N_("사용자 '%(ref)s'은(는) 다른 교육청 소속이라 가져올 수 없습니다."),
                entity="users",
                ref=sid,
            )
            run.user_failed[sid] = Failed(t.name, line)
            continue
        holder = taken.get(v["username"], sid)
        if holder != sid:
            run.report.error(
                t.name,
                line,
                N_("아이디 '%(value)s'은(는) 이미 다른 사용자가 쓰고 있습니다."),
                entity="users",
                value=v["username"],
            )
            run.user_failed[sid] = Failed(t.name, line)
            continue
        if held is not None and held[0] == run.actor.id and (v["role"] != held[3] or not v["active"]):
            run.report.error(
                t.name,
                line,
                N_("가져오기로 자신의 역할을 바꾸거나 계정을 끌 수 없습니다."),
                entity="users",
            )
            run.user_failed[sid] = Failed(t.name, line)
            continue
        password_hash = None
        if v["_password"] and (held is None or not held[8]):
            if v["_password"].startswith("$argon2"):
                password_hash = v["_password"]
            elif plain_hashed < MAX_PLAIN_PASSWORDS:
                password_hash = hash_password(v["_password"])
                plain_hashed += 1
            else:
                run.report.error(
                    t.name,
                    line,
                    N_(
                        "비밀번호는 한 번에 %(max)d명까지만 설정합니다. 이 사용자는 비밀번호 없이 가져왔습니다."
                    ),
                    warning=True,
                    max=MAX_PLAIN_PASSWORDS,
                )
        row_values = {k: v[k] for k in fields}
        if held is None:
            new.append(
                {
                    **row_values,
                    "sourced_id": sid,
                    "office_id": run.office_id,
                    "password_hash": password_hash,
                    "created_at": run.now,
                }
            )
            continue
        uid = held[0]
        old = dict(zip(fields, (held[1], held[2], held[3], held[4], held[6], held[7]), strict=True))
        if old != row_values or password_hash is not None:
            change = {"id": uid, **row_values}
            if password_hash is not None:
                change["password_hash"] = password_hash
            changed.append(change)
        else:
            counts.unchanged += 1
        run.users[sid] = (uid, v["role"], v["org_id"])
    if changed:
        for chunk in chunks(changed):
            run.s.execute(update(User), list(chunk))
    run.writer.insert(User, new, key="sourced_id")
    for r in new:
        run.users[r["sourced_id"]] = (r["id"], r["role"], r["org_id"])
        run.new_user_ids.add(r["id"])
    counts.created += len(new)
    counts.updated += len(changed)
    import_parent_links(run, t.name, [(v["_line"], v["_sid"], v["_agents"]) for v in valid if v["_agents"]])


def _user_fields(
    run: ImportRun,
    file: str,
    line: int,
    sid: str,
    username: str,
    family: str,
    given: str,
    role_raw: str,
    orgs_raw: str,
) -> dict[str, Any] | None:
    if role_raw.lower() not in USER_ROLES:
        run.report.error(
            file, line, N_("역할 '%(value)s'을(를) 알 수 없습니다."), entity="users", value=role_raw
        )
        return None
    if not username or len(username) > 64 or SPACE_RE.search(username):
        run.report.error(file, line, N_("아이디(username)는 공백 없이 1~64자여야 합니다."), entity="users")
        return None
    name = korean_name(family, given)
    if not name or len(name) > 80:
        run.report.error(file, line, N_("이름(familyName, givenName)은 1~80자여야 합니다."), entity="users")
        return None
    if len(sid) > 64:
        run.report.error(file, line, N_("sourcedId가 64자보다 깁니다."), entity="users")
        return None
    org_ids = split_ids(orgs_raw)
    if not org_ids:
        run.report.error(file, line, N_("소속 기관(orgSourcedIds)이 비어 있습니다."), entity="users")
        return None
    org = run.org_ref(file, line, "users", org_ids[0])  # one org per user here; the first one wins
    if org is None:
        return None
    org_id, org_kind = org
    role = USER_ROLES[role_raw.lower()]
    if role is None:
        role = Role.school_admin if org_kind == OrgKind.school else Role.office_admin
    if role in SCHOOL_ROLES and org_kind != OrgKind.school:
        run.report.error(
            file,
            line,
            N_("'%(role)s' 역할은 학교에 소속되어야 합니다 (기관 '%(ref)s')."),
            entity="users",
            role=ROLE_LABELS[role],
            ref=org_ids[0],
        )
        return None
    return {"username": username, "name": name, "role": role, "org_id": org_id}


def import_parent_links(run: ImportRun, file: str, rows: list[tuple[int, str, list[str]]]) -> None:
    """Parent ↔ child links from agentSourcedIds, written on either side of the pair."""
    counts = run.result.counts["parent_links"]
    run.load_users(a for _, _, agents in rows for a in agents)
    pairs: set[tuple[int, int]] = set()
    for line, sid, agents in rows:
        me = run.users.get(sid)
        if me is None:
            continue  # the user row itself failed and was reported
        for agent in agents:
            other = run.users.get(agent)
            if other is None:
                if agent in run.user_failed:
                    run.report.depends(
                        file,
                        line,
                        "parent_links",
                        N_("보호자·자녀"),
                        agent,
                        run.user_failed[agent],
                        "users",
                    )
                else:
                    run.report.error(
                        file,
                        line,
                        N_("보호자·자녀 '%(ref)s'을(를) 찾을 수 없어 연결하지 않았습니다."),
                        entity="parent_links",
                        ref=agent,
                    )
                continue
            if me[1] == Role.parent and other[1] == Role.student:
                pairs.add((me[0], other[0]))
            elif me[1] == Role.student and other[1] == Role.parent:
                pairs.add((other[0], me[0]))
            else:
                run.report.error(
                    file,
                    line,
                    N_("'%(ref)s'와(과)는 보호자-학생 관계로 연결할 수 없습니다."),
                    entity="parent_links",
                    ref=agent,
                )
    parent_ids = sorted({p for p, _ in pairs})
    have: set[tuple[int, int]] = set()
    for chunk in chunks(parent_ids):
        have.update(
            (p, c)
            for p, c in run.s.execute(
                select(ParentLink.parent_id, ParentLink.child_id).where(ParentLink.parent_id.in_(chunk))
            )
        )
    new = [{"parent_id": p, "child_id": c} for p, c in sorted(pairs - have)]
    run.writer.insert(ParentLink, new)
    counts.created += len(new)
    counts.unchanged += len(pairs) - len(new)
