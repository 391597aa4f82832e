"""Cross-curricular course requests: submit, approve or reject, assign an instructor, run, confirm.

Every status change goes through `transition`, which checks the state machine and then the actor,
and writes a history row (who, when, from → to) and the notifications.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses import text
from courses.errors import N_, Errors, Forbidden, InvalidTransition, NotFound
from courses.models import (
    ClassMembership,
    ContentElement,
    Course,
    CourseEvent,
    CourseLevel,
    CourseStatus,
    CourseTarget,
    Delivery,
    EventKind,
    InstructorMode,
    InstructorProfile,
    Lesson,
    LessonKind,
    Material,
    MemberRole,
    NoticeCategory,
    Organisation,
    OrgKind,
    RecordingPolicy,
    Role,
    SchoolClass,
    Theme,
    User,
)
from courses.notifications import notify
from courses.policy import TRANSITIONS, approver_ids, require_action, require_status, taught_class_ids
from courses.policy import allowed_actions as _allowed_actions

SEOUL = ZoneInfo("Asia/Seoul")

STATUS_LABELS = {
    CourseStatus.submitted: N_("승인 대기"),
    CourseStatus.approved: N_("승인됨"),
    CourseStatus.rejected: N_("반려됨"),
    CourseStatus.withdrawn: N_("요청 취소"),
    CourseStatus.running: N_("운영 중"),
    CourseStatus.completed: N_("운영 완료"),
    CourseStatus.confirmed: N_("이수 확인"),
    CourseStatus.paid: N_("정산 완료"),
    CourseStatus.evaluated: N_("평가 완료"),
    CourseStatus.cancelled: N_("취소됨"),
}

# What the person who took an action is told, in plain Korean ("반려했습니다.", not "처리했습니다: 반려됨").
DONE_MESSAGES = {
    "approve": N_("승인했습니다."),
    "reject": N_("반려했습니다. 요청자에게 사유를 알렸습니다."),
    "withdraw": N_("요청을 철회했습니다."),
    "cancel": N_("강좌를 취소했습니다."),
    "start": N_("운영을 시작했습니다."),
    "complete": N_("운영 완료로 처리했습니다. 이제 학교가 이수를 확인합니다."),
    "confirm": N_("이수를 확인했습니다."),
}

TITLE_MAX, GOALS_MAX, REASON_MAX = 120, 2000, 500
MAX_LESSONS, MAX_HOURS = 60, 200


@dataclass
class TargetInput:
    """A target: a school, optionally one grade or one class of it."""

    school_id: int
    grade: int | None = None
    class_id: int | None = None


@dataclass
class LessonTimeInput:
    """One lesson's date and times as the requester set them (Seoul time); any may be missing."""

    number: int
    day: date | None = None
    start: time | None = None
    end: time | None = None

    @property
    def empty(self) -> bool:
        return self.day is None and self.start is None and self.end is None


@dataclass
class CourseInput:
    """What a requester fills in. Strings come straight from forms or JSON and are validated here."""

    level: str
    theme_id: int | None
    title: str
    goals: str
    delivery: str
    lesson_count: int | None
    hours: int | None
    start_date: date | None
    end_date: date | None
    instructor_mode: str
    content_element_id: int | None = None
    schedule_note: str = ""
    recording_policy: str = RecordingPolicy.none.value
    instructor_id: int | None = None
    class_id: int | None = None  # for class-level requests
    targets: list[TargetInput] = field(default_factory=list)
    completion_threshold_pct: int = 85
    watch_threshold_pct: int = 90
    schedule: list[LessonTimeInput] = field(default_factory=list)  # lessons' dates and times, by number


def _enum(errors: Errors, name: str, enum_cls: type, value: str):  # type: ignore[no-untyped-def]
    try:
        return enum_cls(value)
    except ValueError:
        errors.add(name, N_("허용되지 않는 값입니다."))
        return None


