"""Course evaluation (강좌 만족도 조사): one anonymous survey per course, its results, and the office's comparison.

A survey opens at the course's last lesson and closes some days after its end date. Enrolled students answer
it once (their parents too, when the course includes them). What was answered is stored apart from who
answered (see ``courses.models.evaluation``); results show an item only from ``MIN_RESPONSES`` responses on,
so a teacher cannot read one student's answer off a chart. Services never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, distinct, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from courses import text
from courses.errors import N_, DomainError, Errors, Forbidden, InvalidTransition
from courses.models import (
    Course,
    Enrolment,
    ItemKind,
    ParentLink,
    RespondentRole,
    Role,
    Survey,
    SurveyAnswer,
    SurveyItem,
    SurveyParticipation,
    SurveyResponse,
    User,
)
from courses.policy import RULES, Rel, may, relations, require

SEOUL = ZoneInfo("Asia/Seoul")
DEFAULT_OPEN_DAYS = 14
MIN_RESPONSES = 3  # fewer responses than this and no item's results are shown
TEXT_MAX = 1000
LATEST_CLOSE_DAYS = 365  # a closing time at most this long after the course's end date

DEFAULT_ITEMS: list[tuple[ItemKind, str, bool]] = [
    (ItemKind.rating, N_("강의 내용이 유익했다"), True),
    (ItemKind.rating, N_("강사의 설명이 이해하기 쉬웠다"), True),
    (ItemKind.rating, N_("수업 시간과 분량이 적절했다"), True),
    (ItemKind.rating, N_("원격 수업 환경(화면·소리)이 원활했다"), True),
    (ItemKind.rating, N_("다른 친구에게 추천하고 싶다"), True),
    (ItemKind.text, N_("좋았던 점이나 바라는 점을 자유롭게 적어 주세요"), False),
]
RATING_LABELS = {
    1: N_("전혀 그렇지 않다"),
    2: N_("그렇지 않다"),
    3: N_("보통이다"),
    4: N_("그렇다"),
    5: N_("매우 그렇다"),
}
PHASE_LABELS = {
    "not_yet": N_("시작 전"),
    "open": N_("진행 중"),
    "closed": N_("마감"),
}
SURVEY_RELS = RULES["answer_survey"].who | RULES["view_survey_results"].who | RULES["manage_survey"].who


class AlreadyAnswered(DomainError):
    """The user answered this survey before; the first answer stands."""

    status = 409

    def __init__(
        self, message: str = N_("이미 설문에 답했습니다. 답은 한 번만 낼 수 있습니다."), **params: Any
    ) -> None:
        super().__init__(message, **params)


# -- the survey and its dates -------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SEOUL)


def default_opens_at(course: Course) -> datetime:
    """The last lesson's start, or the course's end date while some lesson has no time yet (the last lesson is
    then not known: a survey must not open on the first day because only the first lesson was scheduled)."""
    starts = [lesson.starts_at for lesson in course.lessons]
    if not starts or any(s is None for s in starts):
        return _day_start(course.end_date)
    return max(s for s in starts if s is not None)


def default_closes_at(course: Course, open_days: int) -> datetime:
    """The end of the day `open_days` days after the course's end date (Seoul time)."""
    return _day_start(course.end_date + timedelta(days=open_days + 1))


def _find(session: Session, course: Course) -> Survey | None:
    return session.scalar(select(Survey).where(Survey.course_id == course.id))


def _response_count(session: Session, survey: Survey) -> int:
    return session.scalar(select(func.count()).where(SurveyResponse.survey_id == survey.id)) or 0


def survey_for(
    session: Session, actor: User, course: Course, *, open_days: int = DEFAULT_OPEN_DAYS
) -> Survey:
    """The course's survey, made with the default items on first need; Forbidden to those it does not concern."""
    require(bool(relations(session, actor, course) & SURVEY_RELS))
    survey = _find(session, course)
    if survey is None:
        survey = Survey(
            course_id=course.id,
            opens_at=default_opens_at(course),
            closes_at=default_closes_at(course, open_days),
            include_parents=False,
            created_by_id=actor.id,
            items=[
                SurveyItem(position=i, kind=kind, prompt=prompt, required=required)
                for i, (kind, prompt, required) in enumerate(DEFAULT_ITEMS, start=1)
            ],
        )
        session.add(survey)
        session.flush()
    elif course.status in RULES["edit_lessons"].statuses:
        # Lessons can still be rescheduled: until the first answer, the survey opens at the last one.
        opens = default_opens_at(course)
        if survey.opens_at != opens and not _response_count(session, survey):
            survey.opens_at = opens
    return survey


