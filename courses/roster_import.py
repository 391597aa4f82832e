"""Roster import from OneRoster 1.1 CSV files (orgs, classes, users, enrollments), set-based.

Files: ``orgs.csv``, ``classes.csv``, ``users.csv``, ``enrollments.csv`` (and, optionally,
``academicSessions.csv`` for school years), given one by one or inside a zip. Each file may be
UTF-8 (with or without BOM) or CP949 (what Korean Excel writes): a BOM means UTF-8; otherwise
strict UTF-8 is tried, then CP949. Other OneRoster files (manifest.csv, courses.csv, …) are skipped.

Policy — **the good rows are kept** (not all-or-nothing):

- every row is checked on its own; a bad row is left out and reported as
  ``<file> <line>행: <reason>`` (line 1 is the header, as Excel numbers it);
- a row that depends on a left-out row (a school under a bad support office, a class of a bad
  school, a user of a bad org, an enrolment of a bad user or class) is left out too and reported
  with the row it depends on;
- a problem with a whole file (not text, a required column missing, an unknown file) leaves that
  file out and is reported once; rows of other files that need it are reported as above;
- a duplicate ``sourcedId`` in one file: the first row is kept, later ones are reported;
- warnings (the row was imported, one detail was not, e.g. a password over the per-import cap)
  are reported but do not count as failures.

The caller commits: a database error (e.g. a concurrent import winning a unique constraint)
raises and nothing is kept.

Upsert by ``sourcedId`` (orgs, classes, users) and by (class, user) for enrolments: importing the
same files again changes nothing and reports 0 new. Nothing is deleted unless a row says
``status=tobedeleted`` (users become inactive; enrolments are removed). A student has one homeroom
class per school year: an enrolment into another class of the same year moves them.

Everything lands in the acting office admin's office: a ``district`` row must be that office
(an office without a sourcedId yet adopts the first one), and references outside it are refused.
Passwords: users without a ``password`` value get none (they are set up later); pre-hashed argon2
values are stored as given; plain ones are hashed for at most ``MAX_PLAIN_PASSWORDS`` users per
import, because argon2 costs ~0.1 s each and an import may carry 100,000 users. Existing
passwords are never overwritten by an import.
"""

from __future__ import annotations

import codecs
import csv
import enum
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session

from courses.accounts import hash_password
from courses.db import utcnow
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

MAX_PLAIN_PASSWORDS = 20  # argon2 at ~0.1 s each: 20 users ≈ 2 s of an import, never 100,000
MAX_REPORTED_ERRORS = 1000  # the rest are counted, not listed
MAX_ZIP_MEMBERS = 50
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024  # a zip bomb stops here
COPY_OVER = 1000  # PostgreSQL: more new rows than this go in with COPY
ANALYZE_AFTER_ROWS = 5000  # a bulk load this big changes the planner's picture of the tables
SCAN_OVER = 20_000  # more rows than this to look up: read the office's rows in one scan instead
CHUNK = 2000  # rows per INSERT batch and ids per IN (...) lookup; well under SQLite's 32,766 variables

ENTITIES = ("orgs", "classes", "users", "parent_links", "enrollments")

# Canonical file name → what it holds; matched case-insensitively on the base name.
KNOWN_FILES = {
    "orgs.csv": "orgs",
    "classes.csv": "classes",
    "users.csv": "users",
    "enrollments.csv": "enrollments",
    "academicsessions.csv": "academicSessions",
}
IGNORED_FILES = {
    "manifest.csv",
    "courses.csv",
    "demographics.csv",
    "lineitems.csv",
    "results.csv",
    "categories.csv",
    "resources.csv",
    "classresources.csv",
    "courseresources.csv",
    "userresources.csv",
    "roles.csv",
    "userprofiles.csv",
    "scoreScales.csv".lower(),
    "lineitemlearningobjectiveids.csv",
}
FILE_NAMES = {v: k if k != "academicsessions.csv" else "academicSessions.csv" for k, v in KNOWN_FILES.items()}