def _validate(session: Session, actor: User, data: CourseInput, today: date) -> tuple[Errors, dict]:  # type: ignore[type-arg]
    """Check every field and the targets against the actor's scope; return errors and clean values."""
    e = Errors()
    clean: dict = {}  # type: ignore[type-arg]
    level = _enum(e, "level", CourseLevel, data.level)
    delivery = _enum(e, "delivery", Delivery, data.delivery)
    mode = _enum(e, "instructor_mode", InstructorMode, data.instructor_mode)
    policy = _enum(e, "recording_policy", RecordingPolicy, data.recording_policy)
    title = text.clean(data.title)
    goals = text.clean(data.goals, multiline=True)
    if not 2 <= text.visible_length(title) <= TITLE_MAX:
        e.add("title", N_("제목은 %(min)d~%(max)d자로 입력하세요."), min=2, max=TITLE_MAX)
    if not 1 <= text.visible_length(goals) <= GOALS_MAX:
        e.add("goals", N_("목표는 1~%(max)d자로 입력하세요."), max=GOALS_MAX)
    if len(data.schedule_note or "") > 300:
        e.add("schedule_note", N_("%(max)d자 이내로 입력하세요."), max=300)
    if data.lesson_count is None or not 1 <= data.lesson_count <= MAX_LESSONS:
        e.add("lesson_count", N_("수업 횟수는 1~%(max)d 사이여야 합니다."), max=MAX_LESSONS)
    if data.hours is None or not 1 <= data.hours <= MAX_HOURS:
        e.add("hours", N_("차시는 1~%(max)d 사이여야 합니다."), max=MAX_HOURS)
    elif data.lesson_count and data.hours < data.lesson_count:
        e.add("hours", N_("차시는 수업 횟수보다 적을 수 없습니다."))
    if not 50 <= data.completion_threshold_pct <= 100:
        e.add("completion_threshold_pct", N_("이수 기준은 50~100%% 사이여야 합니다."))
    if not 50 <= data.watch_threshold_pct <= 100:
        e.add("watch_threshold_pct", N_("이수 기준은 50~100%% 사이여야 합니다."))
    if data.start_date is None:
        e.add("start_date", N_("시작일을 입력하세요."))
    elif data.start_date < today:
        e.add("start_date", N_("시작일은 오늘 이후여야 합니다."))
    elif data.start_date > today + timedelta(days=730):
        e.add("start_date", N_("시작일은 2년 이내여야 합니다."))
    if data.end_date is None:
        e.add("end_date", N_("종료일을 입력하세요."))
    elif data.start_date and data.end_date < data.start_date:
        e.add("end_date", N_("종료일은 시작일 이후여야 합니다."))
    elif data.start_date and data.end_date > data.start_date + timedelta(days=366):
        e.add("end_date", N_("운영 기간은 1년 이내여야 합니다."))

    theme = session.get(Theme, data.theme_id) if data.theme_id else None
    if theme is None:
        e.add("theme_id", N_("주제를 선택하세요."))
    elif not theme.active:
        e.add("theme_id", N_("사용이 중지된 주제입니다. 다른 주제를 선택하세요."))
    if data.content_element_id is not None:
        element = session.get(ContentElement, data.content_element_id)
        if element is None or theme is None or element.theme_id != theme.id:
            e.add("content_element_id", N_("선택한 주제의 내용 요소가 아닙니다."))

    times = _validate_schedule(e, data)

    targets: list[CourseTarget] = []
    school_id: int | None = None
    class_obj: SchoolClass | None = None
    if level == CourseLevel.office:
        if actor.role != Role.office_admin:
            e.add("level", N_("교육청 단위 요청은 교육청 관리자만 할 수 있습니다."))
        targets = _targets_in_office(session, actor, data.targets, e)
    elif level == CourseLevel.school:
        if actor.role != Role.school_admin:
            e.add("level", N_("학교 단위 요청은 학교 관리자만 할 수 있습니다."))
        school_id = actor.org_id
        targets = _targets_in_school(session, actor.org_id, data.targets, e)
    elif level == CourseLevel.class_:
        if actor.role not in (Role.teacher, Role.school_admin):
            e.add("level", N_("학급 단위 요청은 교사 또는 학교 관리자만 할 수 있습니다."))
        class_obj = session.get(SchoolClass, data.class_id) if data.class_id else None
        allowed = class_obj is not None and class_obj.school_id == actor.org_id
        if class_obj is not None and allowed and actor.role == Role.teacher:
            taught = taught_class_ids(actor).where(ClassMembership.class_id == class_obj.id)
            allowed = session.scalar(taught) is not None
        if not allowed or class_obj is None:
            e.add("class_id", N_("담당 학급을 선택하세요."))
        else:
            school_id = class_obj.school_id
            targets = [
                CourseTarget(school_id=class_obj.school_id, grade=class_obj.grade, class_id=class_obj.id)
            ]

    instructor_id = data.instructor_id
    if instructor_id is not None and mode is not None:
        _check_instructor(session, actor, mode, instructor_id, school_id, class_obj, e)
    elif mode == InstructorMode.homeroom:
        if class_obj is None:
            if level is not None and level != CourseLevel.class_:
                e.add("instructor_mode", N_("담임 교사 수업은 학급 단위 요청에서만 선택할 수 있습니다."))
        else:
            instructor_id = _homeroom_teacher_id(session, class_obj.id, actor)

    clean.update(
        level=level,
        delivery=delivery,
        instructor_mode=mode,
        recording_policy=policy,
        title=title,
        goals=goals,
        theme=theme,
        targets=targets,
        school_id=school_id,
        class_obj=class_obj,
        instructor_id=instructor_id,
        times=times,
    )
    return e, clean


