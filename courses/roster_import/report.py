"""Reporting an import: counts per entity, the problems found (row by row, file by file) and their order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from courses.errors import N_

MAX_REPORTED_ERRORS = 1000  # the rest are counted, not listed

ENTITIES = ("orgs", "classes", "users", "parent_links", "enrollments")


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


class Failed(NamedTuple):
    """Where a row that was left out stands, for the rows that depend on it."""

    file: str
    line: int


class Reporter:
    """Records one run's problems into its :class:`ImportResult`, and remembers which files failed."""

    def __init__(self) -> None:
        self.result = ImportResult()
        self.bad_files: dict[str, str] = {}  # kind → file name, for "depends on a file that failed"

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
        """Count a failure (or a warning) and list it while fewer than MAX_REPORTED_ERRORS are listed."""
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
        self, file: str, line: int, entity: str, what: str, ref: str, failed: Failed | None, kind: str
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


def error_order(err: RowError) -> tuple[int, int]:
    """Errors in the order the files are read (whole-file problems first), then by line."""
    order = {"academicsessions.csv": 1, "orgs.csv": 2, "classes.csv": 3, "users.csv": 4, "enrollments.csv": 5}
    return order.get(err.file.lower(), 0), err.line or 0