REQUIRED: dict[str, tuple[str, ...]] = {
    "orgs": ("sourcedId", "name", "type"),
    "classes": ("sourcedId", "title", "schoolSourcedId"),
    "users": ("sourcedId", "username", "givenName", "familyName", "role", "orgSourcedIds"),
    "enrollments": ("classSourcedId", "userSourcedId", "role"),
    "academicSessions": ("sourcedId", "schoolYear"),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    "orgs": ("parentSourcedId", "status"),
    "classes": ("grades", "classCode", "classType", "termSourcedIds", "schoolYear", "status"),
    "users": ("agentSourcedIds", "email", "password", "enabledUser", "status"),
    "enrollments": ("sourcedId", "status"),
    "academicSessions": (),
}

ORG_TYPES = {
    "district": OrgKind.office,
    "local": OrgKind.support_office,
    "support": OrgKind.support_office,
    "school": OrgKind.school,
}
# "administrator" is decided by the org: school → school_admin, office or support office → office_admin.
USER_ROLES: dict[str, Role | None] = {
    "administrator": None,
    "teacher": Role.teacher,
    "aide": Role.teacher,
    "student": Role.student,
    "parent": Role.parent,
    "guardian": Role.parent,
}
ENROL_ROLES = {"student": MemberRole.student, "teacher": MemberRole.teacher, "aide": MemberRole.teacher}
SCHOOL_ROLES = (Role.teacher, Role.student, Role.parent, Role.school_admin)
TEACHING_ROLES = (Role.teacher, Role.school_admin)
FALSE_WORDS = {"false", "0", "no", "n", "아니오"}
ROLE_LABELS = {
    Role.teacher: N_("교사"),
    Role.student: N_("학생"),
    Role.parent: N_("보호자"),
    Role.school_admin: N_("학교 관리자"),
    Role.office_admin: N_("교육청 관리자"),
    Role.instructor: N_("강사"),
}

_TITLE_RE = re.compile(r"^\s*(\d{1,2})\s*학년\s*(.*?)\s*$")
_GRADE_RE = re.compile(r"^0*(\d{1,2})(?:\s*학년)?$")
_HANGUL_RE = re.compile("[\uac00-\ud7a3]+")
_SPACE_RE = re.compile(r"\s")


class RosterFileError(Exception):
    """A file that cannot be read as CSV text; ``message``/``params`` are a Korean msgid and its values."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


@dataclass(frozen=True)
class RowError:
    """One problem: a row (line ≥ 2), or a whole file (line None). ``message`` is a Korean msgid."""

    file: str
    line: int | None
    message: str
    params: dict[str, Any] = field(default_factory=dict)
    warning: bool = False  # the row was imported; only the detail named was not

    @property
    def reason(self) -> str:
        """The reason in Korean, params filled in."""
        return self.message % self.params if self.params else self.message

    def __str__(self) -> str:
        return f"{self.file} {self.line}행: {self.reason}" if self.line else f"{self.file}: {self.reason}"


@dataclass
class EntityCounts:
    """What happened to one kind of record."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    skipped: int = 0  # rows we do not import by design (non-homeroom classes and their enrolments)


@dataclass
class ImportResult:
    """Counts per entity, the row errors (first MAX_REPORTED_ERRORS), and which files were read."""

    counts: dict[str, EntityCounts] = field(default_factory=lambda: {e: EntityCounts() for e in ENTITIES})
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0  # failures, including those not listed
    warning_count: int = 0
    files_read: list[str] = field(default_factory=list)
    files_ignored: list[str] = field(default_factory=list)

    @property
    def created(self) -> int:
        """New records of every kind together."""
        return sum(c.created for c in self.counts.values())

    @property
    def truncated(self) -> bool:
        """Whether some errors were counted but not listed."""
        return self.error_count + self.warning_count > len(self.errors)


class _Table(NamedTuple):
    name: str  # the file name as given (for messages)
    cols: dict[str, int]  # canonical column → index; absent optional columns → the padding cell
    rows: list[tuple[int, list[str]]]  # (line number, cells padded with one trailing "")


class _Failed(NamedTuple):
    file: str
    line: int


# ───────────────────────────── reading files ─────────────────────────────


