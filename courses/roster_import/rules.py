"""What the importer accepts: limits, file and role vocabularies, and the small parsers of row values."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from courses.errors import N_
from courses.models import (
    MemberRole,
    OrgKind,
    Role,
    SchoolLevel,
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