def lesson_field(kind: str, number: int) -> str:
    """The form field of a lesson's date, start or end ("lesson_end_2"): errors are keyed by it."""
    return f"lesson_{kind}_{number}"


LESSON_FIELD_RE = re.compile(r"^lesson_(date|start|end)_([1-9][0-9]?)$")


def _validate_schedule(e: Errors, data: CourseInput) -> dict[int, tuple[datetime, datetime]]:
    """Each lesson's date and times: complete, the end after the start, inside the course's dates."""
    count = data.lesson_count if data.lesson_count and 1 <= data.lesson_count <= MAX_LESSONS else None
    period = (data.start_date, data.end_date) if data.start_date and data.end_date else None
    out: dict[int, tuple[datetime, datetime]] = {}
    seen: set[int] = set()
    for row in data.schedule:
        n = row.number
        if not 1 <= n <= MAX_LESSONS or n in seen:
            e.add("schedule", N_("차시 번호가 올바르지 않습니다."))
            continue
        seen.add(n)
        if row.empty:
            continue
        if count is not None and n > count:
            e.add(
                lesson_field("date", n),
                N_(
                    "수업 횟수(%(count)d회)보다 뒤의 차시입니다. 수업 횟수를 늘리거나 이 차시의 일정을 지우세요."
                ),
                count=count,
            )
            continue
        ok = True
        if row.day is None:
            e.add(lesson_field("date", n), N_("날짜를 입력하세요."))
            ok = False
        elif period and not period[0] <= row.day <= period[1]:
            e.add(
                lesson_field("date", n),
                N_("운영 기간(%(start)s~%(end)s) 안의 날짜를 입력하세요."),
                start=period[0].isoformat(),
                end=period[1].isoformat(),
            )
            ok = False
        if row.start is None:
            e.add(lesson_field("start", n), N_("시작 시각을 입력하세요."))
            ok = False
        if row.end is None:
            e.add(lesson_field("end", n), N_("종료 시각을 입력하세요."))
            ok = False
        elif row.start is not None and row.end <= row.start:
            e.add(lesson_field("end", n), N_("시작보다 늦어야 합니다."))
            ok = False
        if ok and row.day and row.start and row.end:
            out[n] = (
                datetime.combine(row.day, row.start, tzinfo=SEOUL),
                datetime.combine(row.day, row.end, tzinfo=SEOUL),
            )
    return out


def _lesson_kind(delivery: Delivery, number: int) -> LessonKind:
    if delivery == Delivery.blended:
        return LessonKind.live if number % 2 else LessonKind.recorded
    return LessonKind.recorded if delivery == Delivery.recorded else LessonKind.live


def _set_lessons(course: Course, times: dict[int, tuple[datetime, datetime]]) -> None:
    """Make the course's lessons match its count, delivery and hours, with the requested dates and times.

    Only for requests (submitted or being fixed): no lesson of one has a live session or a video yet.
    """
    existing = {lesson.number: lesson for lesson in course.lessons}
    lessons = []
    for n in range(1, course.lesson_count + 1):
        lesson = existing.get(n) or Lesson(number=n, title=f"{n}차시")
        lesson.kind = _lesson_kind(course.delivery, n)
        lesson.credit_hours = lesson_hours(course.hours, course.lesson_count, n)
        lesson.starts_at, lesson.ends_at = times.get(n, (None, None))
        lessons.append(lesson)
    course.lessons = lessons