def _require_manage(session: Session, actor: User, course: Course) -> None:
    if not may(session, actor, course, "manage_survey"):
        if relations(session, actor, course) & RULES["manage_survey"].who:
            raise InvalidTransition(N_("이 상태의 강좌에서는 설문 설정을 바꿀 수 없습니다."))
        raise Forbidden()


def update_settings(
    session: Session,
    actor: User,
    course: Course,
    closes_at: datetime | None,
    include_parents: bool,
    *,
    open_days: int = DEFAULT_OPEN_DAYS,
) -> Survey:
    """Change when the survey closes and whether parents answer it (runners of the course)."""
    _require_manage(session, actor, course)
    survey = survey_for(session, actor, course, open_days=open_days)
    e = Errors()
    latest = _day_start(course.end_date + timedelta(days=LATEST_CLOSE_DAYS + 1))
    if closes_at is None:
        e.add("closes_at", N_("마감 일시를 입력하세요."))
    elif closes_at.tzinfo is None:
        e.add("closes_at", N_("날짜·시각 형식이 올바르지 않습니다."))
    elif closes_at <= survey.opens_at:
        e.add("closes_at", N_("마감 일시는 설문 시작(마지막 차시) 뒤여야 합니다."))
    elif closes_at > latest:
        e.add("closes_at", N_("마감 일시는 강좌 종료일로부터 %(n)d일 안이어야 합니다."), n=LATEST_CLOSE_DAYS)
    if survey.include_parents and not include_parents:
        parents = session.scalar(
            select(func.count()).where(
                SurveyResponse.survey_id == survey.id, SurveyResponse.role == RespondentRole.parent
            )
        )
        if parents:
            e.add("include_parents", N_("학부모 응답이 이미 있어 학부모 대상을 끌 수 없습니다."))
    e.raise_if_any()
    survey.closes_at = closes_at  # type: ignore[assignment]
    survey.include_parents = include_parents
    return survey


# -- what the course page shows, and answering ---------------------------------------------------------


@dataclass(frozen=True)
class SurveyState:
    """What the course page's survey card needs for this person now."""

    survey: Survey
    phase: str  # not_yet | open | closed
    answered: bool
    may_answer: bool
    respondent: bool  # the person is asked (a student, or a parent when parents are included)
    view_results: bool
    manage: bool

    @property
    def phase_label(self) -> str:
        """The phase as a msgid."""
        return PHASE_LABELS[self.phase]

    @property
    def closes_on(self) -> datetime:
        """The last moment the survey is open, for display (a minute before it closes)."""
        return self.survey.closes_at - timedelta(minutes=1)


def _phase(survey: Survey, now: datetime) -> str:
    if now < survey.opens_at:
        return "not_yet"
    return "open" if now < survey.closes_at else "closed"


def _answered(session: Session, survey: Survey, actor: User) -> bool:
    return (
        session.scalar(
            select(SurveyParticipation.user_id).where(
                SurveyParticipation.survey_id == survey.id, SurveyParticipation.user_id == actor.id
            )
        )
        is not None
    )


def _is_respondent(rels: frozenset[Rel], survey: Survey) -> bool:
    return Rel.student in rels or (Rel.parent in rels and survey.include_parents)


