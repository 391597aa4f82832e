"""Importing academicSessions.csv (school years) and classes.csv (homeroom classes; other classes skipped)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from courses.errors import N_
from courses.models import Organisation, OrgKind, SchoolClass
from courses.roster_import.bulk import chunks, matched
from courses.roster_import.files import Table
from courses.roster_import.report import Failed
from courses.roster_import.validation import class_fields, parse_year, split_ids

if TYPE_CHECKING:
    from courses.roster_import.importer import ImportRun


def import_sessions(run: ImportRun, t: Table) -> None:
    """School years by academic session sourcedId, for classes that name a term instead of a year."""
    i_sid, i_year = t.cols["sourcedId"], t.cols["schoolYear"]
    for line, row in t.rows:
        year = parse_year(row[i_year])
        if year is None:
            run.report.error(
                t.name, line, N_("학년도 '%(value)s'이(가) 올바르지 않습니다."), value=row[i_year].strip()
            )
            continue
        run.years[row[i_sid].strip()] = year


def import_classes(run: ImportRun, t: Table) -> None:
    """Upsert homeroom classes by sourcedId, adopting a hand-made class of the same school, year, grade and name."""
    c = t.cols
    i_sid, i_title, i_grades, i_code = c["sourcedId"], c["title"], c["grades"], c["classCode"]
    i_type, i_school, i_terms, i_year = (
        c["classType"],
        c["schoolSourcedId"],
        c["termSourcedIds"],
        c["schoolYear"],
    )
    counts = run.result.counts["classes"]
    seen: dict[str, int] = {}
    valid: list[tuple[int, str, int, int, int, str]] = []  # line, sid, school_id, year, grade, name
    for line, row in t.rows:
        sid = row[i_sid].strip()
        if not sid:
            run.report.error(t.name, line, N_("sourcedId가 비어 있습니다."), entity="classes")
            continue
        if sid in seen:
            run.report.error(
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
            run.class_skipped.add(sid)  # subject classes (scheduled) are not 반 in this LMS
            counts.skipped += 1
            continue
        parsed = class_fields(
            run.report, t.name, line, row[i_title].strip(), row[i_grades].strip(), row[i_code].strip()
        )
        year = _class_year(run, t.name, line, row[i_year].strip(), row[i_terms].strip())
        school_ref = row[i_school].strip()
        school = run.org_ref(t.name, line, "classes", school_ref, N_("학교")) if parsed and year else None
        if school is not None and school[1] != OrgKind.school:
            run.report.error(
                t.name, line, N_("'%(ref)s'은(는) 학교가 아닙니다."), entity="classes", ref=school_ref
            )
            school = None
        if parsed is None or year is None or school is None:
            run.class_failed[sid] = Failed(t.name, line)
            continue
        if len(sid) > 64:
            run.report.error(t.name, line, N_("sourcedId가 64자보다 깁니다."), entity="classes")
            run.class_failed[sid] = Failed(t.name, line)
            continue
        valid.append((line, sid, school[0], year, parsed[0], parsed[1]))

    # Existing classes: by code anywhere, and by (school, year, grade, name) in the schools named.
    by_code: dict[str, tuple[int, int, int, int, str, int | None]] = {}
    for chunk in chunks([v[1] for v in valid]):
        for code, cid, school_id, year, grade, name, office_id in run.s.execute(
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
            by_code[matched(code)] = (cid, school_id, year, grade, name, office_id)
    by_key: dict[tuple[int, int, int, str], tuple[int, str | None]] = {}
    school_ids = sorted({v[2] for v in valid})
    years = sorted({v[3] for v in valid})
    for chunk in chunks(school_ids):
        for cid, code, school_id, year, grade, name in run.s.execute(
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
        if held is not None and held[5] != run.office_id:
            run.report.error(
                t.name,
                line,
                N_("학급 '%(ref)s'은(는) 다른 교육청 소속이라 가져올 수 없습니다."),
                entity="classes",
                ref=sid,
            )
            run.class_failed[sid] = Failed(t.name, line)
            continue
        if key in key_rows:
            run.report.error(
                t.name,
                line,
                N_("같은 학교·학년도에 '%(grade)d학년 %(name)s'이(가) 이미 있습니다 (%(first)d행)."),
                entity="classes",
                grade=grade,
                name=name,
                first=key_rows[key],
            )
            run.class_failed[sid] = Failed(t.name, line)
            continue
        same_key = by_key.get(key)
        adopt = held is None and same_key is not None and same_key[1] is None
        if same_key is not None and not adopt and (held is None or same_key[0] != held[0]):
            run.report.error(
                t.name,
                line,
                N_("같은 학교·학년도에 '%(grade)d학년 %(name)s'이(가) 다른 sourcedId로 이미 있습니다."),
                entity="classes",
                grade=grade,
                name=name,
            )
            run.class_failed[sid] = Failed(t.name, line)
            continue
        key_rows[key] = line
        if adopt:
            assert same_key is not None
            # The class exists without a sourcedId (created by hand): adopt it rather than duplicate it.
            changed.append({"id": same_key[0], "code": sid})
            run.classes[sid] = (same_key[0], school_id, year)
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
            run.classes[sid] = (cid, school_id, year)
    if changed:
        run.s.execute(update(SchoolClass), changed)
    run.writer.insert(SchoolClass, new, key="code")
    for r in new:
        run.classes[r["code"]] = (r["id"], r["school_id"], r["school_year"])
    counts.created += len(new)
    counts.updated += len(changed)


def _class_year(run: ImportRun, file: str, line: int, year_raw: str, terms: str) -> int | None:
    if year_raw:
        year = parse_year(year_raw)
        if year is None:
            run.report.error(
                file,
                line,
                N_("학년도 '%(value)s'이(가) 올바르지 않습니다."),
                entity="classes",
                value=year_raw,
            )
        return year
    for term in split_ids(terms):
        if term in run.years:
            return run.years[term]
    return run.default_year