def _targets_in_office(
    session: Session, actor: User, targets: list[TargetInput], e: Errors
) -> list[CourseTarget]:
    if not targets:
        e.add("targets", N_("대상 학교를 하나 이상 선택하세요."))
        return []
    school_ids = {t.school_id for t in targets}
    found = set(
        session.scalars(
            select(Organisation.id).where(
                Organisation.id.in_(school_ids),
                Organisation.kind == OrgKind.school,
                Organisation.office_id == actor.office_id,
            )
        )
    )
    if found != school_ids:
        e.add("targets", N_("관할 밖의 학교가 대상에 있습니다."))
        return []
    out: list[CourseTarget] = []
    for t in targets:
        out.extend(_targets_in_school(session, t.school_id, [t], e))
    return out


def _targets_in_school(
    session: Session, school_id: int, targets: list[TargetInput], e: Errors
) -> list[CourseTarget]:
    if not targets:
        return [CourseTarget(school_id=school_id)]
    out: list[CourseTarget] = []
    for t in targets:
        if t.school_id != school_id:
            e.add("targets", N_("관할 밖의 학교가 대상에 있습니다."))
            return []
        if t.grade is not None and not 1 <= t.grade <= 12:
            e.add("targets", N_("학년이 올바르지 않습니다."))
            return []
        if t.class_id is not None:
            cls = session.get(SchoolClass, t.class_id)
            if cls is None or cls.school_id != school_id:
                e.add("targets", N_("관할 밖의 학급이 대상에 있습니다."))
                return []
            out.append(CourseTarget(school_id=school_id, grade=cls.grade, class_id=cls.id))
        else:
            out.append(CourseTarget(school_id=school_id, grade=t.grade))
    return out


def _homeroom_teacher_id(session: Session, class_id: int, actor: User) -> int | None:
    if actor.role == Role.teacher:
        return actor.id
    return session.scalar(
        select(ClassMembership.user_id)
        .where(ClassMembership.class_id == class_id, ClassMembership.role == MemberRole.teacher)
        .order_by(ClassMembership.id)
        .limit(1)
    )


def _check_instructor(
    session: Session,
    actor: User,
    mode: InstructorMode,
    instructor_id: int,
    school_id: int | None,
    class_obj: SchoolClass | None,
    e: Errors,
) -> None:
    person = session.get(User, instructor_id)
    if person is None or person.office_id != actor.office_id or not person.active:
        e.add("instructor_id", N_("강사를 찾을 수 없습니다."))
        return
    if mode in (InstructorMode.office, InstructorMode.external):
        profile = session.scalar(select(InstructorProfile).where(InstructorProfile.user_id == person.id))
        if profile is None or profile.external != (mode == InstructorMode.external):
            e.add("instructor_id", N_("강사 인력풀에 없는 강사입니다."))
        elif not profile.active:
            e.add("instructor_id", N_("비활성화된 강사는 새로 배정할 수 없습니다."))
    elif mode in (InstructorMode.school, InstructorMode.homeroom) and (
        person.role != Role.teacher or (school_id is not None and person.org_id != school_id)
    ):
        e.add("instructor_id", N_("해당 학교의 교사를 선택하세요."))


def lesson_hours(hours: int, lesson_count: int, number: int) -> int:
    """The course's hours spread over its lessons: equal shares, the first lessons taking the remainder."""
    base, extra = divmod(hours, max(1, lesson_count))
    return base + (1 if number <= extra else 0)


def submit_request(session: Session, actor: User, data: CourseInput, *, today: date | None = None) -> Course:
    """Request a course at office, school or class level; approvers are notified."""
    today = today or date.today()
    e, c = _validate(session, actor, data, today)
    e.raise_if_any()
    course = Course(
        level=c["level"],
        status=CourseStatus.submitted,
        office_id=actor.office_id,
        school_id=c["school_id"],
        class_id=c["class_obj"].id if c["class_obj"] else None,
        requester_id=actor.id,
        theme_id=c["theme"].id,
        content_element_id=data.content_element_id,
        title=c["title"],
        goals=c["goals"],
        delivery=c["delivery"],
        lesson_count=data.lesson_count,
        hours=data.hours,
        start_date=data.start_date,
        end_date=data.end_date,
        schedule_note=text.clean(data.schedule_note),
        instructor_mode=c["instructor_mode"],
        instructor_id=c["instructor_id"],
        recording_policy=c["recording_policy"],
        completion_threshold_pct=data.completion_threshold_pct,
        watch_threshold_pct=data.watch_threshold_pct,
        targets=c["targets"],
    )
    _set_lessons(course, c["times"])
    session.add(course)
    session.flush()
    _record(session, course, actor, EventKind.status, None, CourseStatus.submitted.value)
    notify(session, approver_ids(session, course), N_("새 강좌 요청"), course.title, f"/courses/{course.id}")
    return course