def state(
    session: Session, actor: User, course: Course, now: datetime, *, open_days: int = DEFAULT_OPEN_DAYS
) -> SurveyState | None:
    """The survey card's state for this person, or None when there is nothing to show them (yet)."""
    rels = relations(session, actor, course)
    respondent_rel = bool(rels & RULES["answer_survey"].who)
    view = bool(rels & RULES["view_survey_results"].who)
    manage = may(session, actor, course, "manage_survey", rels=rels)
    if course.status not in RULES["answer_survey"].statuses and not manage:
        return None  # before the course runs there is no survey to answer or read
    if not (respondent_rel or view or manage):
        return None
    survey = survey_for(session, actor, course, open_days=open_days)
    respondent = _is_respondent(rels, survey)
    if respondent_rel and not respondent and not (view or manage):
        return None  # a parent, and the survey asks students only
    phase = _phase(survey, now)
    answered = respondent and _answered(session, survey, actor)
    may_answer = (
        respondent and not answered and phase == "open" and course.status in RULES["answer_survey"].statuses
    )
    return SurveyState(survey, phase, answered, may_answer, respondent, view, manage)


def respondent_state(
    session: Session, actor: User, course: Course, now: datetime, *, open_days: int = DEFAULT_OPEN_DAYS
) -> SurveyState:
    """The state for the answer page: Forbidden to anyone not asked, InvalidTransition before the course runs."""
    rels = relations(session, actor, course)
    if not rels & RULES["answer_survey"].who:
        raise Forbidden(N_("이 설문은 수강생(과 학부모)만 답할 수 있습니다."))
    if course.status not in RULES["answer_survey"].statuses:
        raise InvalidTransition(N_("설문은 마지막 차시부터 답할 수 있습니다."))
    found = state(session, actor, course, now, open_days=open_days)
    if found is None or not found.respondent:
        raise Forbidden(N_("이 설문은 학생만 답할 수 있습니다."))
    return found


def manager_state(
    session: Session, actor: User, course: Course, now: datetime, *, open_days: int = DEFAULT_OPEN_DAYS
) -> SurveyState:
    """The state for the settings page: the course's runners, in the statuses the policy allows."""
    _require_manage(session, actor, course)
    found = state(session, actor, course, now, open_days=open_days)
    assert found is not None  # a runner who may manage always gets one
    return found


def _check_answerable(session: Session, actor: User, course: Course, survey: Survey, now: datetime) -> None:
    rels = relations(session, actor, course)
    if not rels & RULES["answer_survey"].who:
        raise Forbidden(N_("이 설문은 수강생(과 학부모)만 답할 수 있습니다."))
    if not _is_respondent(rels, survey):
        raise Forbidden(N_("이 설문은 학생만 답할 수 있습니다."))
    if course.status not in RULES["answer_survey"].statuses or now < survey.opens_at:
        raise InvalidTransition(N_("설문은 마지막 차시부터 답할 수 있습니다."))
    if now >= survey.closes_at:
        raise InvalidTransition(N_("설문이 마감되었습니다."))
    if _answered(session, survey, actor):
        raise AlreadyAnswered()


def item_field(item: SurveyItem) -> str:
    """The form field of an item."""
    return f"item-{item.id}"


def _parse(
    e: Errors, survey: Survey, form: Mapping[str, Any]
) -> list[tuple[SurveyItem, int | None, str | None]]:
    out: list[tuple[SurveyItem, int | None, str | None]] = []
    for item in survey.items:
        key = item_field(item)
        raw = form.get(key)
        if raw is not None and not isinstance(raw, str):
            e.add(key, N_("값이 올바르지 않습니다."))
            continue
        value = text.clean(raw, multiline=item.kind == ItemKind.text)
        if item.kind == ItemKind.rating:
            if value == "":
                if item.required:
                    e.add(key, N_("1~5 중 하나를 고르세요."))
                out.append((item, None, None))
            elif value in ("1", "2", "3", "4", "5"):
                out.append((item, int(value), None))
            else:
                e.add(key, N_("1~5 중 하나를 고르세요."))
        else:
            if not text.is_visible(value):
                if item.required:
                    e.add(key, N_("내용을 입력하세요."))
                out.append((item, None, None))
            elif len(value) > TEXT_MAX:
                e.add(key, N_("%(max)d자 이하로 적어 주세요."), max=TEXT_MAX)
            else:
                out.append((item, None, value))
    return out


