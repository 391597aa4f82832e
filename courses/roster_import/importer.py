"""The import itself: each OneRoster file validated row by row and written, orgs → classes → users → links
→ enrolments."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session

from courses.accounts import hash_password
from courses.errors import N_, Errors, Forbidden
from courses.models import (
    ClassMembership,
    MemberRole,
    Organisation,
    OrgKind,
    ParentLink,
    Role,
    SchoolClass,
    SchoolLevel,
    User,
)
from courses.roster_import import rules
from courses.roster_import.files import (
    RosterFileError,
    _expand,
    _parse,
    _Table,
    decode_csv,
)
from courses.roster_import.report import (
    ImportResult,
    _error_order,
    _Failed,
)
from courses.roster_import.rules import (
    _SPACE_RE,
    _TITLE_RE,
    ENROL_ROLES,
    FALSE_WORDS,
    IGNORED_FILES,
    KNOWN_FILES,
    ORG_TYPES,
    ROLE_LABELS,
    SCHOOL_ROLES,
    TEACHING_ROLES,
    USER_ROLES,
    _chunks,
    _grade,
    _key,
    _korean_name,
    _school_level,
    _split_ids,
    _year,
    default_school_year,
)
from courses.roster_import.writing import (
    _Writer,
)


def import_roster(
    session: Session,
    actor: User,
    files: Mapping[str, bytes] | Iterable[tuple[str, bytes]],
    *,
    school_year: int | None = None,
    today: date | None = None,
) -> ImportResult:
    """Import OneRoster CSVs (or a zip of them) into the actor's office, keeping the good rows."""
    if actor.role != Role.office_admin:
        raise Forbidden(N_("명단은 교육청 관리자만 가져올 수 있습니다."))
    e = Errors()
    if school_year is not None and not 2000 <= school_year <= 2100:
        e.add("school_year", N_("학년도는 2000~2100 사이로 입력하세요."))
    pairs = list(_expand(files))
    if not pairs:
        e.add("files", N_("가져올 CSV 파일이나 ZIP 파일을 선택하세요."))
    e.raise_if_any()
    office = session.get(Organisation, actor.office_id)
    if office is None:
        raise Forbidden()
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        # psycopg prepares a statement after 5 runs and PostgreSQL may then keep a generic plan made while a
        # table was still small: a seq scan per IN (...) chunk, minutes on 100,000 rows. Plan each one afresh.
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    run = _Importer(session, actor, office, school_year or default_school_year(today or date.today()))
    run.read(pairs)
    run.run()
    # Rows were written around the ORM: objects already in the session must not show stale values.
    session.flush()
    session.expire_all()
    written = sum(c.created + c.updated + c.deleted for c in run.result.counts.values())
    if postgres and written >= rules.ANALYZE_AFTER_ROWS:
        # Fresh statistics (ANALYZE counts this transaction's own rows) so the next queries, and plans
        # cached on pooled connections, see the tables as they now are rather than as they were.
        session.execute(
            text("ANALYZE organisation, school_class, user_account, parent_link, class_membership")
        )
    run.result.errors.sort(key=_error_order)
    return run.result