def resubmit(
    session: Session, actor: User, course: Course, data: CourseInput, *, today: date | None = None
) -> Course:
    """Edit a rejected request and send it for approval again."""
    check_transition(course, CourseStatus.submitted)
    require_action(session, actor, course, "resubmit")
    data.level = course.level.value
    if course.class_id:
        data.class_id = course.class_id
    e, c = _validate(session, actor, data, today or date.today())
    e.raise_if_any()
    for name in ("title", "goals", "delivery", "instructor_mode", "recording_policy", "instructor_id"):
        setattr(course, name, c[name])
    course.theme_id = c["theme"].id
    course.content_element_id = data.content_element_id
    course.lesson_count, course.hours = data.lesson_count, data.hours  # type: ignore[assignment]
    course.start_date, course.end_date = data.start_date, data.end_date  # type: ignore[assignment]
    course.schedule_note = text.clean(data.schedule_note)
    course.targets = c["targets"]
    course.completion_threshold_pct = data.completion_threshold_pct
    course.watch_threshold_pct = data.watch_threshold_pct
    _set_lessons(course, c["times"])
    course.decision_reason = None
    _set_status(session, course, actor, CourseStatus.submitted, "")
    notify(session, approver_ids(session, course), N_("강좌 재요청"), course.title, f"/courses/{course.id}")
    return course


def may_resubmit(session: Session, actor: User, course: Course) -> bool:
    """Whether the actor may fix and resend this request now (its requester, while it is rejected)."""
    from courses.policy import may

    return may(session, actor, course, "resubmit")


def check_transition(course: Course, to: CourseStatus) -> None:
    """InvalidTransition, naming both statuses, unless the state machine allows course → to."""
    if to not in TRANSITIONS.get(course.status, frozenset()):
        raise InvalidTransition(
            N_("'%(from_)s' 상태에서 '%(to)s'(으)로 바꿀 수 없습니다."),
            from_=STATUS_LABELS[course.status],
            to=STATUS_LABELS[to],
        )


def _set_status(session: Session, course: Course, actor: User, to: CourseStatus, reason: str) -> None:
    before = course.status
    course.status = to
    _record(session, course, actor, EventKind.status, before.value, to.value, reason)


def _record(
    session: Session,
    course: Course,
    actor: User | None,
    kind: EventKind,
    from_value: str | None,
    to_value: str | None,
    detail: str = "",
) -> None:
    session.add(
        CourseEvent(
            course_id=course.id,
            actor_id=actor.id if actor else None,
            kind=kind,
            from_value=from_value,
            to_value=to_value,
            detail=detail[:REASON_MAX],
        )
    )


def _reason(reason: str | None, required: bool) -> str:
    cleaned = text.clean(reason, multiline=True)
    e = Errors()
    if required and not text.is_visible(cleaned):
        e.add("reason", N_("사유를 입력하세요."))
    if len(cleaned) > REASON_MAX:
        e.add("reason", N_("사유는 %(max)d자 이내로 입력하세요."), max=REASON_MAX)
    e.raise_if_any()
    return cleaned


def approve(session: Session, actor: User, course: Course, reason: str | None = None) -> Course:
    """Approve a submitted request (office for office/school level, school for class level)."""
    check_transition(course, CourseStatus.approved)
    require_action(session, actor, course, "approve")
    text = _reason(reason, required=False)
    course.decision_reason = text or None
    _set_status(session, course, actor, CourseStatus.approved, text)
    from courses.live import sync_live_session  # live builds on workflow, not the other way round

    for lesson in course.lessons:  # lessons whose times the request set get their live rooms
        sync_live_session(session, lesson)
    notify(
        session,
        [course.requester_id],
        N_("강좌 요청이 승인되었습니다"),
        course.title,
        f"/courses/{course.id}",
        category=NoticeCategory.decision,
    )
    return course


