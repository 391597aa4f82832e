"""Requests that guide (lesson times, elements of the theme, active instructors), names in history,
enrolment groups by level, themes added and retired, instructors edited and deactivated: domain services
alone, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from courses import catalog, enrolment, instructors, workflow
from courses.errors import Conflict, Forbidden, NotFound, ValidationError
from courses.models import (
    ContentElement,
    CourseEvent,
    EventKind,
    InstructorProfile,
    LiveSession,
    Theme,
    instructor_theme,
)
from courses.workflow import SEOUL, LessonTimeInput, TargetInput
from tests.factories import course_input


def _start(world) -> date:
    return course_input(world).start_date  # type: ignore[return-value]


def _times(n: int, day: date, start: str, end: str) -> LessonTimeInput:
    return LessonTimeInput(n, day, time.fromisoformat(start), time.fromisoformat(end))


def test_lesson_times_set_in_the_request_are_the_lessons_times(session, world):
    day = _start(world) + timedelta(days=1)
    data = course_input(world, schedule=[_times(2, day, "10:40", "11:20"), _times(1, day, "09:00", "09:40")])
    course = workflow.submit_request(session, world["teacher"], data)
    first, second, third = course.lessons[:3]
    assert first.starts_at == datetime.combine(day, time(9, 0), tzinfo=SEOUL)
    assert first.ends_at == datetime.combine(day, time(9, 40), tzinfo=SEOUL)
    assert second.starts_at.astimezone(SEOUL).time() == time(10, 40)
    assert third.starts_at is None and third.ends_at is None
    session.flush()
    session.expire_all()
    again = session.get(type(course), course.id)
    assert again.lessons[0].starts_at == datetime(day.year, day.month, day.day, 0, 0, tzinfo=UTC)  # 09:00 KST
    # No live room before approval; approving gives the scheduled live lessons theirs.
    assert session.scalar(select(func.count()).select_from(LiveSession)) == 0
    workflow.approve(session, world["school_admin"], again)
    rooms = list(session.scalars(select(LiveSession).where(LiveSession.course_id == course.id)))
    assert sorted(r.starts_at for r in rooms) == [again.lessons[0].starts_at, again.lessons[1].starts_at]


def _day(world, days: int = 1) -> date:
    return _start(world) + timedelta(days=days)


# (schedule rows, the field with the error, a piece of its message)
BAD_SCHEDULES = [
    ("end before start", lambda w: [_times(2, _day(w), "10:00", "09:00")], "lesson_end_2", "시작보다 늦어야"),
    (
        "end equal to start",
        lambda w: [_times(1, _day(w), "10:00", "10:00")],
        "lesson_end_1",
        "시작보다 늦어야",
    ),
    (
        "date without times",
        lambda w: [LessonTimeInput(1, _day(w))],
        "lesson_start_1",
        "시작 시각을 입력하세요",
    ),
    (
        "times without a date",
        lambda w: [LessonTimeInput(3, None, time(9), time(10))],
        "lesson_date_3",
        "날짜를 입력하세요",
    ),
    (
        "before the course starts",
        lambda w: [_times(1, _start(w) - timedelta(days=1), "09:00", "10:00")],
        "lesson_date_1",
        "운영 기간",
    ),
    (
        "after the course ends",
        lambda w: [_times(1, _start(w) + timedelta(days=60), "09:00", "10:00")],
        "lesson_date_1",
        "운영 기간",
    ),
    (
        "beyond the lesson count",
        lambda w: [_times(5, _day(w), "09:00", "10:00")],
        "lesson_date_5",
        "수업 횟수(4회)보다 뒤",
    ),
    ("lesson number zero", lambda w: [_times(0, _day(w), "09:00", "10:00")], "schedule", "차시 번호"),
    ("lesson number huge", lambda w: [_times(10**12, _day(w), "09:00", "10:00")], "schedule", "차시 번호"),
    (
        "one lesson twice",
        lambda w: [_times(1, _day(w), "09:00", "10:00"), _times(1, _day(w), "11:00", "12:00")],
        "schedule",
        "차시 번호",
    ),
]


@pytest.mark.parametrize(
    ("case", "rows", "field", "message"), BAD_SCHEDULES, ids=[c[0] for c in BAD_SCHEDULES]
)
def test_bad_lesson_times_are_refused_naming_the_field(session, world, case, rows, field, message):
    with pytest.raises(ValidationError) as err:
        workflow.submit_request(session, world["teacher"], course_input(world, schedule=rows(world)))
    assert field in err.value.errors, err.value.errors
    assert message in err.value.errors[field][0] % err.value.errors[field][1]


def test_element_of_another_theme_and_a_retired_theme_are_refused(session, world):
    other = world.themes[1].elements[0]
    with pytest.raises(ValidationError) as err:
        workflow.submit_request(session, world["teacher"], course_input(world, content_element_id=other.id))
    assert err.value.errors["content_element_id"][0] == "선택한 주제의 내용 요소가 아닙니다."
    own = world.themes[0].elements[0]
    assert workflow.submit_request(session, world["teacher"], course_input(world, content_element_id=own.id))
    catalog.set_theme_active(session, world["office_admin"], world.themes[0], False)
    with pytest.raises(ValidationError) as err:
        workflow.submit_request(session, world["teacher"], course_input(world))
    assert err.value.errors["theme_id"][0] == "사용이 중지된 주제입니다. 다른 주제를 선택하세요."


def _profile(session, user) -> InstructorProfile:
    return session.scalar(select(InstructorProfile).where(InstructorProfile.user_id == user.id))


def test_a_deactivated_instructor_is_refused_for_new_courses_and_kept_on_old_ones(session, world):
    course = workflow.submit_request(
        session, world["teacher"], course_input(world, instructor_id=world["instructor"].id)
    )
    profile = _profile(session, world["instructor"])
    assert [c.id for c in instructors.upcoming_courses(session, profile)] == [course.id]
    instructors.set_active(session, world["office_admin"], profile, False)
    assert course.instructor_id == world["instructor"].id  # the course keeps them
    assert world["instructor"].active  # the login account is another matter
    with pytest.raises(ValidationError) as err:
        workflow.submit_request(
            session, world["teacher"], course_input(world, instructor_id=world["instructor"].id)
        )
    assert err.value.errors["instructor_id"][0] == "비활성화된 강사는 새로 배정할 수 없습니다."
    with pytest.raises(ValidationError):
        workflow.assign_instructor(session, world["school_admin"], course, "office", world["instructor"].id)
    assert profile not in instructors.list_pool(session, world["teacher"])
    assert profile in instructors.list_pool(session, world["office_admin"], include_inactive=True)
    instructors.set_active(session, world["office_admin"], profile, True)
    workflow.assign_instructor(session, world["school_admin"], course, "office", world["instructor"].id)


def test_instructor_of_another_office_is_refused(session, world):
    from tests.factories import make_user

    stranger = make_user(
        session, "stranger", world["instructor"].role, world.other_office, world.other_office
    )
    session.add(InstructorProfile(user_id=stranger.id, office_id=world.other_office.id))
    session.flush()
    with pytest.raises(ValidationError) as err:
        workflow.submit_request(session, world["teacher"], course_input(world, instructor_id=stranger.id))
    assert err.value.errors["instructor_id"][0] == "강사를 찾을 수 없습니다."


def test_only_the_offices_admins_edit_and_deactivate_its_instructors(session, world):
    profile = _profile(session, world["external"])
    for who in ("school_admin", "teacher", "instructor"):
        with pytest.raises(Forbidden):
            instructors.get_profile(session, world[who], profile.id)
        with pytest.raises(Forbidden):
            instructors.set_active(session, world[who], profile, False)
    with pytest.raises(NotFound):
        instructors.get_profile(session, world["other_office_admin"], profile.id)
    with pytest.raises(Forbidden):
        instructors.update_instructor(
            session,
            world["other_office_admin"],
            profile,
            affiliation="",
            bio="",
            availability="",
            phone="",
            theme_ids=[],
        )
    got = instructors.get_profile(session, world["office_admin"], profile.id)
    instructors.update_instructor(
        session,
        world["office_admin"],
        got,
        affiliation=" 환경센터 ",
        bio="숲 해설가",
        availability="화·목 오후",
        phone="010-1234-5678",
        theme_ids=[world.themes[9].id, world.themes[3].id],
    )
    assert (got.affiliation, got.phone) == ("환경센터", "010-1234-5678")
    assert {t.id for t in got.themes} == {world.themes[9].id, world.themes[3].id}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"affiliation": "가" * 121}, "affiliation"),
        ({"availability": "가" * 301}, "availability"),
        ({"bio": "가" * 2001}, "bio"),
        ({"phone": "call me"}, "phone"),
        ({"phone": "1" * 21}, "phone"),
        ({"theme_ids": [2**31 - 1]}, "theme_ids"),
    ],
)
def test_bad_instructor_fields_name_the_field(session, world, fields, field):
    profile = _profile(session, world["instructor"])
    base = {"affiliation": "", "bio": "", "availability": "", "phone": "", "theme_ids": []}
    with pytest.raises(ValidationError) as err:
        instructors.update_instructor(session, world["office_admin"], profile, **{**base, **fields})
    assert list(err.value.errors) == [field]


def test_a_retired_theme_is_kept_on_an_instructor_but_not_newly_chosen(session, world):
    profile = _profile(session, world["instructor"])  # teaches themes 0 and 1
    catalog.set_theme_active(session, world["office_admin"], world.themes[1], False)
    catalog.set_theme_active(session, world["office_admin"], world.themes[2], False)
    base = {"affiliation": "", "bio": "", "availability": "", "phone": ""}
    kept = [world.themes[0].id, world.themes[1].id]
    instructors.update_instructor(session, world["office_admin"], profile, **base, theme_ids=kept)
    with pytest.raises(ValidationError) as err:
        instructors.update_instructor(
            session, world["office_admin"], profile, **base, theme_ids=[*kept, world.themes[2].id]
        )
    assert err.value.errors["theme_ids"][0] == "사용이 중지된 주제는 새로 고를 수 없습니다."


def test_office_admin_adds_a_theme_offered_in_requests(session, world):
    theme = catalog.create_theme(
        session,
        world["office_admin"],
        code="Digital_Citizenship",
        name="디지털 시민성",
        name_en="Digital citizenship",
        description="온라인에서 책임 있게 행동한다.",
        elements=["디지털 발자국", "", "  ", "저작권", "디지털 발자국"],
    )
    assert theme.code == "digital_citizenship" and theme.position == max(t.position for t in world.themes) + 1
    assert [el.name for el in theme.elements] == ["디지털 발자국", "저작권"]
    assert theme in catalog.list_themes(session)
    course = workflow.submit_request(
        session,
        world["teacher"],
        course_input(world, theme_id=theme.id, content_element_id=theme.elements[1].id),
    )
    assert course.theme_id == theme.id
    with pytest.raises(Forbidden):
        catalog.create_theme(
            session, world["school_admin"], code="x_y", name="가", name_en="", description="", elements=[]
        )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"code": "1abc"}, "code"),
        ({"code": "a"}, "code"),
        ({"code": "safety_health"}, "code"),  # the seeded theme's
        ({"code": "한글"}, "code"),
        ({"code": "a" * 41}, "code"),
        ({"name": ""}, "name"),
        ({"name": "\u200b\u200b"}, "name"),
        ({"name": "안전·건강"}, "name"),  # the same name as a theme there is
        ({"name": "가" * 81}, "name"),
        ({"name_en": "a" * 81}, "name_en"),
        ({"description": "가" * 2001}, "description"),
        ({"elements": ["가" * 81]}, "elements"),
        ({"elements": [f"요소 {i}" for i in range(41)]}, "elements"),
    ],
)
def test_bad_new_themes_name_the_field(session, world, fields, field):
    base = {"code": "new_theme", "name": "새 주제", "name_en": "", "description": "", "elements": []}
    with pytest.raises(ValidationError) as err:
        catalog.create_theme(session, world["office_admin"], **{**base, **fields})
    assert list(err.value.errors) == [field]


def test_a_theme_courses_use_is_retired_not_deleted(session, world):
    theme = world.themes[4]
    course = workflow.submit_request(session, world["teacher"], course_input(world, theme_id=theme.id))
    with pytest.raises(Conflict) as err:
        catalog.delete_theme(session, world["office_admin"], theme)
    assert err.value.params == {"n": 1}
    catalog.set_theme_active(session, world["office_admin"], theme, False)
    assert theme not in catalog.list_themes(session)
    assert theme in catalog.list_themes(session, include_inactive=True)
    assert course.theme.name == theme.name  # old courses still show it


def test_a_theme_no_course_uses_is_deleted_with_its_elements_and_pool_links(session, world):
    theme = world.themes[2]  # taught by 'external'
    element_ids = [el.id for el in theme.elements]
    with pytest.raises(Forbidden):
        catalog.delete_theme(session, world["teacher"], theme)
    catalog.delete_theme(session, world["office_admin"], theme)
    assert session.get(Theme, theme.id) is None
    assert session.scalar(select(func.count()).where(ContentElement.id.in_(element_ids))) == 0
    links = select(func.count()).select_from(instructor_theme).where(instructor_theme.c.theme_id == theme.id)
    assert session.scalar(links) == 0


def test_an_element_a_course_uses_cannot_be_taken_out_of_its_theme(session, world):
    theme = world.themes[0]
    used, unused = theme.elements[0], theme.elements[1]
    workflow.submit_request(session, world["teacher"], course_input(world, content_element_id=used.id))
    keep = [el.name for el in theme.elements if el.id != used.id]
    with pytest.raises(ValidationError) as err:
        catalog.update_theme(
            session, world["office_admin"], theme, name=theme.name, description="", elements=keep
        )
    assert used.name in err.value.errors["elements"][1]["names"]
    rest = [el.name for el in theme.elements if el.id != unused.id]
    catalog.update_theme(
        session,
        world["office_admin"],
        theme,
        name=theme.name,
        name_en="Safety",
        description="",
        elements=rest,
    )
    assert unused.name not in [el.name for el in theme.elements] and theme.name_en == "Safety"


def test_history_names_people_and_groups_even_in_rows_written_with_ids(session, world):
    course = workflow.submit_request(session, world["teacher"], course_input(world))
    workflow.approve(session, world["school_admin"], course)
    workflow.assign_instructor(session, world["school_admin"], course, "office", world["instructor"].id)
    enrolment.enrol_group(session, world["teacher"], course, school_id=world.school.id, class_id=world.cls.id)
    enrolment.unenrol(session, world["teacher"], course, world["student"].id)
    # Rows as the platform wrote them before: raw ids in the detail and in from/to.
    for from_value, to_value, detail in [
        (None, "+5", f"school={world.school.id} grade=5 class={world.cls.id}"),
        (None, "+5", f"school={world.school.id} grade=5"),
        (None, "-1", f"id={world['student2'].id}"),
        (None, "-1", "id=999999999"),
    ]:
        session.add(
            CourseEvent(
                course_id=course.id,
                kind=EventKind.enrolment,
                from_value=from_value,
                to_value=to_value,
                detail=detail,
            )
        )
    session.add(
        CourseEvent(
            course_id=course.id,
            kind=EventKind.instructor,
            from_value=str(world["external"].id),
            to_value="999999999",
        )
    )
    session.flush()
    lines = workflow.history_lines(session, course)
    said = [(line.what[0] % line.what[1], line.detail) for line in lines]
    assert said[0] == ("승인 대기", "")
    assert said[1] == ("승인 대기 → 승인됨", "")
    assert said[2] == (f"강사 지정: {world['instructor'].name}", "")
    assert said[3] == ("수강생 등록 (5명)", "가람초 5학년 1반")
    assert said[4] == ("수강 취소 (1명)", world["student"].name)
    assert said[5] == ("수강생 등록 (5명)", "가람초 5학년 1반")
    assert said[6] == ("수강생 등록 (5명)", "가람초 5학년")
    assert said[7] == ("수강 취소 (1명)", world["student2"].name)
    assert said[8] == ("수강 취소 (1명)", "(알 수 없는 사용자)")
    assert said[9] == (f"강사 변경: {world['external'].name} → (알 수 없는 사용자)", "")
    assert not any("=" in text or "id" in detail for text, detail in said)


def _groups(session, actor, course):
    return [
        (school.name, [(g.kind, g.grade, g.class_label) for g in found])
        for school, found in enrolment.enrolment_groups(session, actor, course)
    ]


def test_enrolment_groups_fit_the_level_and_targets(session, world):
    # Class level: that class only.
    course = workflow.submit_request(session, world["teacher"], course_input(world))
    assert _groups(session, world["teacher"], course) == [("가람초", [("class", 5, "5학년 1반")])]
    # School level, the whole school: the school, its grades and its classes.
    school = workflow.submit_request(session, world["school_admin"], course_input(world, level="school"))
    assert _groups(session, world["school_admin"], school) == [
        (
            "가람초",
            [
                ("school", None, ""),
                ("grade", 5, ""),
                ("grade", 6, ""),
                ("class", 5, "5학년 1반"),
                ("class", 5, "5학년 2반"),
                ("class", 6, "6학년 1반"),
            ],
        )
    ]
    # School level, grade 5 only: grade 5 and its classes.
    g5 = workflow.submit_request(
        session,
        world["school_admin"],
        course_input(world, level="school", targets=[TargetInput(world.school.id, 5)]),
    )
    assert _groups(session, world["school_admin"], g5) == [
        ("가람초", [("grade", 5, ""), ("class", 5, "5학년 1반"), ("class", 5, "5학년 2반")])
    ]
    # Office level: the target schools; a school's admin sees their own school only.
    office = workflow.submit_request(session, world["office_admin"], course_input(world, level="office"))
    assert _groups(session, world["office_admin"], office) == [
        ("가람초", [("school", None, "")]),
        ("가온초", [("school", None, "")]),
    ]
    assert _groups(session, world["school_b_admin"], office) == [("가온초", [("school", None, "")])]
    assert _groups(session, world["foreign_admin"], office) == []


def test_resubmitting_reshapes_the_lessons_and_their_times(session, world):
    day = _day(world)
    course = workflow.submit_request(
        session, world["teacher"], course_input(world, schedule=[_times(1, day, "09:00", "09:40")])
    )
    workflow.reject(session, world["school_admin"], course, "차시를 줄여 주세요")
    data = course_input(world, lesson_count=2, hours=2, delivery="recorded", watch_threshold_pct=70)
    data.schedule = [_times(2, day, "13:00", "13:40")]
    workflow.resubmit(session, world["teacher"], course, data)
    session.flush()
    assert [(lesson.number, lesson.kind.value) for lesson in course.lessons] == [
        (1, "recorded"),
        (2, "recorded"),
    ]
    assert course.lessons[0].starts_at is None
    assert course.lessons[1].starts_at.astimezone(SEOUL).time() == time(13, 0)
    assert course.watch_threshold_pct == 70
