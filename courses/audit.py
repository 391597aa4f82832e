"""The audit log of reads and exports of students' records: written by the views that show them, read by
office admins (every entry of their office; school admins are not shown it: it records what they did)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from courses import text
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


def _start_of(day: date) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime.combine(day, time.min, tzinfo=ZoneInfo("Asia/Seoul"))


COLUMNS = [N_("일시"), N_("이름"), N_("아이디"), N_("한 일"), N_("대상"), N_("내용"), N_("접속 주소")]


def as_report(rows: list[AccessLog], local_time: Callable[[datetime], str], period: str = "") -> Report:
    """The entries as a table for the page and the exports (period: the filter's dates, for the title)."""
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
                f"{r.subject_type} {r.subject_id or ''}".strip(),
                r.detail,
                r.ip,
            ]
            for r in rows
        ],
    )
