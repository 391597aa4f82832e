"""People an admin manages: last login, the filtered and paged list, edits, moving a student to another
class, and linking parents to children, each scoped to the admin's school or office."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from courses import enrolment, home, people, policy, workflow
from courses.accounts import authenticate
from courses.errors import Forbidden, NotFound, ValidationError
from courses.models import ClassMembership, Enrolment, MemberRole, ParentLink, Role, SchoolClass, User
from courses.people import PeopleFilter, PersonEdit
from tests.factories import PASSWORD, course_input, make_user


def _find(session, actor, **kw):
    f = PeopleFilter(**kw)
    return people.find_people(session, actor, f, people.filter_options(session, actor, f))


def _names(page):
    return {r.user.username for r in page.rows}


def _field(excinfo) -> set[str]:
    return set(excinfo.value.errors)


# ---------------------------------------------------------------------------------------------------
# Last login


def test_a_successful_login_is_noted_and_a_failed_one_is_not(session, world):
    student = world["student"]
    assert student.last_login_at is None
    assert authenticate(session, student.username, "wrong password") is None
    assert student.last_login_at is None
    assert authenticate(session, student.username, PASSWORD) is student
    first = student.last_login_at
    assert first is not None and first.tzinfo is not None
    student.active = False  # a disabled account's right password is no login either
    assert authenticate(session, student.username, PASSWORD) is None
    assert student.last_login_at == first


# ---------------------------------------------------------------------------------------------------
# The list: scope, filters, pages


def test_a_school_admin_lists_only_their_school(session, world):
    listed = _names(_find(session, world["school_admin"]))
    assert {"a51-s1", "a52-s1", "a61-s1", "teacher", "parent", "school-admin"} <= listed
    assert not listed & {"b51-s1", "f51-s1", "teacher-b", "office-admin", "instructor", "school-b-admin"}


def test_an_office_admin_lists_only_their_office(session, world):
    listed = _names(_find(session, world["office_admin"]))
    assert {"a51-s1", "b51-s1", "instructor", "school-b-admin"} <= listed
    assert not listed & {"f51-s1", "foreign-admin", "other-office-admin"}


@pytest.mark.parametrize(
    ("who", "kw", "expected"),
    [
        ("school_admin", {"role": Role.parent}, {"parent"}),
        ("school_admin", {"role": Role.teacher}, {"teacher", "teacher2"}),
        ("school_admin", {"q": "a61"}, {f"a61-s{i}" for i in range(1, 6)}),
        ("school_admin", {"grade": 6}, {f"a61-s{i}" for i in range(1, 6)}),
        ("school_admin", {"class_id": "cls2"}, {"teacher2"} | {f"a52-s{i}" for i in range(1, 6)}),
        ("school_admin", {"class_id": "cls", "role": Role.student, "q": "s3"}, {"a51-s3"}),
        ("office_admin", {"school_id": "school_b", "role": Role.teacher}, {"teacher-b"}),
        ("office_admin", {"school_id": "school_b", "grade": 5, "q": "s5"}, {"b51-s5"}),
        ("office_admin", {"role": Role.instructor}, {"instructor", "external"}),
    ],
)
def test_filters(session, world, who, kw, expected):
    objects = {"cls": world.cls.id, "cls2": world.cls2.id, "school_b": world.school_b.id}
    kw = {k: objects.get(v, v) if isinstance(v, str) and k != "q" else v for k, v in kw.items()}
    assert _names(_find(session, world[who], **kw)) == expected


def test_the_status_filter(session, world):
    world["student"].active = False
    session.flush()
    disabled = _names(_find(session, world["school_admin"], status="disabled"))
    assert disabled == {world["student"].username}
    assert world["student"].username not in _names(_find(session, world["school_admin"], status="active"))


def test_class_filter_lists_the_teacher_first_then_students_by_number(session, world):
    rows = _find(session, world["school_admin"], class_id=world.cls.id).rows
    assert [r.user.username for r in rows] == ["teacher", "a51-s1", "a51-s2", "a51-s3", "a51-s4", "a51-s5"]
    assert rows[1].classes == [(world.cls, 1)]  # shown as 5학년 1반 1번
    assert rows[0].classes == [(world.cls, None)]  # a teacher has no number


def test_rows_name_a_parents_children(session, world):
    (row,) = _find(session, world["school_admin"], role=Role.parent).rows
    assert row.children == [world["student"].name] and row.school == "가람초"


def test_the_list_is_paged(session, world):
    for i in range(people.PAGE + 7):
        make_user(session, f"extra-{i:03}", Role.teacher, world.school, world.office)
    first = _find(session, world["school_admin"], q="extra-")
    assert first.total == people.PAGE + 7 and first.pages == 2 and len(first.rows) == people.PAGE
    f = PeopleFilter(q="extra-")
    opts = people.filter_options(session, world["school_admin"], f)
    second = people.find_people(session, world["school_admin"], f, opts, page=2)
    assert len(second.rows) == 7 and not _names(first) & _names(second)
    # A page past the end shows the last one.
    assert people.find_people(session, world["school_admin"], f, opts, page=99).page == 2


@pytest.mark.parametrize(
    ("who", "kw", "field"),
    [
        ("office_admin", {"school_id": "foreign_school"}, "school_id"),  # another office's
        ("office_admin", {"school_id": 99_999_999}, "school_id"),
        ("office_admin", {"grade": 5}, "grade"),  # grade without a school
        ("office_admin", {"class_id": "cls"}, "class_id"),
        ("office_admin", {"school_id": "school_b", "class_id": "cls"}, "class_id"),  # not that school's
        ("school_admin", {"class_id": "cls_b"}, "class_id"),  # another school's class
        ("school_admin", {"class_id": "foreign_cls"}, "class_id"),
        ("school_admin", {"grade": 0}, "grade"),
        ("school_admin", {"grade": 13}, "grade"),
        ("school_admin", {"status": "deleted"}, "status"),
        ("school_admin", {"role": Role.office_admin}, "role"),  # not among a school's roles
        ("school_admin", {"role": Role.instructor}, "role"),
    ],
)
def test_bad_filters_name_the_field(session, world, who, kw, field):
    objects = {
        "foreign_school": world.foreign_school.id,
        "school_b": world.school_b.id,
        "cls": world.cls.id,
        "cls_b": world.cls_b.id,
        "foreign_cls": world.foreign_cls.id,
    }
    kw = {k: objects.get(v, v) if isinstance(v, str) and k != "status" else v for k, v in kw.items()}
    with pytest.raises(ValidationError) as err:
        people.filter_options(session, world[who], PeopleFilter(**kw))
    assert field in _field(err)


@pytest.mark.parametrize("who", ["teacher", "student", "parent", "instructor"])
def test_only_admins_have_a_people_list(session, world, who):
    with pytest.raises(NotFound):
        people.filter_options(session, world[who], PeopleFilter())


def test_the_audit_description_names_things_never_ids(session, world):
    f = PeopleFilter(q="김", role=Role.student, school_id=world.school.id, class_id=world.cls.id)
    text = people.describe(f, people.filter_options(session, world["office_admin"], f))
    assert text == '"김", 학생, 가람초, 5학년 1반'
    assert (
        people.describe(PeopleFilter(), people.filter_options(session, world["school_admin"], PeopleFilter()))
        == "전체"
    )


def test_the_year_shown_is_this_one_else_the_latest_before_else_the_first():
    from datetime import date

    assert people._year_shown([2025, 2026, 2027], date(2026, 12, 2)) == 2026
    assert people._year_shown([2025, 2026, 2027], date(2027, 2, 28)) == 2026  # before 1 March
    assert people._year_shown([2024, 2025], date(2026, 5, 1)) == 2025
    assert people._year_shown([2030, 2031], date(2026, 5, 1)) == 2030
    assert people._year_shown([], date(2026, 5, 1)) is None


def test_a_students_class_is_that_of_the_year_shown(session, world):
    student = world["student"]
    old = SchoolClass(school_id=world.school.id, school_year=2000, grade=4, name="3반")
    session.add(old)
    session.flush()
    session.add(ClassMembership(class_id=old.id, user_id=student.id, role=MemberRole.student, number=9))
    session.flush()
    assert people.homeroom(session, student).class_id == world.cls.id
    (row,) = _find(session, world["school_admin"], q=student.username).rows
    assert row.classes == [(world.cls, 1)]


# ---------------------------------------------------------------------------------------------------
# Editing


def test_an_admin_edits_name_email_and_number(session, world):
    student = world["student"]
    changes = people.edit_person(
        session,
        world["school_admin"],
        student.id,
        PersonEdit(name="  김 하늘 ", email="sky@school.kr", number=7, set_number=True),
    )
    assert [c.label for c in changes] == ["이름", "이메일", "번호"]
    assert (student.name, student.email, people.homeroom(session, student).number) == (
        "김 하늘",
        "sky@school.kr",
        7,
    )
    # The same values again change nothing; an empty e-mail clears it.
    same = PersonEdit(name="김 하늘", email="sky@school.kr", number=7, set_number=True)
    assert people.edit_person(session, world["school_admin"], student.id, same) == []
    people.edit_person(session, world["office_admin"], student.id, PersonEdit(name="김 하늘", email=""))
    assert student.email is None


@pytest.mark.parametrize(
    ("target", "edit", "field"),
    [
        ("student", PersonEdit(name="", email=""), "name"),
        ("student", PersonEdit(name="   ", email=""), "name"),
        ("student", PersonEdit(name="\u200b\u200b", email=""), "name"),  # nothing visible
        ("student", PersonEdit(name="가" * 81, email=""), "name"),
        ("student", PersonEdit(name="김", email="not-an-address"), "email"),
        ("student", PersonEdit(name="김", email="two@@school.kr"), "email"),
        ("student", PersonEdit(name="김", email="a b@school.kr"), "email"),
        ("student", PersonEdit(name="김", email="a@" + "b" * 253), "email"),
        ("student", PersonEdit(name="김", email="", number=0, set_number=True), "number"),
        ("student", PersonEdit(name="김", email="", number=100, set_number=True), "number"),
        ("student", PersonEdit(name="김", email="", number=2, set_number=True), "number"),  # a51-s2's
        ("teacher", PersonEdit(name="김", email="", number=3, set_number=True), "number"),
    ],
)
def test_bad_edits_name_the_field_and_change_nothing(session, world, target, edit, field):
    person = world[target]
    before = (person.name, person.email)
    with pytest.raises(ValidationError) as err:
        people.edit_person(session, world["school_admin"], person.id, edit)
    assert field in _field(err)
    assert (person.name, person.email) == before


def test_a_taken_number_names_its_holder(session, world):
    with pytest.raises(ValidationError) as err:
        people.edit_person(
            session,
            world["school_admin"],
            world["student"].id,
            PersonEdit(name="a51-s1", email="", number=2, set_number=True),
        )
    message, params = err.value.errors["number"]
    assert params == {"name": "a51-s2", "n": 2}


@pytest.mark.parametrize(
    ("who", "target", "outcome"),
    [
        ("school_admin", "student", "ok"),
        ("school_admin", "teacher", "ok"),
        ("school_admin", "parent", "ok"),
        ("office_admin", "student_b", "ok"),
        ("office_admin", "instructor", "ok"),
        ("school_admin", "student_b", NotFound),  # another school
        ("school_admin", "office_admin", NotFound),
        ("school_b_admin", "student", NotFound),
        ("foreign_admin", "student", NotFound),
        ("other_office_admin", "student", NotFound),
        ("teacher", "student", NotFound),
        ("student", "student2", NotFound),
        ("parent", "student", NotFound),
        ("teacher", "teacher", NotFound),  # not even oneself: this is the admins' page
    ],
)
def test_who_may_edit_whom(session, world, who, target, outcome):
    person = world[target]
    edit = PersonEdit(name="새 이름", email="")
    if outcome == "ok":
        people.edit_person(session, world[who], person.id, edit)
        assert person.name == "새 이름"
    else:
        with pytest.raises(outcome):
            people.edit_person(session, world[who], person.id, edit)
        assert person.name != "새 이름"


# ---------------------------------------------------------------------------------------------------
# Moving a student


def _approved_course(session, world):
    course = workflow.submit_request(session, world["teacher"], course_input(world))
    workflow.approve(session, world["school_admin"], course)
    return course


def test_moving_a_student_keeps_their_enrolments(session, world):
    course = _approved_course(session, world)  # for 5학년 1반
    enrolment.enrol_group(session, world["teacher"], course, school_id=world.school.id, class_id=world.cls.id)
    student = world["student"]
    move = people.move_to_class(session, world["school_admin"], student.id, world.cls2.id, 6)
    assert (move.before, move.after, move.number) == (world.cls, world.cls2, 6)
    member = people.homeroom(session, student)
    assert (member.class_id, member.number) == (world.cls2.id, 6)
    assert session.scalar(
        select(Enrolment.id).where(Enrolment.course_id == course.id, Enrolment.student_id == student.id)
    )
    # Still one homeroom membership, now in the new class.
    held = session.scalars(
        select(ClassMembership.class_id).where(
            ClassMembership.user_id == student.id, ClassMembership.role == MemberRole.student
        )
    ).all()
    assert held == [world.cls2.id]


def test_a_student_without_a_class_gets_one(session, world):
    new = make_user(session, "a-new-student", Role.student, world.school, world.office)
    move = people.move_to_class(session, world["office_admin"], new.id, world.cls_g6.id)
    assert move.before is None and people.homeroom(session, new).class_id == world.cls_g6.id


@pytest.mark.parametrize(
    ("who", "target", "cls", "outcome"),
    [
        ("school_admin", "student", "cls2", "ok"),
        ("school_admin", "student", "cls_g6", "ok"),  # another grade, same school and year
        ("office_admin", "student", "cls2", "ok"),
        ("school_admin", "student", "cls_b", NotFound),  # another school's class: outside their scope
        ("school_admin", "student", "foreign_cls", NotFound),
        ("office_admin", "student", "cls_b", Forbidden),  # inside the office, but another school
        ("office_admin", "student", "foreign_cls", NotFound),
        ("school_b_admin", "student", "cls2", NotFound),  # another school's student
        ("foreign_admin", "student", "cls2", NotFound),
        ("teacher", "student", "cls2", NotFound),
        ("school_admin", "teacher", "cls2", Forbidden),  # only students move
        ("school_admin", "parent", "cls2", Forbidden),
        ("school_admin", "student", "cls", ValidationError),  # the class they are in
        ("school_admin", "student", "old_year", ValidationError),  # another school year
        ("school_admin", "student", "missing", NotFound),
    ],
)
def test_who_may_move_whom_where(session, world, who, target, cls, outcome):
    old = SchoolClass(school_id=world.school.id, school_year=2025, grade=4, name="1반")
    session.add(old)
    session.flush()
    classes = {
        "cls": world.cls,
        "cls2": world.cls2,
        "cls_g6": world.cls_g6,
        "cls_b": world.cls_b,
        "foreign_cls": world.foreign_cls,
        "old_year": old,
    }
    class_id = classes[cls].id if cls in classes else 99_999_999
    person = world[target]
    if outcome == "ok":
        people.move_to_class(session, world[who], person.id, class_id)
        assert people.homeroom(session, person).class_id == class_id
    else:
        before = people.homeroom(session, person) if person.role == Role.student else None
        with pytest.raises(outcome) as err:
            people.move_to_class(session, world[who], person.id, class_id)
        if outcome is ValidationError:
            assert _field(err) == {"class_id"}
        if before is not None:
            assert people.homeroom(session, person).class_id == world.cls.id


@pytest.mark.parametrize(
    ("number", "ok"), [(None, True), (6, True), (1, False), (5, False), (0, False), (100, False)]
)
def test_the_number_in_the_new_class(session, world, number, ok):
    # 5학년 2반 has numbers 1 to 5.
    if ok:
        people.move_to_class(session, world["school_admin"], world["student"].id, world.cls2.id, number)
        assert people.homeroom(session, world["student"]).number == number
    else:
        with pytest.raises(ValidationError) as err:
            people.move_to_class(session, world["school_admin"], world["student"].id, world.cls2.id, number)
        assert _field(err) == {"new_number"}


def test_the_classes_offered_are_the_same_school_and_year_but_their_own(session, world):
    p = people.profile(session, world["school_admin"], world["student"].id)
    assert {c.id for c in p.move_to} == {world.cls2.id, world.cls_g6.id}
    assert people.profile(session, world["school_admin"], world["teacher"].id).move_to == []


# ---------------------------------------------------------------------------------------------------
# Parents and children


def _other_parent(session, world, school=None, username="parent-new"):
    return make_user(session, username, Role.parent, school or world.school, world.office, name="박보호")


def test_linking_a_parent_lets_them_see_the_child_and_unlinking_stops_it(session, world):
    parent = _other_parent(session, world)
    child = world["student2"]
    assert home.parent_home(session, parent)["children"] == []
    assert people.link_family(session, world["school_admin"], child.id, parent.id) == (parent, child)
    assert [c.id for c, _courses in home.parent_home(session, parent)["children"]] == [child.id]
    assert [u.id for u in people.profile(session, world["school_admin"], child.id).parents] == [parent.id]
    # From the parent's side, the link is removed again.
    assert people.unlink_family(session, world["school_admin"], parent.id, child.id) == (parent, child)
    assert home.parent_home(session, parent)["children"] == []
    with pytest.raises(NotFound):
        people.unlink_family(session, world["school_admin"], parent.id, child.id)


def test_a_link_is_never_made_twice(session, world):
    with pytest.raises(ValidationError) as err:
        people.link_family(session, world["school_admin"], world["parent"].id, world["student"].id)
    assert _field(err) == {"other_id"}
    links = session.scalars(select(ParentLink).where(ParentLink.parent_id == world["parent"].id)).all()
    assert len(links) == 1


@pytest.mark.parametrize(
    ("who", "person", "other", "outcome"),
    [
        ("school_admin", "student2", "parent", "ok"),
        ("school_admin", "parent", "student2", "ok"),  # from the parent's page
        ("office_admin", "student2", "parent", "ok"),
        ("school_b_admin", "student2", "parent", NotFound),
        ("foreign_admin", "student2", "parent", NotFound),
        ("other_office_admin", "student2", "parent", NotFound),
        ("teacher", "student2", "parent", NotFound),
        ("parent", "parent", "student2", NotFound),  # a parent cannot link themselves to a child
        ("school_admin", "student_b", "parent", NotFound),  # the child is another school's
        ("office_admin", "student_b", "parent", Forbidden),  # both in the office, different schools
        ("school_admin", "student2", "teacher", ValidationError),  # not a parent account
        ("school_admin", "parent", "teacher", ValidationError),  # not a student account
        ("school_admin", "student2", "student", ValidationError),
        ("school_admin", "teacher", "student2", Forbidden),  # a teacher has no family here
    ],
)
def test_who_may_link_whom(session, world, who, person, other, outcome):
    p, o = world[person], world[other]
    count = len(session.scalars(select(ParentLink)).all())
    if outcome == "ok":
        parent, child = people.link_family(session, world[who], p.id, o.id)
        assert {parent.id, child.id} == {p.id, o.id} and parent.role == Role.parent
    else:
        with pytest.raises(outcome) as err:
            people.link_family(session, world[who], p.id, o.id)
        if outcome is ValidationError:
            assert _field(err) == {"other_id"}
        assert len(session.scalars(select(ParentLink)).all()) == count


def test_candidates_are_the_same_schools_not_yet_linked(session, world):
    mine = _other_parent(session, world, username="parent-mine")
    _other_parent(session, world, world.school_b, username="parent-other-school")
    found = people.link_candidates(session, world["office_admin"], world["student"], "parent")
    assert [u.username for u, _ in found] == ["parent-mine"]  # "parent" is linked already
    assert people.link_candidates(session, world["school_admin"], world["student"], "") == []
    kids = people.link_candidates(session, world["school_admin"], mine, "a52-s")
    assert [u.username for u, _ in kids] == [f"a52-s{i}" for i in range(1, 6)]
    assert kids[0][1].class_id == world.cls2.id  # with their class, to tell namesakes apart
    assert people.link_candidates(session, world["school_admin"], world["teacher"], "a5") == []


# ---------------------------------------------------------------------------------------------------
# One rule: Python and SQL agree, and the action table


def test_person_actions_by_role():
    admin = User(id=1, role=Role.school_admin, org_id=1, office_id=1)
    for role in Role:
        person = User(id=2, role=role, org_id=1, office_id=1)
        assert policy.may_act_on_person(admin, person, "edit")
        assert policy.may_act_on_person(admin, person, "move_class") == (role == Role.student)
        assert policy.may_act_on_person(admin, person, "link_family") == (role in (Role.student, Role.parent))
        teacher = User(id=3, role=Role.teacher, org_id=1, office_id=1)
        assert not policy.may_act_on_person(teacher, person, "edit")


def test_get_person_is_scoped(session, world):
    assert policy.get_person(session, world["school_admin"], world["student"].id) is world["student"]
    for who in ("school_b_admin", "foreign_admin", "teacher", "student"):
        with pytest.raises(NotFound):
            policy.get_person(session, world[who], world["student2"].id)
    with pytest.raises(NotFound):
        policy.get_person(session, world["school_admin"], 99_999_999)