def decode_csv(data: bytes) -> str:
    """CSV bytes → text: BOM → UTF-8; else strict UTF-8; else CP949. Binary data raises RosterFileError."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise RosterFileError(
            N_("UTF-16 파일은 읽을 수 없습니다. 'CSV UTF-8' 또는 'CSV (쉼표로 분리)'로 저장해 주세요.")
        )
    if b"\x00" in data:
        raise RosterFileError(N_("CSV 텍스트 파일이 아닙니다. 엑셀에서 'CSV'로 저장한 파일을 올려 주세요."))
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8")
        except UnicodeDecodeError as err:
            raise RosterFileError(
                N_("UTF-8 표시(BOM)가 있지만 UTF-8로 읽을 수 없습니다 (%(pos)d바이트 근처)."), pos=err.start
            ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp949")
    except UnicodeDecodeError:
        raise RosterFileError(
            N_("UTF-8로도 CP949(EUC-KR)로도 읽을 수 없습니다. CSV 텍스트 파일인지 확인해 주세요.")
        ) from None


def _expand(
    files: Mapping[str, bytes] | Iterable[tuple[str, bytes]],
) -> Iterator[tuple[str, bytes | RosterFileError]]:
    """Uploaded (name, bytes) pairs, with zips opened into their members."""
    pairs = files.items() if isinstance(files, Mapping) else files
    for raw_name, data in pairs:
        name = (raw_name or "").replace("\\", "/").rsplit("/", 1)[-1]
        if data[:4] != b"PK\x03\x04" and not name.lower().endswith(".zip"):
            yield name, data
            continue
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            members = [
                i for i in archive.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")
            ]
        except (zipfile.BadZipFile, OSError):
            yield name, RosterFileError(N_("ZIP 파일을 열 수 없습니다."))
            continue
        with archive:
            if any(i.filename == "[Content_Types].xml" for i in members):
                yield (
                    name,
                    RosterFileError(
                        N_("엑셀(xlsx) 파일은 바로 읽지 않습니다. 시트마다 'CSV'로 저장해 올려 주세요.")
                    ),
                )
                continue
            if len(members) > MAX_ZIP_MEMBERS or sum(i.file_size for i in members) > MAX_UNZIPPED_BYTES:
                yield name, RosterFileError(N_("ZIP 파일 안의 파일이 너무 많거나 큽니다."))
                continue
            for info in members:
                base = info.filename.rsplit("/", 1)[-1]
                if base.startswith("."):
                    continue
                try:
                    yield base, archive.read(info)
                except (zipfile.BadZipFile, OSError, NotImplementedError):
                    yield base, RosterFileError(N_("ZIP 파일 안의 파일을 풀 수 없습니다."))


def _parse(kind: str, name: str, text: str) -> _Table:
    """Text → a table with the required columns checked; raises RosterFileError."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as err:
        raise RosterFileError(N_("CSV 형식이 올바르지 않습니다: %(detail)s"), detail=str(err)) from None
    if not header:
        raise RosterFileError(N_("빈 파일입니다."))
    lookup = {h.strip().lstrip("\ufeff").lower(): i for i, h in reversed(list(enumerate(header)))}
    missing = [c for c in REQUIRED[kind] if c.lower() not in lookup]
    if missing:
        raise RosterFileError(
            N_("필수 열 %(cols)s이(가) 없습니다 (1행 머리글을 확인해 주세요)."),
            cols=", ".join(f"'{c}'" for c in missing),
        )
    width = len(header)
    cols = {c: lookup.get(c.lower(), width) for c in REQUIRED[kind] + OPTIONAL[kind]}
    rows: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for row in reader:
            start = line + 1
            line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) <= width:  # pad so absent optional columns (index `width`) read as ""
                row.extend([""] * (width + 1 - len(row)))
            else:
                row = row[:width] + [""]
            rows.append((start, row))
    except csv.Error as err:
        raise RosterFileError(
            N_("%(line)d행 근처의 CSV 형식이 올바르지 않습니다: %(detail)s"), line=line + 1, detail=str(err)
        ) from None
    return _Table(name, cols, rows)