def answer(
    session: Session,
    actor: User,
    course: Course,
    form: Mapping[str, Any],
    now: datetime,
    *,
    open_days: int = DEFAULT_OPEN_DAYS,
) -> None:
    """Record the person's one anonymous response (every item checked); refused when not open or already given."""
    survey = survey_for(session, actor, course, open_days=open_days)
    _check_answerable(session, actor, course, survey, now)
    e = Errors()
    values = _parse(e, survey, form)
    e.raise_if_any()
    try:
        with session.begin_nested():  # the primary key refuses a second participation, even a concurrent one
            session.add(SurveyParticipation(survey_id=survey.id, user_id=actor.id))
    except IntegrityError:
        raise AlreadyAnswered() from None
    role = RespondentRole.student if actor.role == Role.student else RespondentRole.parent
    response = SurveyResponse(survey_id=survey.id, role=role, submitted_on=now.astimezone(SEOUL).date())
    response.answers = [
        SurveyAnswer(item_id=item.id, rating=rating, text=body)
        for item, rating, body in values
        if rating is not None or body is not None
    ]
    session.add(response)
    session.flush()


# -- results ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemResult:
    """One rating item: how many chose each of 1..5, and the mean."""

    item: SurveyItem
    counts: list[int]  # index 0 is rating 1
    answered: int
    mean: float | None


@dataclass(frozen=True)
class SurveyResults:
    """A survey's aggregated results; items and texts are empty until `enough`."""

    survey: Survey
    responses: int
    by_role: dict[str, int]
    eligible: int
    enough: bool
    ratings: list[ItemResult] = field(default_factory=list)
    texts: list[tuple[SurveyItem, list[str]]] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        """Responses per eligible person, in percent (None when nobody is eligible)."""
        return round(100 * self.responses / self.eligible, 1) if self.eligible else None


def eligible_count(session: Session, course: Course, include_parents: bool) -> int:
    """Enrolled students, and their distinct parents when parents are included."""
    students = session.scalar(select(func.count()).where(Enrolment.course_id == course.id)) or 0
    if not include_parents:
        return students
    parents = session.scalar(
        select(func.count(distinct(ParentLink.parent_id)))
        .join(Enrolment, Enrolment.student_id == ParentLink.child_id)
        .where(Enrolment.course_id == course.id)
    )
    return students + (parents or 0)


def results(
    session: Session, actor: User, course: Course, *, open_days: int = DEFAULT_OPEN_DAYS
) -> SurveyResults:
    """The survey's results: per rating item counts 1..5 and mean, free texts, the response rate."""
    require(bool(relations(session, actor, course) & RULES["view_survey_results"].who))
    survey = survey_for(session, actor, course, open_days=open_days)
    by_role = {
        role.value: n
        for role, n in session.execute(
            select(SurveyResponse.role, func.count())
            .where(SurveyResponse.survey_id == survey.id)
            .group_by(SurveyResponse.role)
        )
    }
    responses = sum(by_role.values())
    eligible = eligible_count(session, course, survey.include_parents)
    enough = responses >= MIN_RESPONSES
    if not enough:
        return SurveyResults(survey, responses, by_role, eligible, False)
    counts: dict[int, list[int]] = {item.id: [0] * 5 for item in survey.items}
    for item_id, rating, n in session.execute(
        select(SurveyAnswer.item_id, SurveyAnswer.rating, func.count())
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .where(SurveyResponse.survey_id == survey.id, SurveyAnswer.rating.is_not(None))
        .group_by(SurveyAnswer.item_id, SurveyAnswer.rating)
    ):
        if rating is not None and 1 <= rating <= 5:
            counts[item_id][rating - 1] = n
    ratings = []
    for item in survey.items:
        if item.kind != ItemKind.rating:
            continue
        c = counts[item.id]
        answered = sum(c)
        mean = round(sum((i + 1) * n for i, n in enumerate(c)) / answered, 2) if answered else None
        ratings.append(ItemResult(item, c, answered, mean))
    texts = []
    for item in survey.items:
        if item.kind != ItemKind.text:
            continue
        # Sorted by the text itself: a stable order that says nothing about who wrote what, or when.
        bodies = session.scalars(
            select(SurveyAnswer.text)
            .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
            .where(SurveyAnswer.item_id == item.id, SurveyAnswer.text.is_not(None))
        ).all()
        texts.append((item, sorted(b for b in bodies if b)))
    return SurveyResults(survey, responses, by_role, eligible, True, ratings, texts)