def reject(session: Session, actor: User, course: Course, reason: str | None) -> Course:
    """Reject a submitted request; a reason is required and shown to the requester."""
    check_transition(course, CourseStatus.rejected)
    require_action(session, actor, course, "reject")
    text = _reason(reason, required=True)
    course.decision_reason = text
    _set_status(session, course, actor, CourseStatus.rejected, text)
    notify(
        session,
        [course.requester_id],
        N_("강좌 요청이 반려되었습니다"),
        f"{course.title}: {text}",
        f"/courses/{course.id}",
        category=NoticeCategory.decision,
    )
    return course


def withdraw(session: Session, actor: User, course: Course) -> Course:
    """The requester takes back a request still awaiting approval."""
    check_transition(course, CourseStatus.withdrawn)
    require_action(session, actor, course, "withdraw")
    _set_status(session, course, actor, CourseStatus.withdrawn, "")
    return course


def cancel(session: Session, actor: User, course: Course, reason: str | None) -> Course:
    """An approver cancels an approved course before it runs."""
    check_transition(course, CourseStatus.cancelled)
    require_action(session, actor, course, "cancel")
    text = _reason(reason, required=True)
    _set_status(session, course, actor, CourseStatus.cancelled, text)
    notify(
        session,
        [course.requester_id],
        N_("강좌가 취소되었습니다"),
        f"{course.title}: {text}",
        f"/courses/{course.id}",
        category=NoticeCategory.decision,
    )
    return course


def start(session: Session, actor: User, course: Course) -> Course:
    """Start running an approved course."""
    check_transition(course, CourseStatus.running)
    require_action(session, actor, course, "start")
    _set_status(session, course, actor, CourseStatus.running, "")
    return course


def complete(session: Session, actor: User, course: Course) -> Course:
    """Mark a running course as finished; the school then confirms completion."""
    check_transition(course, CourseStatus.completed)
    require_action(session, actor, course, "complete")
    _set_status(session, course, actor, CourseStatus.completed, "")
    return course


def confirm_completion(session: Session, actor: User, course: Course) -> Course:
    """A school confirms completion for its own students (see courses.completion for the records)."""
    from courses import completion

    completion.confirm(session, actor, course)
    return course


def mark_confirmed(session: Session, actor: User, course: Course) -> None:
    """Every school has confirmed: the course moves to confirmed (called by courses.completion)."""
    check_transition(course, CourseStatus.confirmed)
    _set_status(session, course, actor, CourseStatus.confirmed, "")


def reopen_confirmation(session: Session, actor: User, course: Course, reason: str) -> None:
    """A school un-confirmed: the course is back to awaiting confirmation (called by courses.completion)."""
    if course.status != CourseStatus.confirmed:
        raise InvalidTransition(N_("이 상태의 강좌에서는 할 수 없는 일입니다."))
    _set_status(session, course, actor, CourseStatus.completed, reason)


def record_event(
    session: Session,
    course: Course,
    actor: User | None,
    kind: EventKind,
    from_value: str | None,
    to_value: str | None,
    detail: str = "",
) -> None:
    """Add a line to the course's history."""
    _record(session, course, actor, kind, from_value, to_value, detail)


def assign_instructor(session: Session, actor: User, course: Course, mode: str, instructor_id: int) -> Course:
    """Give the course an instructor (after approval, or while it awaits approval)."""
    require_status(course, "assign_instructor", N_("이 상태에서는 강사를 지정할 수 없습니다."))
    require_action(session, actor, course, "assign_instructor")
    e = Errors()
    mode_enum = _enum(e, "instructor_mode", InstructorMode, mode)
    if mode_enum is not None:
        _check_instructor(session, actor, mode_enum, instructor_id, course.school_id, course.school_class, e)
    e.raise_if_any()
    before = str(course.instructor_id) if course.instructor_id else None
    course.instructor_mode = mode_enum
    course.instructor_id = instructor_id
    _record(session, course, actor, EventKind.instructor, before, str(instructor_id))
    notify(session, [instructor_id], N_("강사로 지정되었습니다"), course.title, f"/courses/{course.id}")
    return course