class _Importer(_Writer):
    """One import run: reference maps filled stage by stage (orgs → classes → users → links → enrolments)."""

    # ── files ──

    def read(self, pairs: list[tuple[str, bytes | RosterFileError]]) -> None:
        for name, data in pairs:
            kind = KNOWN_FILES.get(name.lower())
            if isinstance(data, RosterFileError):  # a zip that would not open, or an Excel workbook
                if kind is not None:
                    self.bad_files.setdefault(kind, name)
                self.error(name, None, data.message, **data.params)
                continue
            if kind is None:
                if name.lower() in IGNORED_FILES:
                    self.result.files_ignored.append(name)
                else:
                    self.error(
                        name,
                        None,
                        N_(
                            "알 수 없는 파일입니다. orgs.csv, classes.csv, users.csv, enrollments.csv(또는 이들을 묶은 ZIP)를 올려 주세요."
                        ),
                    )
                continue
            if kind in self.tables or kind in self.bad_files:
                self.error(name, None, N_("같은 이름의 파일이 두 번 있습니다. 처음 것만 읽었습니다."))
                continue
            try:
                self.tables[kind] = _parse(kind, name, decode_csv(data))
                self.result.files_read.append(name)
            except RosterFileError as err:
                self.bad_files[kind] = name
                self.error(name, None, err.message, **err.params)

    def run(self) -> None:
        self.load_office_orgs()
        if "academicSessions" in self.tables:
            self.import_sessions(self.tables["academicSessions"])
        if "orgs" in self.tables:
            self.import_orgs(self.tables["orgs"])
        if "classes" in self.tables:
            self.import_classes(self.tables["classes"])
        if "users" in self.tables:
            self.import_users(self.tables["users"])
        if "enrollments" in self.tables:
            self.import_enrolments(self.tables["enrollments"])

    # ── academic sessions ──

    def import_sessions(self, t: _Table) -> None:
        i_sid, i_year = t.cols["sourcedId"], t.cols["schoolYear"]
        for line, row in t.rows:
            year = _year(row[i_year])
            if year is None:
                self.error(
                    t.name, line, N_("학년도 '%(value)s'이(가) 올바르지 않습니다."), value=row[i_year].strip()
                )
                continue
            self.years[row[i_sid].strip()] = year

    # ── orgs ──

    def import_orgs(self, t: _Table) -> None:
        c = t.cols
        i_sid, i_name, i_type, i_parent = c["sourcedId"], c["name"], c["type"], c["parentSourcedId"]
        counts = self.result.counts["orgs"]
        seen: dict[str, int] = {}
        candidates: list[tuple[int, str, str, OrgKind, str]] = []
        for line, row in t.rows:
            sid, name, type_raw, parent = (
                row[i_sid].strip(),
                row[i_name].strip(),
                row[i_type].strip(),
                row[i_parent].strip(),
            )
            if not sid:
                self.error(t.name, line, N_("sourcedId가 비어 있습니다."), entity="orgs")
                continue
            if sid in seen:
                self.error(
                    t.name,
                    line,
                    N_("sourcedId '%(ref)s'이(가) 이 파일에서 중복됩니다 (%(first)d행에 먼저 나옵니다)."),
                    entity="orgs",
                    ref=sid,
                    first=seen[sid],
                )
                continue
            seen[sid] = line
            kind = ORG_TYPES.get(type_raw.lower())
            reason: tuple[str, dict[str, Any]] | None = None
            if kind is None:
                reason = (
                    N_("기관 유형 '%(value)s'을(를) 알 수 없습니다 (district, local, school 중 하나)."),
                    {"value": type_raw},
                )
            elif not name:
                reason = (N_("이름이 비어 있습니다."), {})
            elif len(name) > 120 or len(sid) > 64:
                reason = (N_("이름(120자)이나 sourcedId(64자)가 너무 깁니다."), {})
            if reason is not None:
                self.error(t.name, line, reason[0], entity="orgs", **reason[1])
                self.org_failed[sid] = _Failed(t.name, line)
                continue
            candidates.append((line, sid, name, kind, parent))  # type: ignore[arg-type]

        # Who already holds these codes, anywhere: a code of another office cannot be taken over.
        existing: dict[str, tuple[int, OrgKind, str, int | None, int | None, SchoolLevel | None]] = {}
        codes = [sid for _, sid, _, _, _ in candidates]
        for chunk in _chunks(codes):
            for db_row in self.s.execute(
                select(
                    Organisation.code,
                    Organisation.id,
                    Organisation.kind,
                    Organisation.name,
                    Organisation.parent_id,
                    Organisation.office_id,
                    Organisation.school_level,
                ).where(Organisation.code.in_(chunk))
            ):
                existing[_key(db_row[0])] = tuple(db_row[1:])  # type: ignore[assignment]

        # Districts first (the office itself), then support offices, then schools: parents before children.
        order = {OrgKind.office: 0, OrgKind.support_office: 1, OrgKind.school: 2}
        candidates.sort(key=lambda r: (order[r[3]], r[0]))
        for level in (OrgKind.office, OrgKind.support_office, OrgKind.school):
            new: list[dict[str, Any]] = []
            changed: list[dict[str, Any]] = []
            for line, sid, name, kind, parent in (r for r in candidates if r[3] == level):
                held = existing.get(sid)
                if kind == OrgKind.office:
                    self._district(t.name, line, sid, name, held)
                    continue
                if held is not None and held[4] != self.office.id:
                    self.error(
                        t.name,
                        line,
                        N_("기관 '%(ref)s'은(는) 다른 교육청 소속이라 가져올 수 없습니다."),
                        entity="orgs",
                        ref=sid,
                    )
                    self.org_failed[sid] = _Failed(t.name, line)
                    continue
                if held is not None and held[1] != kind:
                    self.error(
                        t.name, line, N_("기관 '%(ref)s'의 유형은 바꿀 수 없습니다."), entity="orgs", ref=sid
                    )
                    self.org_failed[sid] = _Failed(t.name, line)
                    continue
                parent_id = self._org_parent(t.name, line, kind, parent)
                if parent_id is None:
                    self.org_failed[sid] = _Failed(t.name, line)
                    continue
                level_guess = _school_level(name) if kind == OrgKind.school else None
                if held is None:
                    new.append(
                        {
                            "kind": kind,
                            "name": name,
                            "code": sid,
                            "parent_id": parent_id,
                            "office_id": self.office.id,
                            "school_level": level_guess,
                        }
                    )
                    continue
                oid, _kind, old_name, old_parent, _office, old_level = held
                want_level = level_guess or old_level
                if (old_name, old_parent, old_level) != (name, parent_id, want_level):
                    changed.append(
                        {"id": oid, "name": name, "parent_id": parent_id, "school_level": want_level}
                    )
                else:
                    counts.unchanged += 1
                self.orgs[sid] = (oid, kind)
            for chunk in _chunks(new):
                for oid, code, kind in self.s.execute(
                    insert(Organisation).returning(Organisation.id, Organisation.code, Organisation.kind),
                    chunk,
                ):
                    self.orgs[_key(code)] = (oid, kind)
            if changed:
                self.s.execute(update(Organisation), changed)
            counts.created += len(new)
            counts.updated += len(changed)

    def _district(self, file: str, line: int, sid: str, name: str, held: tuple[Any, ...] | None) -> None:
        counts = self.result.counts["orgs"]
        if self.office.code is None and held is None:
            self.office.code = sid  # the office adopts its OneRoster id on its first import
            self.orgs[sid] = (self.office.id, OrgKind.office)
            counts.updated += 1
        elif sid != self.office.code:
            self.error(
                file,
                line,
                N_(
                    "교육청 '%(ref)s'은(는) 관리자님의 교육청이 아닙니다. 관할 교육청의 명단만 가져올 수 있습니다."
                ),
                entity="orgs",
                ref=sid,
            )
            self.org_failed[sid] = _Failed(file, line)
            return
        elif name != self.office.name:
            counts.updated += 1
        else:
            counts.unchanged += 1
        if name != self.office.name:
            self.office.name = name

    def _org_parent(self, file: str, line: int, kind: OrgKind, parent: str) -> int | None:
        if not parent:
            return self.office.id
        ref = self.org_ref(file, line, "orgs", parent, N_("상위 기관"))
        if ref is None:
            return None
        pid, pkind = ref
        allowed = (
            (OrgKind.office,) if kind == OrgKind.support_office else (OrgKind.office, OrgKind.support_office)
        )
        if pkind not in allowed:
            self.error(
                file,
                line,
                N_("상위 기관 '%(ref)s'은(는) 교육청이나 교육지원청이어야 합니다."),
                entity="orgs",
                ref=parent,
            )
            return None
        return pid

    # ── classes ──

    def import_classes(self, t: _Table) -> None:
        c = t.cols
        i_sid, i_title, i_grades, i_code = c["sourcedId"], c["title"], c["grades"], c["classCode"]
        i_type, i_school, i_terms, i_year = (
            c["classType"],
            c["schoolSourcedId"],
            c["termSourcedIds"],
            c["schoolYear"],
        )
        counts = self.result.counts["classes"]
        seen: dict[str, int] = {}
        valid: list[tuple[int, str, int, int, int, str]] = []  # line, sid, school_id, year, grade, name
        for line, row in t.rows:
            sid = row[i_sid].strip()
            if not sid:
                self.error(t.name, line, N_("sourcedId가 비어 있습니다."), entity="classes")
                continue
            if sid in seen:
                self.error(
                    t.name,
                    line,
                    N_("sourcedId '%(ref)s'이(가) 이 파일에서 중복됩니다 (%(first)d행에 먼저 나옵니다)."),
                    entity="classes",
                    ref=sid,
                    first=seen[sid],
                )
                continue
            seen[sid] = line
            class_type = row[i_type].strip().lower()
            if class_type and class_type != "homeroom":
                self.class_skipped.add(sid)  # subject classes (scheduled) are not 반 in this LMS
                counts.skipped += 1
                continue
            parsed = self._class_fields(
                t.name, line, row[i_title].strip(), row[i_grades].strip(), row[i_code].strip()
            )
            year = self._class_year(t.name, line, row[i_year].strip(), row[i_terms].strip())
            school_ref = row[i_school].strip()
            school = (
                self.org_ref(t.name, line, "classes", school_ref, N_("학교")) if parsed and year else None
            )
            if school is not None and school[1] != OrgKind.school:
                self.error(
                    t.name, line, N_("'%(ref)s'은(는) 학교가 아닙니다."), entity="classes", ref=school_ref
                )
                school = None
            if parsed is None or year is None or school is None:
                self.class_failed[sid] = _Failed(t.name, line)
                continue
            if len(sid) > 64:
                self.error(t.name, line, N_("sourcedId가 64자보다 깁니다."), entity="classes")
                self.class_failed[sid] = _Failed(t.name, line)
                continue
            valid.append((line, sid, school[0], year, parsed[0], parsed[1]))

        # Existing classes: by code anywhere, and by (school, year, grade, name) in the schools named.
        by_code: dict[str, tuple[int, int, int, int, str, int | None]] = {}
        for chunk in _chunks([v[1] for v in valid]):
            for code, cid, school_id, year, grade, name, office_id in self.s.execute(
                select(
                    SchoolClass.code,
                    SchoolClass.id,
                    SchoolClass.school_id,
                    SchoolClass.school_year,
                    SchoolClass.grade,
                    SchoolClass.name,
                    Organisation.office_id,
                )
                .join(Organisation, Organisation.id == SchoolClass.school_id)
                .where(SchoolClass.code.in_(chunk))
            ):
                by_code[_key(code)] = (cid, school_id, year, grade, name, office_id)
        by_key: dict[tuple[int, int, int, str], tuple[int, str | None]] = {}
        school_ids = sorted({v[2] for v in valid})
        years = sorted({v[3] for v in valid})
        for chunk in _chunks(school_ids):
            for cid, code, school_id, year, grade, name in self.s.execute(
                select(
                    SchoolClass.id,
                    SchoolClass.code,
                    SchoolClass.school_id,
                    SchoolClass.school_year,
                    SchoolClass.grade,
                    SchoolClass.name,
                ).where(SchoolClass.school_id.in_(chunk), SchoolClass.school_year.in_(years))
            ):
                by_key[(school_id, year, grade, name)] = (cid, code)

        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        key_rows: dict[tuple[int, int, int, str], int] = {}
        for line, sid, school_id, year, grade, name in valid:
            key = (school_id, year, grade, name)
            held = by_code.get(sid)
            if held is not None and held[5] != self.office_id:
                self.error(
                    t.name,
                    line,
                    N_("학급 '%(ref)s'은(는) 다른 교육청 소속이라 가져올 수 없습니다."),
                    entity="classes",
                    ref=sid,
                )
                self.class_failed[sid] = _Failed(t.name, line)
                continue
            if key in key_rows:
                self.error(
                    t.name,
                    line,
                    N_("같은 학교·학년도에 '%(grade)d학년 %(name)s'이(가) 이미 있습니다 (%(first)d행)."),
                    entity="classes",
                    grade=grade,
                    name=name,
                    first=key_rows[key],
                )
                self.class_failed[sid] = _Failed(t.name, line)
                continue
            same_key = by_key.get(key)
            adopt = held is None and same_key is not None and same_key[1] is None
            if same_key is not None and not adopt and (held is None or same_key[0] != held[0]):
                self.error(
                    t.name,
                    line,
                    N_("같은 학교·학년도에 '%(grade)d학년 %(name)s'이(가) 다른 sourcedId로 이미 있습니다."),
                    entity="classes",
                    grade=grade,
                    name=name,
                )
                self.class_failed[sid] = _Failed(t.name, line)
                continue
            key_rows[key] = line
            if adopt:
                assert same_key is not None
                # The class exists without a sourcedId (created by hand): adopt it rather than duplicate it.
                changed.append({"id": same_key[0], "code": sid})
                self.classes[sid] = (same_key[0], school_id, year)
            elif held is None:
                new.append(
                    {"school_id": school_id, "school_year": year, "grade": grade, "name": name, "code": sid}
                )
            else:
                cid = held[0]
                if held[1:5] != key:
                    changed.append(
                        {"id": cid, "school_id": school_id, "school_year": year, "grade": grade, "name": name}
                    )
                else:
                    counts.unchanged += 1
                self.classes[sid] = (cid, school_id, year)
        if changed:
            self.s.execute(update(SchoolClass), changed)
        self.insert(SchoolClass, new, key="code")
        for r in new:
            self.classes[r["code"]] = (r["id"], r["school_id"], r["school_year"])
        counts.created += len(new)
        counts.updated += len(changed)

    def _class_fields(
        self, file: str, line: int, title: str, grades: str, code: str
    ) -> tuple[int, str] | None:
        """(grade, name) from the grades column and a title like '5학년 1반' (or the classCode)."""
        m = _TITLE_RE.match(title)
        name = (m.group(2) if m else title) or code
        title_grade = int(m.group(1)) if m else None
        grade: int | None = title_grade
        if grades:
            values = {g.strip() for g in grades.split(",") if g.strip()}
            parsed = {_grade(g) for g in values}
            if len(values) != 1 or None in parsed:
                self.error(
                    file,
                    line,
                    N_("학년 '%(value)s'이(가) 올바르지 않습니다 (담임 학급은 1~12 중 한 학년)."),
                    entity="classes",
                    value=grades,
                )
                return None
            grade = parsed.pop()
            if title_grade is not None and title_grade != grade:
                self.error(
                    file,
                    line,
                    N_("학년(%(grade)d)이 제목 '%(title)s'과(와) 다릅니다."),
                    entity="classes",
                    grade=grade,
                    title=title,
                )
                return None
        if grade is None or not 1 <= grade <= 12:
            self.error(
                file,
                line,
                N_("학년을 알 수 없습니다. grades 열에 1~12를 넣거나 제목을 '5학년 1반'처럼 써 주세요."),
                entity="classes",
            )
            return None
        if not name:
            self.error(file, line, N_("학급 이름(title 또는 classCode)이 비어 있습니다."), entity="classes")
            return None
        if name.isdigit():
            name = f"{int(name)}반"
        if len(name) > 60:
            self.error(file, line, N_("학급 이름은 60자 이내여야 합니다."), entity="classes")
            return None
        return grade, name

    def _class_year(self, file: str, line: int, year_raw: str, terms: str) -> int | None:
        if year_raw:
            year = _year(year_raw)
            if year is None:
                self.error(
                    file,
                    line,
                    N_("학년도 '%(value)s'이(가) 올바르지 않습니다."),
                    entity="classes",
                    value=year_raw,
                )
            return year
        for term in _split_ids(terms):
            if term in self.years:
                return self.years[term]
        return self.default_year

    # ── users ──

    def import_users(self, t: _Table) -> None:
        c = t.cols
        i_sid, i_username, i_given, i_family = c["sourcedId"], c["username"], c["givenName"], c["familyName"]
        i_role, i_orgs, i_agents, i_email = c["role"], c["orgSourcedIds"], c["agentSourcedIds"], c["email"]
        i_password, i_enabled, i_status = c["password"], c["enabledUser"], c["status"]
        counts = self.result.counts["users"]
        seen: dict[str, int] = {}
        usernames: dict[str, int] = {}
        valid: list[dict[str, Any]] = []  # row values + "_line", "_sid", "_password", "_agents"
        for line, row in t.rows:
            sid = row[i_sid].strip()
            if not sid:
                self.error(t.name, line, N_("sourcedId가 비어 있습니다."), entity="users")
                continue
            if sid in seen:
                self.error(
                    t.name,
                    line,
                    N_("sourcedId '%(ref)s'이(가) 이 파일에서 중복됩니다 (%(first)d행에 먼저 나옵니다)."),
                    entity="users",
                    ref=sid,
                    first=seen[sid],
                )
                continue
            seen[sid] = line
            values = self._user_fields(
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
                self.user_failed[sid] = _Failed(t.name, line)
                continue
            username = values["username"]
            if username in usernames:
                self.error(
                    t.name,
                    line,
                    N_("아이디 '%(value)s'이(가) 이 파일에서 중복됩니다 (%(first)d행에 먼저 나옵니다)."),
                    entity="users",
                    value=username,
                    first=usernames[username],
                )
                self.user_failed[sid] = _Failed(t.name, line)
                continue
            usernames[username] = line
            email = row[i_email].strip() or None
            if email is not None and (len(email) > 254 or "@" not in email):
                self.error(
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
            values["_agents"] = _split_ids(row[i_agents])
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
        if len(valid) > rules.SCAN_OVER:
            for db_row in self.s.execute(select(*columns).where(User.office_id == self.office.id)):
                if db_row[0] is not None:
                    existing[db_row[0]] = tuple(db_row[1:])
                taken[db_row[2]] = db_row[0]
        for chunk in _chunks([v["_sid"] for v in valid if v["_sid"] not in existing]):
            for db_row in self.s.execute(select(*columns).where(User.sourced_id.in_(chunk))):
                existing[_key(db_row[0])] = tuple(db_row[1:])
        for chunk in _chunks([u for u in usernames if u not in taken]):
            for username, holder in self.s.execute(
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
            if held is not None and held[5] != self.office_id:
                self.error(
                    t.name,
                    line,
                    N_("사용자 '%(ref)s'은(는) 다른 교육청 소속이라 가져올 수 없습니다."),
                    entity="users",
                    ref=sid,
                )
                self.user_failed[sid] = _Failed(t.name, line)
                continue
            holder = taken.get(v["username"], sid)
            if holder != sid:
                self.error(
                    t.name,
                    line,
                    N_("아이디 '%(value)s'은(는) 이미 다른 사용자가 쓰고 있습니다."),
                    entity="users",
                    value=v["username"],
                )
                self.user_failed[sid] = _Failed(t.name, line)
                continue
            if held is not None and held[0] == self.actor.id and (v["role"] != held[3] or not v["active"]):
                self.error(
                    t.name,
                    line,
                    N_("가져오기로 자신의 역할을 바꾸거나 계정을 끌 수 없습니다."),
                    entity="users",
                )
                self.user_failed[sid] = _Failed(t.name, line)
                continue
            password_hash = None
            if v["_password"] and (held is None or not held[8]):
                if v["_password"].startswith("$argon2"):
                    password_hash = v["_password"]
                elif plain_hashed < rules.MAX_PLAIN_PASSWORDS:
                    password_hash = hash_password(v["_password"])
                    plain_hashed += 1
                else:
                    self.error(
                        t.name,
                        line,
                        N_(
                            "비밀번호는 한 번에 %(max)d명까지만 설정합니다. 이 사용자는 비밀번호 없이 가져왔습니다."
                        ),
                        warning=True,
                        max=rules.MAX_PLAIN_PASSWORDS,
                    )
            row_values = {k: v[k] for k in fields}
            if held is None:
                new.append(
                    {
                        **row_values,
                        "sourced_id": sid,
                        "office_id": self.office_id,
                        "password_hash": password_hash,
                        "created_at": self.now,
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
            self.users[sid] = (uid, v["role"], v["org_id"])
        if changed:
            for chunk in _chunks(changed):
                self.s.execute(update(User), list(chunk))
        self.insert(User, new, key="sourced_id")
        for r in new:
            self.users[r["sourced_id"]] = (r["id"], r["role"], r["org_id"])
            self.new_user_ids.add(r["id"])
        counts.created += len(new)
        counts.updated += len(changed)
        self.import_parent_links(
            t.name, [(v["_line"], v["_sid"], v["_agents"]) for v in valid if v["_agents"]]
        )

    def _user_fields(
        self,
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
            self.error(
                file, line, N_("역할 '%(value)s'을(를) 알 수 없습니다."), entity="users", value=role_raw
            )
            return None
        if not username or len(username) > 64 or _SPACE_RE.search(username):
            self.error(file, line, N_("아이디(username)는 공백 없이 1~64자여야 합니다."), entity="users")
            return None
        name = _korean_name(family, given)
        if not name or len(name) > 80:
            self.error(file, line, N_("이름(familyName, givenName)은 1~80자여야 합니다."), entity="users")
            return None
        if len(sid) > 64:
            self.error(file, line, N_("sourcedId가 64자보다 깁니다."), entity="users")
            return None
        org_ids = _split_ids(orgs_raw)
        if not org_ids:
            self.error(file, line, N_("소속 기관(orgSourcedIds)이 비어 있습니다."), entity="users")
            return None
        org = self.org_ref(file, line, "users", org_ids[0])  # one org per user here; the first one wins
        if org is None:
            return None
        org_id, org_kind = org
        role = USER_ROLES[role_raw.lower()]
        if role is None:
            role = Role.school_admin if org_kind == OrgKind.school else Role.office_admin
        if role in SCHOOL_ROLES and org_kind != OrgKind.school:
            self.error(
                file,
                line,
                N_("'%(role)s' 역할은 학교에 소속되어야 합니다 (기관 '%(ref)s')."),
                entity="users",
                role=ROLE_LABELS[role],
                ref=org_ids[0],
            )
            return None
        return {"username": username, "name": name, "role": role, "org_id": org_id}

    def import_parent_links(self, file: str, rows: list[tuple[int, str, list[str]]]) -> None:
        """Parent ↔ child links from agentSourcedIds, written on either side of the pair."""
        counts = self.result.counts["parent_links"]
        self._load_users(a for _, _, agents in rows for a in agents)
        pairs: set[tuple[int, int]] = set()
        for line, sid, agents in rows:
            me = self.users.get(sid)
            if me is None:
                continue  # the user row itself failed and was reported
            for agent in agents:
                other = self.users.get(agent)
                if other is None:
                    if agent in self.user_failed:
                        self.depends(
                            file,
                            line,
                            "parent_links",
                            N_("보호자·자녀"),
                            agent,
                            self.user_failed[agent],
                            "users",
                        )
                    else:
                        self.error(
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
                    self.error(
                        file,
                        line,
                        N_("'%(ref)s'와(과)는 보호자-학생 관계로 연결할 수 없습니다."),
                        entity="parent_links",
                        ref=agent,
                    )
        parent_ids = sorted({p for p, _ in pairs})
        have: set[tuple[int, int]] = set()
        for chunk in _chunks(parent_ids):
            have.update(
                (p, c)
                for p, c in self.s.execute(
                    select(ParentLink.parent_id, ParentLink.child_id).where(ParentLink.parent_id.in_(chunk))
                )
            )
        new = [{"parent_id": p, "child_id": c} for p, c in sorted(pairs - have)]
        self.insert(ParentLink, new)
        counts.created += len(new)
        counts.unchanged += len(pairs) - len(new)

    # ── enrolments ──

    def import_enrolments(self, t: _Table) -> None:
        c = t.cols
        i_sid, i_class, i_user, i_role, i_status = (
            c["sourcedId"],
            c["classSourcedId"],
            c["userSourcedId"],
            c["role"],
            c["status"],
        )
        counts = self.result.counts["enrollments"]
        self._load_classes(row[i_class].strip() for _, row in t.rows)
        self._load_users(row[i_user].strip() for _, row in t.rows)
        seen_sid: dict[str, int] = {}
        seen_pair: dict[tuple[int, int], int] = {}
        student_year: dict[tuple[int, int], int] = {}  # (student, year) → line of their class in this file
        valid: list[tuple[int, int, int, MemberRole, int, bool]] = []  # line, class, user, role, year, delete
        for line, row in t.rows:
            sid, class_ref, user_ref = row[i_sid].strip(), row[i_class].strip(), row[i_user].strip()
            if sid:
                if sid in seen_sid:
                    self.error(
                        t.name,
                        line,
                        N_("sourcedId '%(ref)s'이(가) 이 파일에서 중복됩니다 (%(first)d행에 먼저 나옵니다)."),
                        entity="enrollments",
                        ref=sid,
                        first=seen_sid[sid],
                    )
                    continue
                seen_sid[sid] = line
            if class_ref in self.class_skipped:
                counts.skipped += 1
                continue
            role_raw = row[i_role].strip()
            role = ENROL_ROLES.get(role_raw.lower())
            if role is None:
                self.error(
                    t.name,
                    line,
                    N_("역할 '%(value)s'을(를) 알 수 없습니다 (student 또는 teacher)."),
                    entity="enrollments",
                    value=role_raw,
                )
                continue
            if not class_ref or not user_ref:
                self.error(
                    t.name,
                    line,
                    N_("classSourcedId와 userSourcedId를 모두 넣어 주세요."),
                    entity="enrollments",
                )
                continue
            cls = self.classes.get(class_ref)
            if cls is None:
                if class_ref in self.class_failed or "classes" in self.bad_files:
                    self.depends(
                        t.name,
                        line,
                        "enrollments",
                        N_("학급"),
                        class_ref,
                        self.class_failed.get(class_ref),
                        "classes",
                    )
                else:
                    self.error(
                        t.name,
                        line,
                        N_("학급 '%(ref)s'을(를) 찾을 수 없습니다 (파일에도, 관할 교육청에도 없습니다)."),
                        entity="enrollments",
                        ref=class_ref,
                    )
                continue
            user = self.users.get(user_ref)
            if user is None:
                if user_ref in self.user_failed or "users" in self.bad_files:
                    self.depends(
                        t.name,
                        line,
                        "enrollments",
                        N_("사용자"),
                        user_ref,
                        self.user_failed.get(user_ref),
                        "users",
                    )
                else:
                    self.error(
                        t.name,
                        line,
                        N_("사용자 '%(ref)s'을(를) 찾을 수 없습니다 (파일에도, 관할 교육청에도 없습니다)."),
                        entity="enrollments",
                        ref=user_ref,
                    )
                continue
            class_id, school_id, year = cls
            user_id, user_role, org_id = user
            if role == MemberRole.student and user_role != Role.student:
                self.error(
                    t.name,
                    line,
                    N_("사용자 '%(ref)s'은(는) 학생이 아닙니다."),
                    entity="enrollments",
                    ref=user_ref,
                )
                continue
            if role == MemberRole.teacher and user_role not in TEACHING_ROLES:
                self.error(
                    t.name,
                    line,
                    N_("사용자 '%(ref)s'은(는) 교사가 아닙니다."),
                    entity="enrollments",
                    ref=user_ref,
                )
                continue
            if org_id != school_id:
                self.error(
                    t.name,
                    line,
                    N_("사용자 '%(ref)s'은(는) 학급 '%(cls)s'의 학교 소속이 아닙니다."),
                    entity="enrollments",
                    ref=user_ref,
                    cls=class_ref,
                )
                continue
            pair = (class_id, user_id)
            if pair in seen_pair:
                self.error(
                    t.name,
                    line,
                    N_("같은 학급·사용자 배정이 이 파일에서 중복됩니다 (%(first)d행에 먼저 나옵니다)."),
                    entity="enrollments",
                    first=seen_pair[pair],
                )
                continue
            seen_pair[pair] = line
            drop = row[i_status].strip().lower() == "tobedeleted"
            if role == MemberRole.student and not drop:
                first = student_year.setdefault((user_id, year), line)
                if first != line:
                    self.error(
                        t.name,
                        line,
                        N_("학생 '%(ref)s'은(는) 한 학년도에 한 학급에만 속할 수 있습니다 (%(first)d행)."),
                        entity="enrollments",
                        ref=user_ref,
                        first=first,
                    )
                    continue
            valid.append((line, class_id, user_id, role, year, drop))

        # Existing memberships of the users named (a new user has none, so a first import reads nothing).
        existing_users = sorted({u for _, _, u, _, _, _ in valid} - self.new_user_ids)
        have: dict[tuple[int, int], tuple[int, MemberRole]] = {}
        homeroom: dict[tuple[int, int], tuple[int, int]] = {}  # (student, year) → (membership id, class id)
        stmt = select(
            ClassMembership.id,
            ClassMembership.class_id,
            ClassMembership.user_id,
            ClassMembership.role,
            SchoolClass.school_year,
        ).join(SchoolClass, SchoolClass.id == ClassMembership.class_id)
        if (
            len(existing_users) > rules.SCAN_OVER
        ):  # most of an office: one scan beats dozens of IN (...) lookups
            wanted = set(existing_users)
            batches = [
                stmt.join(User, User.id == ClassMembership.user_id).where(User.office_id == self.office.id)
            ]
        else:
            wanted = None
            batches = [stmt.where(ClassMembership.user_id.in_(chunk)) for chunk in _chunks(existing_users)]
        for batch in batches:
            for mid, class_id, user_id, role, year in self.s.execute(batch):
                if wanted is not None and user_id not in wanted:
                    continue
                have[(class_id, user_id)] = (mid, role)
                if role == MemberRole.student:
                    homeroom[(user_id, year)] = (mid, class_id)
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        dropped: list[int] = []
        for _line, class_id, user_id, role, year, drop in valid:
            held = have.get((class_id, user_id))
            if drop:
                if held is not None:
                    dropped.append(held[0])
                else:
                    counts.unchanged += 1
                continue
            if held is not None:
                if held[1] != role:
                    changed.append({"id": held[0], "role": role})
                else:
                    counts.unchanged += 1
                continue
            moving = homeroom.get((user_id, year)) if role == MemberRole.student else None
            if moving is not None:
                changed.append({"id": moving[0], "class_id": class_id, "number": None})  # 반 이동: same year
            else:
                new.append({"class_id": class_id, "user_id": user_id, "role": role})
        for chunk in _chunks(dropped):
            self.s.execute(delete(ClassMembership).where(ClassMembership.id.in_(chunk)))
        if changed:
            self.s.execute(update(ClassMembership), changed)
        self.insert(ClassMembership, new)
        counts.created += len(new)
        counts.updated += len(changed)
        counts.deleted += len(dropped)
