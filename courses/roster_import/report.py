"""What an import reports: per-row errors (file, line, reason, and the row it depends on) and counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from courses.roster_import.rules import (
    ENTITIES,
)


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


class _Failed(NamedTuple):
    file: str
    line: int


def _error_order(err: RowError) -> tuple[int, int]:
    """Errors in the order the files are read (whole-file problems first), then by line."""
    order = {"academicsessions.csv": 1, "orgs.csv": 2, "classes.csv": 3, "users.csv": 4, "enrollments.csv": 5}
    return order.get(err.file.lower(), 0), err.line or 0