def lesson_text(e: Errors, title: str, description: str) -> tuple[str, str]:
    """A lesson's title and description, cleaned, with their rules checked into `e`."""
    title = text.clean(title)
    description = text.clean(description or "", multiline=True)
    if not 1 <= text.visible_length(title) <= TITLE_MAX:
        e.add("title", N_("제목은 %(min)d~%(max)d자로 입력하세요."), min=1, max=TITLE_MAX)
    if len(description) > GOALS_MAX:
        e.add("description", N_("%(max)d자 이내로 입력하세요."), max=GOALS_MAX)
    return title, description


def update_lesson(
    session: Session,
    actor: User,
    course: Course,
    lesson_id: int,
    *,
    title: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
    description: str,
) -> Lesson:
    """Edit a lesson's title and schedule."""
    require_status(course, "edit_lessons", N_("승인되었거나 운영 중인 강좌만 고칠 수 있습니다."))
    require_action(session, actor, course, "edit_lessons")
    lesson = session.get(Lesson, lesson_id)
    if lesson is None or lesson.course_id != course.id:
        raise NotFound()
    e = Errors()
    title, description = lesson_text(e, title, description)
    if starts_at and ends_at and ends_at <= starts_at:
        e.add("ends_at", N_("종료 시각은 시작 시각 이후여야 합니다."))
    e.raise_if_any()
    moved = lesson.starts_at is not None and (lesson.starts_at, lesson.ends_at) != (starts_at, ends_at)
    lesson.title, lesson.starts_at, lesson.ends_at, lesson.description = (
        title,
        starts_at,
        ends_at,
        description or "",
    )
    if moved:  # a lesson students may have planned for moved: tell them (and their parents)
        from courses.notifications import notify_course_audience

        when = f"{starts_at.astimezone(SEOUL):%Y-%m-%d %H:%M}" if starts_at else "미정"
        notify_course_audience(
            session,
            course.id,
            N_("수업 일정이 바뀌었습니다"),
            f"{course.title} · {title}: {when}",
            f"/courses/{course.id}",
            category=NoticeCategory.reschedule,
        )
    from courses.live import sync_live_session  # live builds on workflow, not the other way round

    sync_live_session(session, lesson)
    return lesson


def add_material(session: Session, actor: User, course: Course, *, title: str, url: str) -> Material:
    """Attach a link to the course's materials."""
    require_status(course, "edit_lessons", N_("승인되었거나 운영 중인 강좌만 고칠 수 있습니다."))
    require_action(session, actor, course, "edit_lessons")
    e = Errors()
    title, url = text.clean(title), text.clean(url)
    if not 1 <= text.visible_length(title) <= TITLE_MAX:
        e.add("title", N_("제목은 %(min)d~%(max)d자로 입력하세요."), min=1, max=TITLE_MAX)
    if not url.startswith(("https://", "http://")) or len(url) > 500:
        e.add("url", N_("http(s)로 시작하는 주소를 입력하세요."))
    e.raise_if_any()
    material = Material(course_id=course.id, title=title, url=url, added_by_id=actor.id)
    session.add(material)
    return material


def history(session: Session, course: Course) -> list[CourseEvent]:
    """The course's history, oldest first."""
    return list(
        session.scalars(
            select(CourseEvent).where(CourseEvent.course_id == course.id).order_by(CourseEvent.id)
        )
    )


@dataclass
class HistoryLine:
    """A history row as people read it: what happened (a msgid and its params) and the names involved."""

    event: CourseEvent
    what: tuple[str, dict[str, Any]]
    detail: str


# Rows written before history named people and groups held ids (kept: history is never rewritten).
_LEGACY_GROUP = re.compile(r"^school=(\d{1,18})(?: grade=(\d{1,2}))?(?: class=(\d{1,18}))?$")
_LEGACY_STUDENT = re.compile(r"^id=(\d{1,18})$")
_COMPLETION_EVENTS = {"confirmed": N_("이수 확인"), "revoked": N_("이수 확인 취소")}
UNKNOWN_PERSON = N_("(알 수 없는 사용자)")


def _user_id(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) <= 18 else None


def _status_label(value: str | None) -> str:
    try:
        return STATUS_LABELS[CourseStatus(value or "")]
    except ValueError:
        return value or ""


