"""The import run: its state and reference maps, the files read, then each stage (its own module) in order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from courses.db import utcnow
from courses.errors import N_, Errors, Forbidden
from courses.models import Organisation, OrgKind, Role, SchoolClass, User
from courses.roster_import.bulk import BulkWriter, chunks, matched
from courses.roster_import.classes import import_classes, import_sessions
from courses.roster_import.enrolments import import_enrolments
from courses.roster_import.files import (
    IGNORED_FILES,
    KNOWN_FILES,
    RosterFileError,
    Table,
    decode_csv,
    expand_uploads,
    parse_table,
)
from courses.roster_import.orgs import import_orgs
from courses.roster_import.report import Failed, ImportResult, Reporter, error_order
from courses.roster_import.users import import_users
from courses.roster_import.validation import default_school_year

ANALYZE_AFTER_ROWS = 5000  # a bulk load this big changes the planner's picture of the tables


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
    pairs = list(expand_uploads(files))
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
    run = ImportRun(session, actor, office, school_year or default_school_year(today or date.today()))
    run.read(pairs)
    run.run()
    # Rows were written around the ORM: objects already in the session must not show stale values.
    session.flush()
    session.expire_all()
    written = sum(c.created + c.updated + c.deleted for c in run.result.counts.values())
    if postgres and written >= ANALYZE_AFTER_ROWS:
        # Fresh statistics (ANALYZE counts this transaction's own rows) so the next queries, and plans
        # cached on pooled connections, see the tables as they now are rather than as they were.
        session.execute(
            text("ANALYZE organisation, school_class, user_account, parent_link, class_membership")
        )
    run.result.errors.sort(key=error_order)
    return run.result


class ImportRun:
    """One import run: reference maps filled stage by stage (orgs → classes → users → links → enrolments)."""

    def __init__(self, session: Session, actor: User, office: Organisation, default_year: int) -> None:
        self.s = session
        self.actor = actor
        self.office = office
        self.office_id = office.id  # read per row: a plain int, not an ORM attribute
        self.default_year = default_year
        self.now = utcnow()
        self.report = Reporter()
        self.result = self.report.result
        self.writer = BulkWriter(session)
        self.tables: dict[str, Table] = {}
        # sourcedId → what later stages need; *_failed: sourcedId → the row that failed.
        self.orgs: dict[str, tuple[int, OrgKind]] = {}
        self.org_failed: dict[str, Failed] = {}
        self.classes: dict[str, tuple[int, int, int]] = {}  # → (id, school_id, school_year)
        self.class_failed: dict[str, Failed] = {}
        self.class_skipped: set[str] = set()
        self.users: dict[str, tuple[int, Role, int]] = {}  # → (id, role, org_id)
        self.user_failed: dict[str, Failed] = {}
        self.new_user_ids: set[int] = set()  # created in this run: they have no memberships to look up
        self.years: dict[str, int] = {}  # academic session sourcedId → school year

    # ── files ──

    def read(self, pairs: list[tuple[str, bytes | RosterFileError]]) -> None:
        """Sort the uploaded files by kind and parse them; a file that cannot be read is reported once."""
        for name, data in pairs:
            kind = KNOWN_FILES.get(name.lower())
            if isinstance(data, RosterFileError):  # a zip that would not open, or an Excel workbook
                if kind is not None:
                    self.report.bad_files.setdefault(kind, name)
                self.report.error(name, None, data.message, **data.params)
                continue
            if kind is None:
                if name.lower() in IGNORED_FILES:
                    self.result.files_ignored.append(name)
                else:
                    self.report.error(
                        name,
                        None,
                        N_(
                            "알 수 없는 파일입니다. orgs.csv, classes.csv, users.csv, enrollments.csv(또는 이들을 묶은 ZIP)를 올려 주세요."
                        ),
                    )
                continue
            if kind in self.tables or kind in self.report.bad_files:
                self.report.error(name, None, N_("같은 이름의 파일이 두 번 있습니다. 처음 것만 읽었습니다."))
                continue
            try:
                self.tables[kind] = parse_table(kind, name, decode_csv(data))
                self.result.files_read.append(name)
            except RosterFileError as err:
                self.report.bad_files[kind] = name
                self.report.error(name, None, err.message, **err.params)

    def run(self) -> None:
        """Run the stages in dependency order, each only if its file was read."""
        self.load_office_orgs()
        if "academicSessions" in self.tables:
            import_sessions(self, self.tables["academicSessions"])
        if "orgs" in self.tables:
            import_orgs(self, self.tables["orgs"])
        if "classes" in self.tables:
            import_classes(self, self.tables["classes"])
        if "users" in self.tables:
            import_users(self, self.tables["users"])
        if "enrollments" in self.tables:
            import_enrolments(self, self.tables["enrollments"])

    # ── reference lookups outside the files ──

    def load_office_orgs(self) -> None:
        """Start the org map with the office's orgs that have a sourcedId (and the office itself)."""
        rows = self.s.execute(
            select(Organisation.code, Organisation.id, Organisation.kind).where(
                Organisation.office_id == self.office.id, Organisation.code.is_not(None)
            )
        )
        self.orgs = {matched(code): (oid, kind) for code, oid, kind in rows}
        if self.office.code:
            self.orgs[self.office.code] = (self.office.id, OrgKind.office)

    def org_ref(
        self, file: str, line: int, entity: str, ref: str, what: str = N_("기관")
    ) -> tuple[int, OrgKind] | None:
        """The org a row points at, or None after reporting why not."""
        found = self.orgs.get(ref)
        if found is not None:
            return found
        if ref in self.org_failed or "orgs" in self.report.bad_files:
            self.report.depends(file, line, entity, what, ref, self.org_failed.get(ref), "orgs")
            return None
        self.report.error(
            file,
            line,
            N_("%(what)s '%(ref)s'을(를) 찾을 수 없습니다 (파일에도, 관할 교육청에도 없습니다)."),
            entity=entity,
            what=what,
            ref=ref,
        )
        return None

    def load_users(self, sids: Iterable[str]) -> None:
        """Add users of this office named by sourcedId (not in the file) to the reference map."""
        wanted = sorted({s for s in sids if s not in self.users and s not in self.user_failed})
        for chunk in chunks(wanted):
            for sid, uid, role, org_id in self.s.execute(
                select(User.sourced_id, User.id, User.role, User.org_id).where(
                    User.sourced_id.in_(chunk), User.office_id == self.office.id
                )
            ):
                self.users[matched(sid)] = (uid, role, org_id)

    def load_classes(self, sids: Iterable[str]) -> None:
        """Add classes of this office named by sourcedId (not in the file) to the reference map."""
        wanted = sorted({s for s in sids if s not in self.classes and s not in self.class_failed})
        for chunk in chunks(wanted):
            for code, cid, school_id, year in self.s.execute(
                select(SchoolClass.code, SchoolClass.id, SchoolClass.school_id, SchoolClass.school_year)
                .join(Organisation, Organisation.id == SchoolClass.school_id)
                .where(SchoolClass.code.in_(chunk), Organisation.office_id == self.office.id)
            ):
                self.classes[matched(code)] = (cid, school_id, year)
