"""Bulk writing: batched INSERTs (COPY on PostgreSQL), the error bookkeeping, and the reference lookups of
rows outside the files (the office's orgs, users and classes)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from courses.db import utcnow
from courses.errors import N_
from courses.models import (
    Organisation,
    OrgKind,
    Role,
    SchoolClass,
    User,
)
from courses.roster_import import rules
from courses.roster_import.files import (
    _Table,
)
from courses.roster_import.report import (
    ImportResult,
    RowError,
    _Failed,
)
from courses.roster_import.rules import (
    MAX_REPORTED_ERRORS,
    _chunks,
    _key,
)


class _Writer:
    """Bookkeeping and bulk writing of one import run, and the reference maps it fills stage by stage."""

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
        if self.postgres and len(rows) >= rules.COPY_OVER:
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