def history_lines(session: Session, course: Course) -> list[HistoryLine]:
    """The course's history, oldest first, with people, schools and classes named (never raw ids)."""
    events = history(session, course)
    user_ids: set[int] = set()
    groups: dict[int, tuple[int, int | None, int | None]] = {}
    for ev in events:
        if ev.kind == EventKind.instructor:
            user_ids.update(i for i in (_user_id(ev.from_value), _user_id(ev.to_value)) if i is not None)
        elif ev.kind == EventKind.enrolment:
            if m := _LEGACY_GROUP.match(ev.detail or ""):
                groups[ev.id] = (int(m[1]), int(m[2]) if m[2] else None, int(m[3]) if m[3] else None)
            elif m := _LEGACY_STUDENT.match(ev.detail or ""):
                user_ids.add(int(m[1]))
    names = (
        {uid: name for uid, name in session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))}
        if user_ids
        else {}
    )

    def person(value: str | None) -> str:
        uid = _user_id(value)
        return names.get(uid, UNKNOWN_PERSON) if uid is not None else (value or UNKNOWN_PERSON)

    lines = []
    for ev in events:
        detail = ev.detail or ""
        what: tuple[str, dict[str, Any]]
        if ev.kind == EventKind.status:
            to = _status_label(ev.to_value)
            if ev.from_value:
                what = (N_("%(before)s → %(after)s"), {"before": _status_label(ev.from_value), "after": to})
            else:
                what = (to, {})
        elif ev.kind == EventKind.enrolment:
            raw = (ev.to_value or "").lstrip("+-")
            n = int(raw) if raw.isdigit() else 0
            if (ev.to_value or "").startswith("-"):
                what = (N_("수강 취소 (%(n)d명)"), {"n": n})
            else:
                what = (N_("수강생 등록 (%(n)d명)"), {"n": n})
            if ev.id in groups:
                from courses.enrolment import group_name

                detail = group_name(session, *groups[ev.id])
            elif m := _LEGACY_STUDENT.match(detail):
                detail = names.get(int(m[1]), UNKNOWN_PERSON)
        elif ev.kind == EventKind.instructor:
            if ev.from_value:
                what = (
                    N_("강사 변경: %(before)s → %(after)s"),
                    {"before": person(ev.from_value), "after": person(ev.to_value)},
                )
            else:
                what = (N_("강사 지정: %(name)s"), {"name": person(ev.to_value)})
        elif ev.kind == EventKind.completion:
            what = (_COMPLETION_EVENTS.get(ev.to_value or "", N_("이수 기준 변경")), {})
        else:
            what = (N_("요청 내용 수정"), {})
        lines.append(HistoryLine(ev, what, detail))
    return lines


def allowed_actions(session: Session, actor: User, course: Course) -> set[str]:
    """Which workflow buttons the actor should see for this course now (the policy table decides)."""
    return _allowed_actions(session, actor, course)


# The workflow actions people take by name (pages and API alike): name → service(session, actor, course, reason).
ACTIONS = {
    "approve": lambda s, a, c, r: approve(s, a, c, r),
    "reject": lambda s, a, c, r: reject(s, a, c, r),
    "withdraw": lambda s, a, c, r: withdraw(s, a, c),
    "cancel": lambda s, a, c, r: cancel(s, a, c, r),
    "start": lambda s, a, c, r: start(s, a, c),
    "complete": lambda s, a, c, r: complete(s, a, c),
    "confirm": lambda s, a, c, r: confirm_completion(s, a, c),
}

_REQUESTABLE = {
    Role.office_admin: ["office"],
    Role.school_admin: ["school", "class"],
    Role.teacher: ["class"],
}


def requestable_levels(actor: User) -> list[str]:
    """The request levels open to the actor (empty: they may not request courses)."""
    return list(_REQUESTABLE.get(actor.role, []))


__all__ = [
    "ACTIONS",
    "requestable_levels",
    "STATUS_LABELS",
    "TRANSITIONS",
    "CourseInput",
    "Forbidden",
    "HistoryLine",
    "LessonTimeInput",
    "TargetInput",
    "add_material",
    "allowed_actions",
    "approve",
    "approver_ids",
    "assign_instructor",
    "cancel",
    "complete",
    "confirm_completion",
    "history",
    "history_lines",
    "lesson_text",
    "reject",
    "resubmit",
    "start",
    "submit_request",
    "update_lesson",
    "withdraw",
]
