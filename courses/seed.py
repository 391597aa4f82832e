"""Demo data: one office, three schools, classes of ~30 students, teachers, instructors, parents."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.accounts import hash_password
from courses.catalog import seed_themes
from courses.db import utcnow
from courses.models import (
    Attendance,
    ClassMembership,
    Course,
    InstructorProfile,
    Lesson,
    LiveStatus,
    MemberRole,
    Organisation,
    OrgKind,
    ParentLink,
    Role,
    SchoolClass,
    SchoolLevel,
    Theme,
    User,
    Video,
    VideoState,
)

DEMO_PASSWORD = "ieum1234!"
SURNAMES = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN = [
    "민준",
    "서연",
    "도윤",
    "서윤",
    "시우",
    "지우",
    "하준",
    "하은",
    "주원",
    "지유",
    "지호",
    "수아",
    "예준",
    "지아",
    "은우",
]

DEMO_LOGINS = [
    ("office", "교육청 관리자"),
    ("admin1", "학교 관리자 (이음초등학교)"),
    ("teacher1", "교사 (이음초 5학년 1반 담임)"),
    ("student1", "학생 (이음초 5학년 1반)"),
    ("parent1", "보호자 (student1의 보호자)"),
    ("instructor1", "교육청 강사"),
]


SEOUL = ZoneInfo("Asia/Seoul")


def first_lesson_later_today(now: datetime) -> datetime:
    """When the demo's office course has its first lesson: on the hour two hours from now — or, late in the
    evening in Seoul, the last 40-minute slot before midnight there if it is still 15 minutes ahead — so the
    instructor's home lists it under 오늘. After about 23:05 in Seoul no slot is left today: tomorrow, then."""
    later = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    local = now.astimezone(SEOUL)
    midnight = datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=SEOUL).astimezone(UTC)
    last = midnight - timedelta(minutes=40)
    if later + timedelta(minutes=40) > midnight and last >= now + timedelta(minutes=15):
        return last
    return later


