"""Importing enrollments.csv: class memberships added, changed, moved (반 이동) or removed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update

from courses.errors import N_
from courses.models import ClassMembership, MemberRole, Role, SchoolClass, User
from courses.roster_import import bulk
from courses.roster_import.bulk import chunks
from courses.roster_import.files import Table
from courses.roster_import.validation import ENROL_ROLES, TEACHING_ROLES

if TYPE_CHECKING:
    from courses.roster_import.importer import ImportRun


def import_enrolments(run: ImportRun, t: Table) -> None:
    """Add, change, move (one homeroom class per student and year) or remove class memberships."""
    c = t.cols
    i_sid, i_class, i_user, i_role, i_status = (
        c["sourcedId"],
        c["classSourcedId"],
        c["userSourcedId"],
        c["role"],
        c["status"],
    )
    counts = run.result.counts["enrollments"]
    run.load_classes(row[i_class].strip() for _, row in t.rows)
    run.load_users(row[i_user].strip() for _, row in t.rows)
    seen_sid: dict[str, int] = {}
    seen_pair: dict[tuple[int, int], int] = {}
    student_year: dict[tuple[int, int], int] = {}  # (student, year) → line of their class in this file
    valid: list[tuple[int, int, int, MemberRole, int, bool]] = []  # line, class, user, role, year, delete
    for line, row in t.rows:
        sid, class_ref, user_ref = row[i_sid].strip(), row[i_class].strip(), row[i_user].strip()
        if sid:
            if sid in seen_sid:
                run.report.error(
                    t.name,
                    line,
                    N_("sourcedId '%(ref)s'이(가) 이 파일에서 중복됩니다 (%(first)d행에 먼저 나옵니다)."),
                    entity="enrollments",
                    ref=sid,
                    first=seen_sid[sid],
                )
                continue
            seen_sid[sid] = line
        if class_ref in run.class_skipped:
            counts.skipped += 1
            continue
        role_raw = row[i_role].strip()
        role = ENROL_ROLES.get(role_raw.lower())
        if role is None:
            run.report.error(
                t.name,
                line,
                N_("역할 '%(value)s'을(를) 알 수 없습니다 (student 또는 teacher)."),
                entity="enrollments",
                value=role_raw,
            )
            continue
        if not class_ref or not user_ref:
            run.report.error(
                t.name,
                line,
                N_("classSourcedId와 userSourcedId를 모두 넣어 주세요."),
                entity="enrollments",
            )
            continue
        cls = run.classes.get(class_ref)
        if cls is None:
            if class_ref in run.class_failed or "classes" in run.report.bad_files:
                run.report.depends(
                    t.name,
                    line,
                    "enrollments",
                    N_("학급"),
                    class_ref,
                    run.class_failed.get(class_ref),
                    "classes",
                )
            else:
                run.report.error(
                    t.name,
                    line,
                    N_("학급 '%(ref)s'을(를) 찾을 수 없습니다 (파일에도, 관할 교육청에도 없습니다)."),
                    entity="enrollments",
                    ref=class_ref,
                )
            continue
        user = run.users.get(user_ref)
        if user is None:
            if user_ref in run.user_failed or "users" in run.report.bad_files:
                run.report.depends(
                    t.name,
                    line,
                    "enrollments",
                    N_("사용자"),
                    user_ref,
                    run.user_failed.get(user_ref),
                    "users",
                )
            else:
                run.report.error(
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
            run.report.error(
                t.name,
                line,
                N_("사용자 '%(ref)s'은(는) 학생이 아닙니다."),
                entity="enrollments",
                ref=user_ref,
            )
            continue
        if role == MemberRole.teacher and user_role not in TEACHING_ROLES:
            run.report.error(
                t.name,
                line,
                N_("사용자 '%(ref)s'은(는) 교사가 아닙니다."),
                entity="enrollments",
                ref=user_ref,
            )
            continue
        if org_id != school_id:
            run.report.error(
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
            run.report.error(
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
                run.report.error(
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
    existing_users = sorted({u for _, _, u, _, _, _ in valid} - run.new_user_ids)
    have: dict[tuple[int, int], tuple[int, MemberRole]] = {}
    homeroom: dict[tuple[int, int], tuple[int, int]] = {}  # (student, year) → (membership id, class id)
    stmt = select(
        ClassMembership.id,
        ClassMembership.class_id,
        ClassMembership.user_id,
        ClassMembership.role,
        SchoolClass.school_year,
    ).join(SchoolClass, SchoolClass.id == ClassMembership.class_id)
    if len(existing_users) > bulk.SCAN_OVER:  # most of an office: one scan beats dozens of IN (...) lookups
        wanted = set(existing_users)
        batches = [stmt.join(User, User.id == ClassMembership.user_id).where(User.office_id == run.office.id)]
    else:
        wanted = None
        batches = [stmt.where(ClassMembership.user_id.in_(chunk)) for chunk in chunks(existing_users)]
    for batch in batches:
        for mid, class_id, user_id, role, year in run.s.execute(batch):
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
    for chunk in chunks(dropped):
        run.s.execute(delete(ClassMembership).where(ClassMembership.id.in_(chunk)))
    if changed:
        run.s.execute(update(ClassMembership), changed)
    run.writer.insert(ClassMembership, new)
    counts.created += len(new)
    counts.updated += len(changed)
    counts.deleted += len(dropped)