def _key(value: str | None) -> str:
    """A sourcedId read back from a query that matched it (IN …), hence never NULL."""
    if value is None:
        raise ValueError("a matched sourcedId is NULL")
    return value


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _split_ids(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _school_level(name: str) -> SchoolLevel | None:
    """Guess the level from a Korean school name (OneRoster has no such column)."""
    n = name.replace(" ", "")
    if "특수" in n:
        return SchoolLevel.special
    if n.endswith(("초등학교", "초")):
        return SchoolLevel.elementary
    if n.endswith(("중학교", "중")):
        return SchoolLevel.middle
    if n.endswith(("고등학교", "고")):
        return SchoolLevel.high
    return None


def _korean_name(family: str, given: str) -> str:
    """성 + 이름 in Korean order: joined without a space when both are Hangul, else with one."""
    if not family or not given:
        return family or given
    return f"{family}{given}" if _HANGUL_RE.fullmatch(family + given) else f"{family} {given}"


def default_school_year(today: date) -> int:
    """The Korean school year (학년도) runs from March to February."""
    return today.year if today.month >= 3 else today.year - 1


# ───────────────────────────── the import ─────────────────────────────


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
    if postgres and written >= ANALYZE_AFTER_ROWS:
        # Fresh statistics (ANALYZE counts this transaction's own rows) so the next queries, and plans
        # cached on pooled connections, see the tables as they now are rather than as they were.
        session.execute(
            text("ANALYZE organisation, school_class, user_account, parent_link, class_membership")
        )
    run.result.errors.sort(key=_error_order)
    return run.result


def _error_order(err: RowError) -> tuple[int, int]:
    """Errors in the order the files are read (whole-file problems first), then by line."""
    order = {"academicsessions.csv": 1, "orgs.csv": 2, "classes.csv": 3, "users.csv": 4, "enrollments.csv": 5}
    return order.get(err.file.lower(), 0), err.line or 0


class _Importer:
    """One import run: reference maps filled stage by stage (orgs → classes → users → links → enrolments)."""

    def __init__(self, session: Session, actor: User, office: Organisation, default_year: int) -> None:
        self.s = session
        self.actor = actor
        self.office = office
        self.office_id = office.id  # read per row: a plain int, not an ORM attribute
        self.default_year = default_year
        self.now = utcnow()
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self.result = ImportResult()
        self.tables: dict[str, _Table] = {}
        self.bad_files: dict[str, str] = {}  # kind → file name, for "depends on a file that failed"
        # sourcedId → what later stages need; *_failed: sourcedId → the row that failed.
        self.orgs: dict[str, tuple[int, OrgKind]] = {}
        self.org_failed: dict[str, _Failed] = {}
        self.classes: dict[str, tuple[int, int, int]] = {}  # → (id, school_id, school_year)
        self.class_failed: dict[str, _Failed] = {}
        self.class_skipped: set[str] = set()
        self.users: dict[str, tuple[int, Role, int]] = {}  # → (id, role, org_id)
        self.user_failed: dict[str, _Failed] = {}
        self.new_user_ids: set[int] = set()  # created in this run: they have no memberships to look up
        self.years: dict[str, int] = {}  # academic session sourcedId → school year

    # ── bookkeeping ──

    def error(
        self,
        file: str,
        line: int | None,
        message: str,
        /,
        *,
        entity: str | None = None,
        warning: bool = False,
        **params: Any,
    ) -> None:
        r = self.result
        if warning:
            r.warning_count += 1
        else:
            r.error_count += 1
            if entity:
                r.counts[entity].failed += 1
        if len(r.errors) < MAX_REPORTED_ERRORS:
            r.errors.append(RowError(file, line, message, params, warning))

    def depends(
        self, file: str, line: int, entity: str, what: str, ref: str, failed: _Failed | None, kind: str
    ) -> None:
        """Report a row left out because the row (or the file) it refers to failed."""
        if failed is not None:
            self.error(
                file,
                line,
                N_("%(what)s '%(ref)s'의 행(%(file)s %(line)d행)에 오류가 있어 이 행도 가져오지 않았습니다."),
                entity=entity,
                what=what,
                ref=ref,
                file=failed.file,
                line=failed.line,
            )
        else:
            self.error(
                file,
                line,
                N_("%(what)s '%(ref)s'이(가) 있는 %(file)s 파일을 읽지 못해 이 행도 가져오지 않았습니다."),
                entity=entity,
                what=what,
                ref=ref,
                file=self.bad_files[kind],
            )

    def insert(self, model: type[Any], rows: list[dict[str, Any]], *, key: str | None = None) -> None:
        """Insert rows in bulk; with `key`, each row dict gets its new "id" (matched on that unique column)."""
        if not rows:
            return
        if self.postgres and len(rows) >= COPY_OVER:
            self._copy(model.__table__, rows, with_ids=key is not None)
            return
        for chunk in _chunks(rows):
            if key is None:
                self.s.execute(insert(model), list(chunk))
                continue
            by_key = {r[key]: r for r in chunk}
            for new_id, value in self.s.execute(
                insert(model).returning(model.id, getattr(model, key)), list(chunk)
            ):
                by_key[value]["id"] = new_id

    def _copy(self, table: Any, rows: list[dict[str, Any]], *, with_ids: bool) -> None:
        """PostgreSQL COPY: an INSERT per row (what executemany does) costs ~10× more on 100,000 rows."""
        if with_ids:
            # Take the ids from the table's sequence first, so rows and ids pair up without reading back.
            ids = self.s.scalars(
                text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                {"t": table.name, "n": len(rows)},
            ).all()
            for row, new_id in zip(rows, ids, strict=True):
                row["id"] = new_id
        columns = list(rows[0])
        names = ", ".join(table.c[c].name for c in columns)
        raw = self.s.connection().connection.driver_connection
        assert raw is not None  # a live psycopg connection while the session holds one
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                # Enum columns are non-native: SQLAlchemy stores the member's name.
                copy.write_row([v.name if isinstance(v, enum.Enum) else v for v in (row[c] for c in columns)])

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

    # ── reference lookups outside the files ──

    def load_office_orgs(self) -> None:
        rows = self.s.execute(
            select(Organisation.code, Organisation.id, Organisation.kind).where(
                Organisation.office_id == self.office.id, Organisation.code.is_not(None)
            )
        )
        self.orgs = {_key(code): (oid, kind) for code, oid, kind in rows}
        if self.office.code:
            self.orgs[self.office.code] = (self.office.id, OrgKind.office)

    def org_ref(
        self, file: str, line: int, entity: str, ref: str, what: str = N_("기관")
    ) -> tuple[int, OrgKind] | None:
        """The org a row points at, or None after reporting why not."""
        found = self.orgs.get(ref)
        if found is not None:
            return found
        if ref in self.org_failed or "orgs" in self.bad_files:
            self.depends(file, line, entity, what, ref, self.org_failed.get(ref), "orgs")
            return None
        self.error(
            file,
            line,
            N_("%(what)s '%(ref)s'을(를) 찾을 수 없습니다 (파일에도, 관할 교육청에도 없습니다)."),
            entity=entity,
            what=what,
            ref=ref,
        )
        return None

    def _load_users(self, sids: Iterable[str]) -> None:
        """Add users of this office named by sourcedId (not in the file) to the reference map."""
        wanted = sorted({s for s in sids if s not in self.users and s not in self.user_failed})
        for chunk in _chunks(wanted):
            for sid, uid, role, org_id in self.s.execute(
                select(User.sourced_id, User.id, User.role, User.org_id).where(
                    User.sourced_id.in_(chunk), User.office_id == self.office.id
                )
            ):
                self.users[_key(sid)] = (uid, role, org_id)

    def _load_classes(self, sids: Iterable[str]) -> None:
        wanted = sorted({s for s in sids if s not in self.classes and s not in self.class_failed})
        for chunk in _chunks(wanted):
            for code, cid, school_id, year in self.s.execute(
                select(SchoolClass.code, SchoolClass.id, SchoolClass.school_id, SchoolClass.school_year)
                .join(Organisation, Organisation.id == SchoolClass.school_id)
                .where(SchoolClass.code.in_(chunk), Organisation.office_id == self.office.id)
            ):
                self.classes[_key(code)] = (cid, school_id, year)

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
        if len(valid) > SCAN_OVER:
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
                elif plain_hashed < MAX_PLAIN_PASSWORDS:
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
                        max=MAX_PLAIN_PASSWORDS,
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
        if len(existing_users) > SCAN_OVER:  # most of an office: one scan beats dozens of IN (...) lookups
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


def _grade(value: str) -> int | None:
    m = _GRADE_RE.match(value.strip())
    if m is None:
        return None
    grade = int(m.group(1))
    return grade if 1 <= grade <= 12 else None


def _year(value: str) -> int | None:
    raw = value.strip()
    if not raw.isdigit():
        return None
    year = int(raw)
    return year if 2000 <= year <= 2100 else None


__all__ = [
    "ENTITIES",
    "MAX_PLAIN_PASSWORDS",
    "EntityCounts",
    "ImportResult",
    "RosterFileError",
    "RowError",
    "decode_csv",
    "default_school_year",
    "import_roster",
]