def _name(i: int) -> str:
    return SURNAMES[i % len(SURNAMES)] + GIVEN[(i // len(SURNAMES)) % len(GIVEN)]


def seed_demo(session: Session, *, students_per_class: int = 30, school_year: int | None = None) -> bool:
    """Create the demo office once; returns False if it already exists."""
    if session.scalar(select(User.id).where(User.username == "office")) is not None:
        return False
    year = school_year or date.today().year
    pw = hash_password(DEMO_PASSWORD)  # one hash for every demo account keeps seeding fast
    seed_themes(session)
    office = Organisation(kind=OrgKind.office, name="이음시교육청", code="office-ieum")
    session.add(office)
    session.flush()
    office.office_id = office.id
    support = Organisation(
        kind=OrgKind.support_office, name="이음동부교육지원청", parent_id=office.id, office_id=office.id
    )
    session.add(support)
    session.flush()

    users: list[User] = []

    def user(username: str, name: str, role: Role, org_id: int) -> User:
        u = User(
            username=username, name=name, role=role, org_id=org_id, office_id=office.id, password_hash=pw
        )
        users.append(u)
        session.add(u)
        return u

    user("office", "정교육 장학사", Role.office_admin, office.id)
    schools_spec = [
        ("이음초등학교", SchoolLevel.elementary, [5, 6]),
        ("이음중학교", SchoolLevel.middle, [1, 2]),
        ("이음고등학교", SchoolLevel.high, [1, 2]),
    ]
    n = 0
    student_no = 0
    teacher_no = 0
    memberships: list[ClassMembership] = []
    for si, (sname, level, grades) in enumerate(schools_spec, start=1):
        school = Organisation(
            kind=OrgKind.school,
            name=sname,
            parent_id=support.id,
            office_id=office.id,
            school_level=level,
            code=f"school-{si}",
        )
        session.add(school)
        session.flush()
        user(f"admin{si}", f"{sname} 교감", Role.school_admin, school.id)
        for grade in grades:
            for cn in (1, 2):
                cls = SchoolClass(school_id=school.id, school_year=year, grade=grade, name=f"{cn}반")
                session.add(cls)
                session.flush()
                teacher_no += 1
                t = user(f"teacher{teacher_no}", _name(n), Role.teacher, school.id)
                n += 1
                session.flush()
                memberships.append(ClassMembership(class_id=cls.id, user_id=t.id, role=MemberRole.teacher))
                for k in range(1, students_per_class + 1):
                    student_no += 1
                    s = user(f"student{student_no}", _name(n), Role.student, school.id)
                    n += 1
                    session.flush()
                    memberships.append(
                        ClassMembership(class_id=cls.id, user_id=s.id, role=MemberRole.student, number=k)
                    )
                    if k <= 3:  # a few parents per class are enough to click through
                        p = user(f"parent{student_no}", _name(n), Role.parent, school.id)
                        n += 1
                        session.flush()
                        session.add(ParentLink(parent_id=p.id, child_id=s.id))
    session.add_all(memberships)

    themes = list(session.scalars(select(Theme).order_by(Theme.position)))
    for i, (affil, external) in enumerate(
        [
            ("이음시교육청 강사단", False),
            ("이음시교육청 강사단", False),
            ("이음시교육청 강사단", False),
            ("환경교육센터", True),
        ],
        start=1,
    ):
        u = user(f"instructor{i}", _name(n), Role.instructor, office.id)  # names only: pages add 님 and roles
        n += 1
        session.flush()
        session.add(
            InstructorProfile(
                user_id=u.id,
                office_id=office.id,
                external=external,
                affiliation=affil,
                bio="청소년 대상 강의 경력 10년",
                availability="평일 오전, 화·목 오후",
                themes=themes[(i - 1) * 2 : (i - 1) * 2 + 3],
            )
        )
    # Staff, parents and the demo student have addresses (on the reserved .example domain) so that e-mail
    # notices and password reset can be tried against a local SMTP server; other students, like most real
    # ones, have none.
    named = {username for username, _label in DEMO_LOGINS}
    for u in users:
        if u.role != Role.student or u.username in named:
            u.email = f"{u.username}@ieum.example"
    session.flush()
    seed_demo_courses(session, today=date.today())
    return True


DEMO_LIVE_TITLE = "안전한 인터넷 생활 (실시간 수업)"


def seed_demo_courses(session: Session, *, today: date) -> None:
    """Courses in the states people meet first: a running live class with its first lesson now, and a request
    awaiting the school's approval. Made through the same services the pages use."""
    from courses import enrolment, workflow

    def one(username: str) -> User:
        return session.scalars(select(User).where(User.username == username)).one()

    teacher, admin = one("teacher1"), one("admin1")
    cls = session.scalars(
        select(SchoolClass)
        .join(ClassMembership, ClassMembership.class_id == SchoolClass.id)
        .where(ClassMembership.user_id == teacher.id, ClassMembership.role == MemberRole.teacher)
    ).first()
    assert cls is not None
    themes = {t.code: t for t in session.scalars(select(Theme))}
    safety, environment = themes["safety_health"], themes["environment_sd"]

    running = workflow.submit_request(
        session,
        teacher,
        workflow.CourseInput(
            level="class",
            theme_id=safety.id,
            title=DEMO_LIVE_TITLE,
            goals="개인정보를 지키고 사이버 폭력에 대처하는 방법을 익힌다.",
            delivery="live",
            lesson_count=4,
            hours=4,
            start_date=today,
            end_date=today + timedelta(days=28),
            instructor_mode="homeroom",
            recording_policy="full",
            class_id=cls.id,
        ),
        today=today,
    )
    workflow.approve(session, admin, running, "데모: 승인")
    workflow.start(session, teacher, running)
    enrolment.enrol_group(session, teacher, running, school_id=cls.school_id, class_id=cls.id)
    schedule_demo_live_lesson(session, running)

    workflow.submit_request(
        session,
        teacher,
        workflow.CourseInput(
            level="class",
            theme_id=environment.id,
            title="우리 마을 환경 지킴이",
            goals="생활 속 자원 순환을 실천한다.",
            delivery="blended",
            lesson_count=2,
            hours=2,
            start_date=today + timedelta(days=7),
            end_date=today + timedelta(days=21),
            instructor_mode="homeroom",
            class_id=cls.id,
        ),
        today=today,
    )

    # An office-level course shared by two schools: it belongs to the office; each school enrols its own.
    office_admin, instructor = one("office"), one("instructor1")
    schools = [one("admin1").org_id, one("admin2").org_id]
    shared = workflow.submit_request(
        session,
        office_admin,
        workflow.CourseInput(
            level="office",
            theme_id=themes["democratic_citizenship"].id,
            title=DEMO_SHARED_TITLE,
            goals="학교의 규칙을 함께 정하고 토론하는 방법을 익힌다.",
            delivery="live",
            lesson_count=2,
            hours=2,
            start_date=today,
            end_date=today + timedelta(days=28),
            instructor_mode="office",
            instructor_id=instructor.id,
            targets=[workflow.TargetInput(school_id=sid) for sid in schools],
        ),
        today=today,
    )
    workflow.approve(session, office_admin, shared, "데모: 승인")
    # Its first lesson later today, so the instructor's home (and 5학년 1반's) shows it under 오늘.
    first = shared.lessons[0]
    later = first_lesson_later_today(utcnow())
    workflow.update_lesson(
        session,
        office_admin,
        shared,
        first.id,
        title=first.title,
        starts_at=later,
        ends_at=later + timedelta(minutes=40),
        description="",
    )
    enrolment.enrol_group(session, admin, shared, school_id=cls.school_id, class_id=cls.id)
    session.flush()
    seed_demo_finished_course(session, teacher, admin, cls, themes["character"].id, today)
    from courses.fees import seed_demo_fee_rates

    office = session.get(Organisation, office_admin.office_id)
    assert office is not None
    seed_demo_fee_rates(session, office)


def seed_demo_finished_course(
    session: Session, teacher: User, admin: User, cls: SchoolClass, theme_id: int, today: date
) -> Course:
    """A course that ran last month and awaits the school's confirmation: two live lessons held, with the
    attendance the SFU would have reported (most present, a few partly, two absent)."""
    from courses import enrolment, live, workflow

    start = today - timedelta(days=35)
    course = workflow.submit_request(
        session,
        teacher,
        workflow.CourseInput(
            level="class",
            theme_id=theme_id,
            title=DEMO_FINISHED_TITLE,
            goals="서로의 감정을 이해하고 존중하는 말하기를 연습한다.",
            delivery="live",
            lesson_count=2,
            hours=2,
            start_date=start,
            end_date=start + timedelta(days=14),
            instructor_mode="homeroom",
            class_id=cls.id,
        ),
        today=start,
    )
    workflow.approve(session, admin, course, "데모: 승인")
    enrolment.enrol_group(session, teacher, course, school_id=cls.school_id, class_id=cls.id)
    workflow.start(session, teacher, course)
    students = list(
        session.scalars(
            select(ClassMembership.user_id)
            .where(ClassMembership.class_id == cls.id, ClassMembership.role == MemberRole.student)
            .order_by(ClassMembership.number)
        )
    )
    for k, lesson in enumerate(course.lessons):
        begins = datetime.combine(start + timedelta(days=7 * k), time(1, 0), tzinfo=UTC)  # 10:00 in Seoul
        lesson.starts_at, lesson.ends_at = begins, begins + timedelta(minutes=40)
        held = live.sync_live_session(session, lesson)
        assert held is not None
        held.status, held.started_at, held.ended_at = LiveStatus.ended, begins, begins + timedelta(minutes=40)
        for i, uid in enumerate(students):
            minutes = 0 if i >= len(students) - 2 else (20 if i % 9 == 4 and k == 1 else 38)
            if minutes:
                session.add(
                    Attendance(
                        live_session_id=held.id,
                        user_id=uid,
                        first_join_at=begins,
                        last_leave_at=begins + timedelta(minutes=minutes),
                        present_seconds=minutes * 60,
                        joins=1,
                    )
                )
    workflow.complete(session, teacher, course)
    session.flush()
    return course


DEMO_SHARED_TITLE = "함께 만드는 학교 규칙 (교육청 공동 강좌)"
DEMO_FINISHED_TITLE = "마음을 전하는 말하기 (운영 완료)"
DEMO_VIDEO_TITLE = "개인정보 지키기 (녹화 강의)"


def demo_video_lesson(session: Session) -> Lesson | None:
    """The demo course's recorded lesson, once made."""
    return session.scalars(select(Lesson).where(Lesson.title == DEMO_VIDEO_TITLE)).first()


def seed_demo_video(session: Session, storage: Any, clip: str) -> Lesson | None:
    """Give the running demo course a recorded lesson whose video (a generated clip) waits for processing;
    the app's job queue picks it up at start. Once only: None if the lesson exists."""
    from courses import videos

    course = session.scalars(select(Course).where(Course.title == DEMO_LIVE_TITLE)).first()
    if course is None or demo_video_lesson(session) is not None:
        return None
    teacher = session.scalars(select(User).where(User.username == "teacher1")).one()
    lesson = videos.add_recorded_lesson(
        session,
        teacher,
        course,
        title=DEMO_VIDEO_TITLE,
        description="1분짜리 데모 영상입니다. 2배속으로 봐도 됩니다.",
    )
    video = Video(
        lesson_id=lesson.id,
        state=VideoState.processing,
        source_key="",
        original_name="demo-lecture.mp4",
        created_by_id=teacher.id,
    )
    session.add(video)
    session.flush()
    video.source_key = videos.source_key(video.id)
    storage.put_file(video.source_key, clip, "video/mp4")
    video.size = video.declared_size = storage.size(video.source_key)
    return lesson


def schedule_demo_live_lesson(session: Session, course=None) -> int | None:  # type: ignore[no-untyped-def]
    """Put the demo's next live lesson on now (from 5 minutes ago for an hour), so that `./scripts/run` always
    has a class to join; returns its live session id. Lessons already held are left alone."""
    from courses import workflow
    from courses.models import Course, LessonKind, LiveSession, LiveStatus

    if course is None:
        course = session.scalars(select(Course).where(Course.title == DEMO_LIVE_TITLE)).first()
        if course is None:
            return None
    sessions = list(session.scalars(select(LiveSession).where(LiveSession.course_id == course.id)))
    live_now = next((ls for ls in sessions if ls.status == LiveStatus.live), None)
    if live_now is not None:
        return live_now.id
    held = {ls.lesson_id for ls in sessions if ls.status != LiveStatus.scheduled}
    lesson = next((x for x in course.lessons if x.kind == LessonKind.live and x.id not in held), None)
    if lesson is None:
        return None
    now = utcnow().replace(second=0, microsecond=0)
    on_now = (
        lesson.starts_at is not None
        and lesson.ends_at is not None
        and lesson.starts_at <= now <= lesson.ends_at
    )
    start = lesson.starts_at if on_now else now - timedelta(minutes=5)
    teacher = course.requester
    workflow.update_lesson(
        session,
        teacher,
        course,
        lesson.id,
        title=lesson.title,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        description=lesson.description or "",
    )
    live = session.scalars(select(LiveSession).where(LiveSession.lesson_id == lesson.id)).one()
    return live.id


def demo_dates(today: date | None = None) -> tuple[date, date]:
    """A start and end date a demo request can use."""
    t = today or date.today()
    return t + timedelta(days=7), t + timedelta(days=37)