# -- the office's comparison --------------------------------------------------------------------------


@dataclass(frozen=True)
class CompareRow:
    """One course's or one instructor's figures across surveys."""

    key: int | None  # course id, or instructor id (None: no instructor)
    label: str
    instructor: str
    courses: int
    responses: int
    eligible: int
    mean: float | None  # of every rating answer; None under MIN_RESPONSES responses

    @property
    def rate(self) -> float | None:
        """Response rate in percent."""
        return round(100 * self.responses / self.eligible, 1) if self.eligible else None


def _mean(total: Any, n: Any, responses: int) -> float | None:
    if responses < MIN_RESPONSES or not n:
        return None
    return round(float(total) / float(n), 2)


def compare(session: Session, actor: User) -> tuple[list[CompareRow], list[CompareRow]]:
    """Office admins: every surveyed course of their office, and every instructor, side by side (in SQL)."""
    require(actor.role == Role.office_admin and actor.office_id is not None)
    responses = (
        select(SurveyResponse.survey_id.label("survey_id"), func.count().label("n"))
        .group_by(SurveyResponse.survey_id)
        .subquery()
    )
    ratings = (
        select(
            SurveyResponse.survey_id.label("survey_id"),
            func.sum(SurveyAnswer.rating).label("total"),
            func.count(SurveyAnswer.rating).label("n"),
        )
        .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
        .where(SurveyAnswer.rating.is_not(None))
        .group_by(SurveyResponse.survey_id)
        .subquery()
    )
    students = (
        select(Enrolment.course_id.label("course_id"), func.count().label("n"))
        .group_by(Enrolment.course_id)
        .subquery()
    )
    parents = (
        select(Enrolment.course_id.label("course_id"), func.count(distinct(ParentLink.parent_id)).label("n"))
        .join(ParentLink, ParentLink.child_id == Enrolment.student_id)
        .group_by(Enrolment.course_id)
        .subquery()
    )
    n_responses = func.coalesce(responses.c.n, 0)
    n_eligible = func.coalesce(students.c.n, 0) + case(
        (Survey.include_parents, func.coalesce(parents.c.n, 0)), else_=0
    )
    r_total = func.coalesce(ratings.c.total, 0)
    r_n = func.coalesce(ratings.c.n, 0)
    base = (
        select()
        .select_from(Survey)
        .join(Course, Course.id == Survey.course_id)
        .outerjoin(User, User.id == Course.instructor_id)
        .outerjoin(responses, responses.c.survey_id == Survey.id)
        .outerjoin(ratings, ratings.c.survey_id == Survey.id)
        .outerjoin(students, students.c.course_id == Course.id)
        .outerjoin(parents, parents.c.course_id == Course.id)
        .where(Course.office_id == actor.office_id)
    )
    by_course = [
        CompareRow(cid, title, name or "", 1, int(resp), int(elig), _mean(total, n, int(resp)))
        for cid, title, name, resp, elig, total, n in session.execute(
            base.add_columns(
                Course.id, Course.title, User.name, n_responses, n_eligible, r_total, r_n
            ).order_by(Course.start_date.desc(), Course.id)
        )
    ]
    by_instructor = [
        CompareRow(
            iid, name or "", name or "", int(courses), int(resp), int(elig), _mean(total, n, int(resp))
        )
        for iid, name, courses, resp, elig, total, n in session.execute(
            base.add_columns(
                Course.instructor_id,
                User.name,
                func.count(Course.id),
                func.sum(n_responses),
                func.sum(n_eligible),
                # Only courses whose own mean is shown: one course's few answers cannot be worked out by
                # subtracting the shown courses from the instructor's mean.
                func.sum(case((n_responses >= MIN_RESPONSES, r_total), else_=0)),
                func.sum(case((n_responses >= MIN_RESPONSES, r_n), else_=0)),
            )
            .group_by(Course.instructor_id, User.name)
            .order_by(User.name, Course.instructor_id)
        )
    ]
    return by_course, by_instructor
