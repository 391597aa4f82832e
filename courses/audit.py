"""The audit log of reads and exports of students' records: written by the views that show them, read by
office admins (every entry of their office; school admins are not shown it: it records what they did)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from courses import labels, text
from courses.errors import N_
from courses.exports import Report
from courses.models import AccessAction, AccessLog, Role, User
from courses.policy import require

PAGE = 100
ACTION_LABELS = {
    AccessAction.attendance_viewed: N_("출석 현황 열람"),
    AccessAction.attendance_exported: N_("출석 현황 내보내기"),
    AccessAction.enrolment_viewed: N_("수강생 명단 열람"),
    AccessAction.enrolment_report_viewed: N_("수강 통계 열람"),
    AccessAction.enrolment_report_exported: N_("수강 통계 내보내기"),
    AccessAction.roster_imported: N_("명단 가져오기"),
    AccessAction.audit_log_exported: N_("열람 기록 내보내기"),
    AccessAction.progress_viewed: N_("시청 현황 열람"),
    AccessAction.progress_exported: N_("시청 현황 내보내기"),
    AccessAction.xapi_exported: N_("xAPI 내보내기"),
    AccessAction.completion_viewed: N_("이수 현황 열람"),
    AccessAction.completion_exported: N_("이수 현황 내보내기"),
    AccessAction.completion_confirmed: N_("이수 확인"),
    AccessAction.completion_revoked: N_("이수 확인 취소"),
    AccessAction.transcript_viewed: N_("이수 기록 열람"),
    AccessAction.transcript_exported: N_("이수 기록 내보내기"),
    AccessAction.dashboard_viewed: N_("이수 통계 열람"),
    AccessAction.dashboard_exported: N_("이수 통계 내보내기"),
    AccessAction.survey_results_viewed: N_("만족도 조사 결과 열람"),
    AccessAction.survey_results_exported: N_("만족도 조사 결과 내보내기"),
    AccessAction.people_listed: N_("사용자 목록 열람"),
    AccessAction.person_viewed: N_("학생 정보 열람"),
    AccessAction.person_edited: N_("사용자 정보 바꿈"),
    AccessAction.student_moved: N_("학생 반 옮김"),
    AccessAction.parent_linked: N_("보호자 연결"),
    AccessAction.parent_unlinked: N_("보호자 연결 끊음"),
    AccessAction.password_reset: N_("이메일 링크로 비밀번호 재설정"),
}


def record_access(
    session: Session,
    actor: User,
    action: AccessAction,
    subject_type: str,
    subject_id: int | None,
    *,
    ip: str,
    detail: str = "",
) -> None:
    """Note that the actor read or exported students' records (committed with the request)."""
    session.add(
        AccessLog(
            actor_id=actor.id,
            office_id=actor.office_id,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            detail=text.clean(detail)[:300],
            ip=(ip or "")[:45],
        )
    )


@dataclass(frozen=True)
class AuditFilter:
    """What an office admin narrows the log to."""

    person: str = ""
    action: AccessAction | None = None
    since: date | None = None
    until: date | None = None


def entries(
    session: Session, actor: User, f: AuditFilter, *, limit: int = PAGE, offset: int = 0
) -> tuple[list[AccessLog], int]:
    """The office's entries matching the filter, newest first, and how many match in all."""
    require(actor.role == Role.office_admin)
    stmt = select(AccessLog).where(AccessLog.office_id == actor.office_id)
    if f.person:
        like = text.contains_pattern(f.person)
        people = select(User.id).where(
            (User.username.like(like, escape="\\")) | (User.name.like(like, escape="\\"))
        )
        stmt = stmt.where(AccessLog.actor_id.in_(people))
    if f.action is not None:
        stmt = stmt.where(AccessLog.action == f.action)
    if f.since is not None:
        stmt = stmt.where(AccessLog.at >= _start_of(f.since))
    if f.until is not None:
        stmt = stmt.where(AccessLog.at < _start_of(f.until + timedelta(days=1)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.options(joinedload(AccessLog.actor))
        .order_by(AccessLog.at.desc(), AccessLog.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


# What a row is about when it names no one record (a report, a roster file).
SUBJECT_KINDS = {
    "report": N_("통계"),
    "roster": N_("명단 가져오기"),
    "people": N_("사용자 목록"),
    "audit_log": N_("열람 기록"),
    "enrolment": N_("수강생 명단"),
}


def subject_names(session: Session, rows: list[AccessLog]) -> dict[int, str]:
    """What each row is about, as people say it (a course's title, a student's name), by row id; rows
    about a record that no longer exists get the kind of record."""
    from courses.models import Course, Lesson, LiveSession

    wanted: dict[str, set[int]] = {}
    for r in rows:
        if r.subject_id is not None:
            wanted.setdefault(r.subject_type, set()).add(r.subject_id)
    names: dict[tuple[str, int], str] = {}
    if ids := wanted.get("course"):
        names |= {
            ("course", i): t
            for i, t in session.execute(select(Course.id, Course.title).where(Course.id.in_(ids)))
        }
    people = wanted.get("user", set()) | wanted.get("student", set())
    if people:
        found = dict(session.execute(select(User.id, User.name).where(User.id.in_(people))).tuples())
        for kind in ("user", "student"):
            names |= {(kind, i): found[i] for i in wanted.get(kind, set()) if i in found}
    if ids := wanted.get("lesson"):
        for i, ctitle, ltitle in session.execute(
            select(Lesson.id, Course.title, Lesson.title).join(Course).where(Lesson.id.in_(ids))
        ):
            names[("lesson", i)] = f"{ctitle} · {labels.lesson_title(ltitle)}"
    if ids := wanted.get("live_session"):
        for i, ctitle, ltitle in session.execute(
            select(LiveSession.id, Course.title, Lesson.title)
            .join(Lesson, Lesson.id == LiveSession.lesson_id)
            .join(Course, Course.id == Lesson.course_id)
            .where(LiveSession.id.in_(ids))
        ):
            names[("live_session", i)] = f"{ctitle} · {labels.lesson_title(ltitle)}"
    out = {}
    for r in rows:
        name = names.get((r.subject_type, r.subject_id or 0))
        out[r.id] = name or SUBJECT_KINDS.get(r.subject_type, "")
    return out


def _start_of(day: date) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime.combine(day, time.min, tzinfo=ZoneInfo("Asia/Seoul"))


COLUMNS = [N_("일시"), N_("이름"), N_("아이디"), N_("한 일"), N_("대상"), N_("내용"), N_("접속 주소")]


def as_report(
    rows: list[AccessLog],
    local_time: Callable[[datetime], str],
    subjects: dict[int, str],
    period: str = "",
) -> Report:
    """The entries as a table for the page and the exports (subjects: `subject_names`; period: the
    filter's dates, for the title)."""
    return Report(
        title=N_("열람 기록"),
        context=[(N_("기간"), period)] if period else [],
        columns=COLUMNS,
        rows=[
            [
                local_time(r.at),
                r.actor.name,
                r.actor.username,
                ACTION_LABELS[r.action],
                subjects.get(r.id, ""),
                r.detail,
                r.ip,
            ]
            for r in rows
        ],
    )
