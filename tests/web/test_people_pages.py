"""The people pages: the filtered, paged list; a person's page with last login, edits, moving a student,
linking parents; who may do what; bad input as tables; audit entries that name people, never ids."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from courses.models import AccessAction, AccessLog, ClassMembership, MemberRole, ParentLink, Role, User
from tests.factories import make_user


def text(r) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(r.get_data(as_text=True))


def _log(db_session, action):  # type: ignore[no-untyped-def]
    db_session.expire_all()
    return list(
        db_session.scalars(select(AccessLog).where(AccessLog.action == action).order_by(AccessLog.id))
    )


def _post(c, path, **data):  # type: ignore[no-untyped-def]
    return c.post(path, data={"csrf_token": c.csrf(), **data})


def _cell(page: str, label: str, row_of: str) -> str:
    """The text of the cell labelled `label` in the row that links to `row_of`."""
    row = re.search(r"<tr>(?:(?!</tr>).)*?>" + re.escape(row_of) + r"</a>(?:(?!</tr>).)*</tr>", page, re.S)
    assert row, row_of
    cell = re.search(r'<td data-label="' + re.escape(label) + r'">(.*?)</td>', row.group(0), re.S)
    assert cell, label
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell.group(1))).strip()


# ---------------------------------------------------------------------------------------------------
# Last login


def test_last_login_shows_on_the_list_and_the_person_page(login, web_world, db_session):
    admin = login(web_world["school_admin"])
    student = web_world["student"]
    page = text(admin.get("/admin/people?q=a51-s1"))
    assert _cell(page, "마지막 로그인", student.name) == "로그인한 적 없음"
    assert "로그인한 적 없음" in text(admin.get(f"/admin/people/{student.id}"))
    login(student)
    db_session.expire_all()
    assert db_session.get(User, student.id).last_login_at is not None
    page = text(admin.get("/admin/people?q=a51-s1"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", _cell(page, "마지막 로그인", student.name))
    person = text(admin.get(f"/admin/people/{student.id}"))
    assert "마지막 로그인" in person and "로그인한 적 없음" not in person


# ---------------------------------------------------------------------------------------------------
# The list


def test_the_list_shows_class_and_role_in_korean(login, web_world):
    page = text(login(web_world["school_admin"]).get(f"/admin/people?class_id={web_world.cls.id}"))
    assert _cell(page, "학급", "a51-s3") == "5학년 1반 3번"
    assert _cell(page, "역할", "a51-s3") == "학생"
    assert _cell(page, "역할", "teacher") == "교사"
    assert ">student<" not in page and ">teacher</td>" not in page  # not the enum value
    assert 'class="table-wrap" tabindex="0" role="region"' in page and '<th scope="col">' in page
    assert "a52-s1" not in page  # another class


def test_the_list_in_english(login, web_world):
    c = login(web_world["school_admin"])
    _post(c, "/lang/en", next="/")
    page = text(c.get(f"/admin/people?class_id={web_world.cls.id}"))
    assert "Last login" in page and "Never logged in" in page and "No. 3" in page


def test_a_parent_row_names_the_children(login, web_world):
    page = text(login(web_world["school_admin"]).get("/admin/people?role=parent"))
    assert _cell(page, "학급", "parent") == f"자녀: {web_world['student'].name}"


def test_office_admins_filter_by_school_then_grade_and_class(login, web_world):
    c = login(web_world["office_admin"])
    page = text(c.get("/admin/people"))
    assert 'name="school_id"' in page and 'name="class_id"' not in page
    assert "학교를 고르고 찾기를 누르면" in page
    page = text(c.get(f"/admin/people?school_id={web_world.school_b.id}&role=student"))
    assert 'name="class_id"' in page and _cell(page, "학교", "b51-s1") == "가온초"
    assert "a51-s1" not in page
    page = text(c.get(f"/admin/people?school_id={web_world.school.id}&grade=6&status=active"))
    assert "a61-s1" in page and "a51-s1" not in page


def test_school_admins_have_no_school_filter(login, web_world):
    page = text(login(web_world["school_admin"]).get("/admin/people"))
    assert 'name="school_id"' not in page and 'name="grade"' in page
    assert "교육청 관리자</option>" not in page


def test_the_list_is_paged_with_its_filters(login, web_world, db_session):
    for i in range(57):
        make_user(db_session, f"extra-{i:03}", Role.teacher, web_world.school, web_world.office)
    db_session.commit()
    c = login(web_world["school_admin"])
    first = text(c.get("/admin/people?q=extra-&role=teacher"))
    assert "57명" in first and "1 / 2쪽" in first and "extra-000" in first and "extra-050" not in first
    link = re.search(r'href="(/admin/people\?[^"]*page=2[^"]*)"', first).group(1)
    assert "q=extra-" in link and "role=teacher" in link and "grade=" not in link  # empty filters left out
    second = text(c.get(link))
    assert "extra-050" in second and "extra-056" in second and "extra-000" not in second


@pytest.mark.parametrize(
    ("who", "query", "field", "message"),
    [
        ("school_admin", "role=wizard", "role", "허용되지 않는 값입니다."),
        ("school_admin", "role=office_admin", "role", "허용되지 않는 값입니다."),
        ("school_admin", "grade=abc", "grade", "숫자를 입력하세요."),
        ("school_admin", "grade=99", "grade", "학년이 올바르지 않습니다."),
        ("school_admin", "class_id=1.5", "class_id", "숫자를 입력하세요."),
        ("school_admin", "class_id=99999999999999999999", "class_id", "숫자가 너무 큽니다."),
        ("school_admin", "class_id={cls_b}", "class_id", "목록에 있는 반을 고르세요."),
        ("school_admin", "status=gone", "status", "허용되지 않는 값입니다."),
        ("office_admin", "school_id={foreign}", "school_id", "목록에 있는 학교를 고르세요."),
        ("office_admin", "school_id=x", "school_id", "숫자를 입력하세요."),
        ("office_admin", "grade=5", "grade", "학년·반으로 찾으려면 먼저 학교를 고르세요."),
    ],
)
def test_bad_filters_are_422_naming_the_field_and_keeping_the_input(
    login, web_world, who, query, field, message
):
    c = login(web_world[who])
    q = query.format(cls_b=web_world.cls_b.id, foreign=web_world.foreign_school.id)
    r = c.get(f"/admin/people?q=keep-me&{q}")
    assert r.status_code == 422
    page = text(r)
    assert f'id="{field}-error">{message}<' in page and f'href="#{field}"' in page
    assert 'value="keep-me"' in page


@pytest.mark.parametrize(
    "query", ["q=%25", "q=_", "q=\\", "page=-1", "page=abc", "page=99999999999999999999"]
)
def test_odd_queries_are_answered_not_failed(login, web_world, query):
    assert login(web_world["office_admin"]).get(f"/admin/people?{query}").status_code == 200


def test_reading_the_list_is_audited_by_names(login, web_world, db_session):
    c = login(web_world["office_admin"])
    c.get(f"/admin/people?school_id={web_world.school.id}&class_id={web_world.cls.id}")
    (entry,) = _log(db_session, AccessAction.people_listed)
    assert entry.detail == "가람초, 5학년 1반 (6)"


# ---------------------------------------------------------------------------------------------------
# Editing


def test_an_admin_edits_a_student_and_it_is_audited(login, web_world, db_session):
    c = login(web_world["school_admin"])
    sid = web_world["student"].id
    r = _post(c, f"/admin/people/{sid}/edit", name="김하늘", email="sky@school.kr", number="9")
    assert r.status_code == 302
    page = text(c.get(r.headers["Location"]))
    assert (
        "바꾸었습니다." in page and "김하늘" in page and "sky@school.kr" in page and "5학년 1반 9번" in page
    )
    (entry,) = _log(db_session, AccessAction.person_edited)
    assert entry.detail == "김하늘 (a51-s1): 이름 a51-s1 → 김하늘, 이메일, 번호 1 → 9"
    assert "sky@" not in entry.detail  # the address itself stays out of the log
    r = _post(c, f"/admin/people/{sid}/edit", name="김하늘", email="sky@school.kr", number="9")
    assert "바뀐 것이 없습니다." in text(c.get(r.headers["Location"]))
    assert len(_log(db_session, AccessAction.person_edited)) == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "", "email": ""}, "name", "이름을 입력하세요."),
        ({"name": "가" * 81, "email": ""}, "name", "이름은 80자 이하로 입력하세요."),
        (
            {"name": "김", "email": "nope"},
            "email",
            "이메일 주소 형식이 올바르지 않습니다 (예: name@school.kr).",
        ),
        ({"name": "김", "email": "", "number": "삼"}, "number", "숫자를 입력하세요."),
        ({"name": "김", "email": "", "number": "0"}, "number", "번호는 1~99 사이로 입력하세요."),
        ({"name": "김", "email": "", "number": "2"}, "number", "같은 반의 a51-s2 학생이 이미 2번입니다."),
    ],
)
def test_bad_edits_are_422_naming_the_field_and_keeping_the_input(
    login, web_world, db_session, data, field, message
):
    c = login(web_world["school_admin"])
    sid = web_world["student"].id
    r = _post(c, f"/admin/people/{sid}/edit", **{"number": "1", **data})
    assert r.status_code == 422
    page = text(r)
    assert f'id="{field}-error">{message}<' in page
    for key, value in data.items():
        if value:
            assert f'name="{key}"' in page and f'value="{value}"' in page, key
    db_session.expire_all()
    assert db_session.get(User, sid).name == "a51-s1" and _log(db_session, AccessAction.person_edited) == []


def test_both_a_bad_name_and_a_bad_number_are_named_at_once(login, web_world):
    c = login(web_world["school_admin"])
    r = _post(c, f"/admin/people/{web_world['student'].id}/edit", name="", email="", number="x")
    page = text(r)
    assert r.status_code == 422 and 'id="name-error"' in page and 'id="number-error"' in page


# ---------------------------------------------------------------------------------------------------
# Moving a student


def test_moving_a_student_says_what_happens_to_enrolments_and_is_audited(login, web_world, db_session):
    c = login(web_world["school_admin"])
    sid = web_world["student"].id
    page = text(c.get(f"/admin/people/{sid}"))
    assert "이미 등록된 강좌와 학습 기록(시청·출석·이수)은 그대로 남습니다" in page
    r = _post(c, f"/admin/people/{sid}/class", class_id=str(web_world.cls2.id), new_number="8")
    assert r.status_code == 302
    page = text(c.get(r.headers["Location"]))
    assert "반을 옮겼습니다: 5학년 2반" in page and "5학년 2반 8번" in page
    (entry,) = _log(db_session, AccessAction.student_moved)
    assert entry.detail == "a51-s1 (a51-s1): 5학년 1반 → 5학년 2반"
    member = db_session.scalar(
        select(ClassMembership).where(
            ClassMembership.user_id == sid, ClassMembership.role == MemberRole.student
        )
    )
    assert (member.class_id, member.number) == (web_world.cls2.id, 8)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "class_id"),
        ({"class_id": ""}, "class_id"),
        ({"class_id": "abc"}, "class_id"),
        ({"class_id": "{cls}"}, "class_id"),  # the class they are in
        ({"class_id": "{cls2}", "new_number": "x"}, "new_number"),
        ({"class_id": "{cls2}", "new_number": "3"}, "new_number"),  # a52-s3's
        ({"class_id": "{cls2}", "new_number": "100"}, "new_number"),
    ],
)
def test_bad_moves_are_422_naming_the_field(login, web_world, data, field):
    c = login(web_world["school_admin"])
    ids = {"cls": web_world.cls.id, "cls2": web_world.cls2.id}
    r = _post(
        c, f"/admin/people/{web_world['student'].id}/class", **{k: v.format(**ids) for k, v in data.items()}
    )
    assert r.status_code == 422 and f'id="{field}-error"' in text(r)
    if data.get("new_number"):
        assert f'value="{data["new_number"]}"' in text(r)


@pytest.mark.parametrize(
    ("who", "target", "cls", "status"),
    [
        ("school_admin", "student", "cls_b", 404),  # another school's class, outside their scope
        ("school_admin", "student", "foreign_cls", 404),
        ("office_admin", "student", "cls_b", 403),  # in their office, but another school
        ("office_admin", "student", "foreign_cls", 404),
        ("school_b_admin", "student", "cls2", 404),
        ("foreign_admin", "student", "cls2", 404),
        ("teacher", "student", "cls2", 404),
        ("student", "student", "cls2", 404),
        ("school_admin", "teacher", "cls2", 403),
    ],
)
def test_who_may_not_move_whom_where(login, web_world, db_session, who, target, cls, status):
    c = login(web_world[who])
    class_id = getattr(web_world, cls).id
    r = _post(c, f"/admin/people/{web_world[target].id}/class", class_id=str(class_id))
    assert r.status_code == status
    assert _log(db_session, AccessAction.student_moved) == []


# ---------------------------------------------------------------------------------------------------
# Parents and children


def test_link_a_parent_from_the_students_page_and_the_parent_sees_the_child(login, web_world, db_session):
    parent = make_user(db_session, "parent-park", Role.parent, web_world.school, web_world.office, "박보호")
    db_session.commit()
    child = web_world["student2"]
    c = login(web_world["school_admin"])
    page = text(c.get(f"/admin/people/{child.id}?link_q=박"))
    assert "박보호" in page and 'name="other_id"' in page and 'for="link_q"' in page
    r = _post(c, f"/admin/people/{child.id}/family", other_id=str(parent.id), link_q="박")
    assert r.status_code == 302
    assert "연결했습니다: 보호자 박보호, 자녀 a52-s1" in text(c.get(r.headers["Location"]))
    (entry,) = _log(db_session, AccessAction.parent_linked)
    assert entry.detail == "박보호 (parent-park) → a52-s1 (a52-s1)"
    assert "a52-s1" in text(login(parent).get("/"))  # the parent's home lists the child
    # Linking again is refused and named; nothing is duplicated.
    r = _post(c, f"/admin/people/{child.id}/family", other_id=str(parent.id), link_q="박")
    assert r.status_code == 422 and 'id="other_id-error">이미 연결되어 있습니다.<' in text(r)
    assert len(db_session.scalars(select(ParentLink).where(ParentLink.parent_id == parent.id)).all()) == 1


def test_link_a_child_from_the_parents_page(login, web_world, db_session):
    c = login(web_world["office_admin"])
    parent = web_world["parent"]
    page = text(c.get(f"/admin/people/{parent.id}?link_q=a52-s2"))
    assert "5학년 2반 2번" in page  # children come with their class
    child = db_session.scalar(select(User).where(User.username == "a52-s2"))
    r = _post(c, f"/admin/people/{parent.id}/family", other_id=str(child.id))
    assert r.status_code == 302
    db_session.expire_all()
    children = db_session.scalars(select(ParentLink.child_id).where(ParentLink.parent_id == parent.id)).all()
    assert sorted(children) == sorted([web_world["student"].id, child.id])


def test_unlinking_asks_first_then_the_parent_no_longer_sees_the_child(login, web_world, db_session):
    c = login(web_world["school_admin"])
    parent, child = web_world["parent"], web_world["student"]
    page = text(c.get(f"/admin/people/{child.id}"))
    confirm = f"/admin/people/{child.id}/family/{parent.id}/remove"
    assert f'href="{confirm}"' in page
    r = c.get(confirm)
    assert r.status_code == 200
    ask = text(r)
    assert "다음 연결을 끊을까요?" in ask and parent.name in ask and child.name in ask and "취소" in ask
    assert db_session.scalar(select(ParentLink.id).where(ParentLink.parent_id == parent.id))  # not yet
    r = _post(c, confirm)
    assert r.status_code == 302
    assert "연결을 끊었습니다" in text(c.get(r.headers["Location"]))
    assert db_session.scalar(select(ParentLink.id).where(ParentLink.parent_id == parent.id)) is None
    (entry,) = _log(db_session, AccessAction.parent_unlinked)
    assert entry.detail == f"{parent.name} (parent) → {child.name} ({child.username})"
    assert child.name not in text(login(parent).get("/"))
    assert c.get(confirm).status_code == 404 and _post(c, confirm).status_code == 404


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("school_b_admin", 404),
        ("foreign_admin", 404),
        ("other_office_admin", 404),
        ("teacher", 404),
        ("parent", 404),
        ("student", 404),
    ],
)
def test_who_may_not_link_or_unlink(login, web_world, db_session, who, status):
    c = login(web_world[who])
    child, parent = web_world["student"], web_world["parent"]
    assert (
        _post(c, f"/admin/people/{web_world['student2'].id}/family", other_id=str(parent.id)).status_code
        == status
    )
    assert c.get(f"/admin/people/{child.id}/family/{parent.id}/remove").status_code == status
    assert _post(c, f"/admin/people/{child.id}/family/{parent.id}/remove").status_code == status
    assert db_session.scalar(select(ParentLink.id).where(ParentLink.parent_id == parent.id))


@pytest.mark.parametrize(("other_id", "status"), [("", 422), ("x", 422), ("99999999", 404)])
def test_bad_link_requests(login, web_world, other_id, status):
    c = login(web_world["school_admin"])
    r = _post(c, f"/admin/people/{web_world['student2'].id}/family", other_id=other_id)
    assert r.status_code == status


# ---------------------------------------------------------------------------------------------------
# Who sees whose page


@pytest.mark.parametrize(
    ("who", "target", "status"),
    [
        ("school_admin", "student", 200),
        ("school_admin", "parent", 200),
        ("school_admin", "teacher", 200),
        ("office_admin", "student_b", 200),
        ("office_admin", "instructor", 200),
        ("school_admin", "student_b", 404),
        ("school_admin", "office_admin", 404),
        ("school_b_admin", "student", 404),
        ("foreign_admin", "student", 404),
        ("other_office_admin", "student", 404),
        ("teacher", "student", 404),
        ("parent", "student", 404),
        ("student", "student", 404),
    ],
)
def test_who_sees_and_edits_whose_page(login, web_world, db_session, who, target, status):
    c = login(web_world[who])
    person = web_world[target]
    assert c.get(f"/admin/people/{person.id}").status_code == status
    r = _post(c, f"/admin/people/{person.id}/edit", name="바뀐 이름", email="")
    assert r.status_code == (302 if status == 200 else status)
    db_session.expire_all()
    assert (db_session.get(User, person.id).name == "바뀐 이름") == (status == 200)


def test_reading_a_students_page_is_audited(login, web_world, db_session):
    c = login(web_world["school_admin"])
    c.get(f"/admin/people/{web_world['student'].id}")
    c.get(f"/admin/people/{web_world['teacher'].id}")  # not a student: not a minor's record
    (entry,) = _log(db_session, AccessAction.person_viewed)
    assert entry.detail == "a51-s1 (a51-s1)"


def test_the_person_page_is_labelled_and_shows_class_and_parents(login, web_world):
    page = text(login(web_world["school_admin"]).get(f"/admin/people/{web_world['student'].id}"))
    for field in ("name", "email", "number", "class_id", "new_number", "link_q"):
        assert f'<label for="{field}">' in page, field
    assert "5학년 1반 1번" in page and web_world["parent"].name in page
    assert "학생" in page and ">student<" not in page
