"""Validating a row's cells: OneRoster's vocabularies mapped to ours, and the checks on single values."""

from __future__ import annotations

import re
from datetime import date

from courses.errors import N_
from courses.models import MemberRole, OrgKind, Role, SchoolLevel
from courses.roster_import.report import Reporter

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

TITLE_RE = re.compile(r"^\s*(\d{1,2})\s*학년\s*(.*?)\s*$")
GRADE_RE = re.compile(r"^0*(\d{1,2})(?:\s*학년)?$")
HANGUL_RE = re.compile("[\uac00-\ud7a3]+")
SPACE_RE = re.compile(r"\s")


def split_ids(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def school_level(name: str) -> SchoolLevel | None:
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


def korean_name(family: str, given: str) -> str:
    """성 + 이름 in Korean order: joined without a space when both are Hangul, else with one."""
    if not family or not given:
        return family or given
    return f"{family}{given}" if HANGUL_RE.fullmatch(family + given) else f"{family} {given}"


def default_school_year(today: date) -> int:
    """The Korean school year (학년도) runs from March to February."""
    return today.year if today.month >= 3 else today.year - 1


def parse_grade(value: str) -> int | None:
    m = GRADE_RE.match(value.strip())
    if m is None:
        return None
    grade = int(m.group(1))
    return grade if 1 <= grade <= 12 else None


def parse_year(value: str) -> int | None:
    raw = value.strip()
    if not raw.isdigit():
        return None
    year = int(raw)
    return year if 2000 <= year <= 2100 else None


def class_fields(
    report: Reporter, file: str, line: int, title: str, grades: str, code: str
) -> tuple[int, str] | None:
    """(grade, name) from the grades column and a title like '5학년 1반' (or the classCode)."""
    m = TITLE_RE.match(title)
    name = (m.group(2) if m else title) or code
    title_grade = int(m.group(1)) if m else None
    grade: int | None = title_grade
    if grades:
        values = {g.strip() for g in grades.split(",") if g.strip()}
        parsed = {parse_grade(g) for g in values}
        if len(values) != 1 or None in parsed:
            report.error(
                file,
                line,
                N_("학년 '%(value)s'이(가) 올바르지 않습니다 (담임 학급은 1~12 중 한 학년)."),
                entity="classes",
                value=grades,
            )
            return None
        grade = parsed.pop()
        if title_grade is not None and title_grade != grade:
            report.error(
                file,
                line,
                N_("학년(%(grade)d)이 제목 '%(title)s'과(와) 다릅니다."),
                entity="classes",
                grade=grade,
                title=title,
            )
            return None
    if grade is None or not 1 <= grade <= 12:
        report.error(
            file,
            line,
            N_("학년을 알 수 없습니다. grades 열에 1~12를 넣거나 제목을 '5학년 1반'처럼 써 주세요."),
            entity="classes",
        )
        return None
    if not name:
        report.error(file, line, N_("학급 이름(title 또는 classCode)이 비어 있습니다."), entity="classes")
        return None
    if name.isdigit():
        name = f"{int(name)}반"
    if len(name) > 60:
        report.error(file, line, N_("학급 이름은 60자 이내여야 합니다."), entity="classes")
        return None
    return grade, name
