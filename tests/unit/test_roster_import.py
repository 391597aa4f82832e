"""OneRoster CSV import: encodings, every kind of bad row, idempotency, and the keep-good-rows policy."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import func, select

from courses import roster_import
from courses.accounts import check_password
from courses.errors import Forbidden, ValidationError
from courses.models import (
    ClassMembership,
    MemberRole,
    Organisation,
    OrgKind,
    ParentLink,
    Role,
    SchoolClass,
    SchoolLevel,
    User,
)
from courses.roster_import import import_roster

ORGS = """sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId
dist-1,,,가람교육청,district,,
sup-1,,,가람동부교육지원청,local,,dist-1
sch-1,,,가람새싹초등학교,school,,sup-1
sch-2,,,가람중학교,school,,dist-1
"""
CLASSES = """sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds
cls-1,,,5학년 1반,05,,,homeroom,,sch-1,
cls-2,,,5학년 2반,05,,,homeroom,,sch-1,
cls-3,,,1학년 1반,01,,,homeroom,,sch-2,
"""
USERS = """sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,email,agentSourcedIds,password
adm-1,,,true,sch-1,administrator,sch1-admin,,영희,김,,,
t-1,,,true,sch-1,teacher,sch1-t1,,철수,이,t1@example.kr,,
s-1,,,true,sch-1,student,sch1-s1,,민준,박,,p-1,
s-2,,,true,sch-1,student,sch1-s2,,서연,최,,,
p-1,,,true,sch-1,parent,sch1-p1,,지훈,박,,,
sup-adm,,,true,sup-1,administrator,sup-admin,,수진,정,,,
"""
ENROLLMENTS = """sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary
e-1,,,cls-1,sch-1,t-1,teacher,true
e-2,,,cls-1,sch-1,s-1,student,false
e-3,,,cls-2,sch-1,s-2,student,false
"""


def files(encoding: str = "utf-8", **replace: str) -> dict[str, bytes]:
    """The four files, encoded; pass orgs=..., users=... to swap one (empty string drops it)."""
    texts = {"orgs.csv": ORGS, "classes.csv": CLASSES, "users.csv": USERS, "enrollments.csv": ENROLLMENTS}
    for key, text in replace.items():
        texts[f"{key}.csv"] = text
    return {name: text.encode(encoding) for name, text in texts.items() if text}


def reasons(result: roster_import.ImportResult) -> list[str]:
    return [str(e) for e in result.errors]


def user(session, sid: str) -> User | None:  # type: ignore[no-untyped-def]
    return session.scalar(select(User).where(User.sourced_id == sid))


def memberships(session) -> set[tuple[str, str, MemberRole]]:  # type: ignore[no-untyped-def]
    rows = session.execute(
        select(SchoolClass.code, User.sourced_id, ClassMembership.role)
        .join(SchoolClass, SchoolClass.id == ClassMembership.class_id)
        .join(User, User.id == ClassMembership.user_id)
        .where(SchoolClass.code.is_not(None))
    )
    return {tuple(r) for r in rows}  # type: ignore[misc]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949"])
def test_imports_every_entity_in_utf8_bom_and_cp949(session, world, encoding):
    result = import_roster(session, world["office_admin"], files(encoding), school_year=2026)

    assert result.errors == []
    counts = {k: (c.created, c.updated, c.failed) for k, c in result.counts.items()}
    assert counts == {
        "orgs": (3, 1, 0),  # the office adopts its district sourcedId: an update
        "classes": (3, 0, 0),
        "users": (6, 0, 0),
        "parent_links": (1, 0, 0),
        "enrollments": (3, 0, 0),
    }
    assert world.office.code == "dist-1"
    sup = session.scalar(select(Organisation).where(Organisation.code == "sup-1"))
    school = session.scalar(select(Organisation).where(Organisation.code == "sch-1"))
    middle = session.scalar(select(Organisation).where(Organisation.code == "sch-2"))
    assert (sup.kind, sup.parent_id, sup.office_id) == (
        OrgKind.support_office,
        world.office.id,
        world.office.id,
    )
    assert (school.kind, school.parent_id, school.school_level) == (
        OrgKind.school,
        sup.id,
        SchoolLevel.elementary,
    )
    assert (middle.parent_id, middle.school_level) == (world.office.id, SchoolLevel.middle)
    cls = session.scalar(select(SchoolClass).where(SchoolClass.code == "cls-1"))
    assert (cls.school_id, cls.school_year, cls.grade, cls.name, cls.label) == (
        school.id,
        2026,
        5,
        "1반",
        "5학년 1반",
    )

    student = user(session, "s-1")
    assert (student.name, student.username, student.role, student.org_id, student.office_id) == (
        "박민준",
        "sch1-s1",
        Role.student,
        school.id,
        world.office.id,
    )
    assert student.password_hash is None  # no password column value: none set
    assert user(session, "adm-1").role == Role.school_admin
    assert (user(session, "sup-adm").role, user(session, "sup-adm").org_id) == (Role.office_admin, sup.id)
    assert user(session, "t-1").email == "t1@example.kr"
    assert (
        session.scalar(select(ParentLink.child_id).where(ParentLink.parent_id == user(session, "p-1").id))
        == student.id
    )
    assert memberships(session) == {
        ("cls-1", "t-1", MemberRole.teacher),
        ("cls-1", "s-1", MemberRole.student),
        ("cls-2", "s-2", MemberRole.student),
    }


def test_a_zip_of_the_files_imports_the_same(session, world):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files("cp949").items():
            z.writestr(f"oneroster/{name}", data)
        z.writestr("oneroster/manifest.csv", b"propertyName,value\nmanifest.version,1.0\n")
    result = import_roster(session, world["office_admin"], [("명단.zip", buf.getvalue())], school_year=2026)
    assert result.errors == []
    assert result.counts["users"].created == 6
    assert result.files_ignored == ["manifest.csv"]
    assert user(session, "s-2").name == "최서연"


def test_reimporting_the_same_files_changes_nothing(session, world):
    import_roster(session, world["office_admin"], files(), school_year=2026)
    before = (
        session.scalar(select(func.count()).select_from(User)),
        session.scalar(select(func.count()).select_from(ClassMembership)),
    )

    again = import_roster(session, world["office_admin"], files(), school_year=2026)

    assert again.errors == []
    assert again.created == 0
    assert {k: c.updated for k, c in again.counts.items()} == dict.fromkeys(roster_import.ENTITIES, 0)
    assert {k: c.unchanged for k, c in again.counts.items()} == {
        "orgs": 4,
        "classes": 3,
        "users": 6,
        "parent_links": 1,
        "enrollments": 3,
    }
    after = (
        session.scalar(select(func.count()).select_from(User)),
        session.scalar(select(func.count()).select_from(ClassMembership)),
    )
    assert after == before


@pytest.mark.parametrize("scan_over", [20_000, 0], ids=["lookups", "office-scan"])
def test_reimport_updates_changed_rows_moves_students_and_removes_tobedeleted(
    session, world, monkeypatch, scan_over
):
    monkeypatch.setattr(
        "courses.roster_import.bulk.SCAN_OVER", scan_over
    )  # big files: one scan of the office
    import_roster(session, world["office_admin"], files(), school_year=2026)
    users = USERS.replace(
        "s-2,,,true,sch-1,student,sch1-s2,,서연,최", "s-2,,,true,sch-1,student,sch1-s2,,서윤,최"
    )
    enrollments = ENROLLMENTS.replace(
        "e-2,,,cls-1,sch-1,s-1,student", "e-2,tobedeleted,,cls-1,sch-1,s-1,student"
    )
    enrollments = enrollments.replace(
        "e-3,,,cls-2,sch-1,s-2", "e-3,,,cls-1,sch-1,s-2"
    )  # 반 이동 in the same year

    result = import_roster(
        session, world["office_admin"], files(users=users, enrollments=enrollments), school_year=2026
    )

    assert result.errors == []
    assert (result.counts["users"].updated, result.counts["users"].unchanged) == (1, 5)
    assert user(session, "s-2").name == "최서윤"
    e = result.counts["enrollments"]
    assert (e.created, e.updated, e.deleted, e.unchanged) == (0, 1, 1, 1)
    assert memberships(session) == {
        ("cls-1", "t-1", MemberRole.teacher),
        ("cls-1", "s-2", MemberRole.student),
    }


def test_keeps_good_rows_and_reports_bad_ones_with_line_numbers(session, world):
    users = USERS + "w-1,,,true,sch-1,wizard,wiz,,해리,포,,,\n"  # line 8
    enrollments = ENROLLMENTS + "e-4,,,cls-2,sch-1,w-1,student,false\n"  # line 5: depends on the bad user

    result = import_roster(
        session, world["office_admin"], files(users=users, enrollments=enrollments), school_year=2026
    )

    assert reasons(result) == [
        "users.csv 8행: 역할 'wizard'을(를) 알 수 없습니다.",
        "enrollments.csv 5행: 사용자 'w-1'의 행(users.csv 8행)에 오류가 있어 이 행도 가져오지 않았습니다.",
    ]
    assert (result.counts["users"].created, result.counts["users"].failed) == (6, 1)
    assert (result.counts["enrollments"].created, result.counts["enrollments"].failed) == (3, 1)
    assert user(session, "w-1") is None
    assert user(session, "s-1") is not None  # the good rows are in
    err = result.errors[0]
    assert (err.file, err.line, err.warning) == ("users.csv", 8, False)


def test_a_missing_required_column_leaves_the_file_out_and_its_dependants_are_reported(session, world):
    users = USERS.replace(",role,", ",rank,", 1)
    result = import_roster(session, world["office_admin"], files(users=users), school_year=2026)
    assert reasons(result)[0] == "users.csv: 필수 열 'role'이(가) 없습니다 (1행 머리글을 확인해 주세요)."
    assert reasons(result)[1:] == [
        f"enrollments.csv {n}행: 사용자 '{sid}'이(가) 있는 users.csv 파일을 읽지 못해 이 행도 가져오지 않았습니다."
        for n, sid in [(2, "t-1"), (3, "s-1"), (4, "s-2")]
    ]
    assert result.counts["classes"].created == 3  # other files still imported
    assert result.counts["users"].created == 0


def test_an_empty_required_value_is_a_row_error(session, world):
    users = USERS.replace("s-2,,,true,sch-1,student", "s-2,,,true,,student")
    result = import_roster(session, world["office_admin"], files(users=users), school_year=2026)
    assert "users.csv 5행: 소속 기관(orgSourcedIds)이 비어 있습니다." in reasons(result)


def test_unknown_org_references_are_reported(session, world):
    orgs = ORGS + "sch-3,,,가람고등학교,school,,sup-9\n"
    classes = CLASSES + "cls-9,,,2학년 1반,02,,,homeroom,,sch-404,\n"
    users = USERS.replace("s-2,,,true,sch-1,", "s-2,,,true,sch-x,")
    result = import_roster(
        session, world["office_admin"], files(orgs=orgs, classes=classes, users=users), school_year=2026
    )
    assert reasons(result) == [
        "orgs.csv 6행: 상위 기관 'sup-9'을(를) 찾을 수 없습니다 (파일에도, 관할 교육청에도 없습니다).",
        "classes.csv 5행: 학교 'sch-404'을(를) 찾을 수 없습니다 (파일에도, 관할 교육청에도 없습니다).",
        "users.csv 5행: 기관 'sch-x'을(를) 찾을 수 없습니다 (파일에도, 관할 교육청에도 없습니다).",
        "enrollments.csv 4행: 사용자 's-2'의 행(users.csv 5행)에 오류가 있어 이 행도 가져오지 않았습니다.",
    ]


def test_rows_under_a_bad_org_are_reported_as_dependants(session, world):
    orgs = ORGS.replace("sch-1,,,가람새싹초등학교,school,", "sch-1,,,가람새싹초등학교,campus,")
    result = import_roster(session, world["office_admin"], files(orgs=orgs), school_year=2026)
    msgs = reasons(result)
    assert (
        msgs[0] == "orgs.csv 4행: 기관 유형 'campus'을(를) 알 수 없습니다 (district, local, school 중 하나)."
    )
    assert (
        "classes.csv 2행: 학교 'sch-1'의 행(orgs.csv 4행)에 오류가 있어 이 행도 가져오지 않았습니다." in msgs
    )
    assert "users.csv 3행: 기관 'sch-1'의 행(orgs.csv 4행)에 오류가 있어 이 행도 가져오지 않았습니다." in msgs
    assert result.counts["classes"].created == 1  # sch-2's class


def test_duplicate_sourced_id_in_one_file_keeps_the_first_row(session, world):
    users = USERS + "s-1,,,true,sch-1,student,other,,다른,사람,,,\n"
    classes = CLASSES + "cls-1,,,6학년 1반,06,,,homeroom,,sch-1,\n"
    result = import_roster(
        session, world["office_admin"], files(users=users, classes=classes), school_year=2026
    )
    assert reasons(result) == [
        "classes.csv 5행: sourcedId 'cls-1'이(가) 이 파일에서 중복됩니다 (2행에 먼저 나옵니다).",
        "users.csv 8행: sourcedId 's-1'이(가) 이 파일에서 중복됩니다 (4행에 먼저 나옵니다).",
    ]
    assert user(session, "s-1").name == "박민준"
    assert session.scalar(select(SchoolClass.grade).where(SchoolClass.code == "cls-1")) == 5


@pytest.mark.parametrize("grades", ["13", "KG", "05,06", "다섯"])
def test_bad_grade_is_a_row_error(session, world, grades):
    classes = CLASSES.replace("cls-3,,,1학년 1반,01,", f'cls-3,,,1반,"{grades}",')
    result = import_roster(session, world["office_admin"], files(classes=classes), school_year=2026)
    assert reasons(result)[0] == (
        f"classes.csv 4행: 학년 '{grades}'이(가) 올바르지 않습니다 (담임 학급은 1~12 중 한 학년)."
    )
    assert result.counts["classes"].created == 2


def test_grade_comes_from_the_title_when_the_column_is_empty_and_must_agree(session, world):
    classes = CLASSES.replace("cls-2,,,5학년 2반,05,", "cls-2,,,5학년 2반,,").replace(
        "cls-3,,,1학년 1반,01,", "cls-3,,,1학년 1반,02,"
    )
    result = import_roster(session, world["office_admin"], files(classes=classes), school_year=2026)
    assert reasons(result) == ["classes.csv 4행: 학년(2)이 제목 '1학년 1반'과(와) 다릅니다."]
    assert session.scalar(select(SchoolClass.grade).where(SchoolClass.code == "cls-2")) == 5


def test_users_and_orgs_outside_the_actors_office_are_refused(session, world):
    world.foreign_school.code = "foreign-sch"
    world["foreign_student"].sourced_id = "foreign-s"
    session.flush()
    users = (
        USERS
        + "foreign-s,,,true,sch-1,student,grab,,훔친,이,,,\n"
        + "x-1,,,true,foreign-sch,student,x1,,엑스,김,,,\n"
    )
    orgs = ORGS + "foreign-sch,,,나래초,school,,dist-1\n"
    result = import_roster(session, world["office_admin"], files(users=users, orgs=orgs), school_year=2026)
    assert reasons(result) == [
        "orgs.csv 6행: 기관 'foreign-sch'은(는) 다른 교육청 소속이라 가져올 수 없습니다.",
        "users.csv 8행: 사용자 'foreign-s'은(는) 다른 교육청 소속이라 가져올 수 없습니다.",
        "users.csv 9행: 기관 'foreign-sch'의 행(orgs.csv 6행)에 오류가 있어 이 행도 가져오지 않았습니다.",
    ]
    session.refresh(world["foreign_student"])
    assert world["foreign_student"].office_id == world.other_office.id
    assert world["foreign_student"].username == "f51-s1"


def test_a_district_other_than_the_actors_office_is_refused(session, world):
    world.office.code = "dist-1"
    session.flush()
    orgs = ORGS.replace("dist-1,,,가람교육청", "dist-2,,,나래교육청").replace(
        "sup-1,,,가람동부교육지원청,local,,dist-1", "sup-1,,,가람동부교육지원청,local,,dist-2"
    )
    result = import_roster(session, world["office_admin"], files(orgs=orgs), school_year=2026)
    msgs = reasons(result)
    assert (
        msgs[0]
        == "orgs.csv 2행: 교육청 'dist-2'은(는) 관리자님의 교육청이 아닙니다. 관할 교육청의 명단만 가져올 수 있습니다."
    )
    assert (
        msgs[1]
        == "orgs.csv 3행: 상위 기관 'dist-2'의 행(orgs.csv 2행)에 오류가 있어 이 행도 가져오지 않았습니다."
    )
    assert result.counts["orgs"].created == 1  # sch-2 sits directly under dist-1, the actor's office


def test_username_taken_by_someone_else_is_refused(session, world):
    users = USERS.replace("sch1-s2", "teacher")  # the factory's teacher holds "teacher"
    result = import_roster(session, world["office_admin"], files(users=users), school_year=2026)
    assert "users.csv 5행: 아이디 'teacher'은(는) 이미 다른 사용자가 쓰고 있습니다." in reasons(result)


def test_enrolment_must_match_role_and_school(session, world):
    enrollments = (
        ENROLLMENTS + "e-4,,,cls-3,sch-2,s-2,student,false\n" + "e-5,,,cls-2,sch-1,s-1,teacher,false\n"
    )
    result = import_roster(session, world["office_admin"], files(enrollments=enrollments), school_year=2026)
    assert reasons(result) == [
        "enrollments.csv 5행: 사용자 's-2'은(는) 학급 'cls-3'의 학교 소속이 아닙니다.",
        "enrollments.csv 6행: 사용자 's-1'은(는) 교사가 아닙니다.",
    ]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        (
            "users.csv",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "users.csv: CSV 텍스트 파일이 아닙니다. 엑셀에서 'CSV'로 저장한 파일을 올려 주세요.",
        ),
        (
            "users.csv",
            "sourcedId\n".encode("utf-16"),
            "users.csv: UTF-16 파일은 읽을 수 없습니다. 'CSV UTF-8' 또는 'CSV (쉼표로 분리)'로 저장해 주세요.",
        ),
        (
            "users.csv",
            b"abc\x80\xff\xff",
            "users.csv: UTF-8로도 CP949(EUC-KR)로도 읽을 수 없습니다. CSV 텍스트 파일인지 확인해 주세요.",
        ),
        (
            "photo.png",
            b"\x89PNG\r\n",
            "photo.png: 알 수 없는 파일입니다. orgs.csv, classes.csv, users.csv, enrollments.csv(또는 이들을 묶은 ZIP)를 올려 주세요.",
        ),
        ("roster.zip", b"PK\x03\x04broken", "roster.zip: ZIP 파일을 열 수 없습니다."),
    ],
)
def test_non_csv_files_get_a_clear_error(session, world, name, data, expected):
    result = import_roster(session, world["office_admin"], [(name, data)])
    assert reasons(result) == [expected]
    assert result.created == 0


def test_an_excel_workbook_is_refused_with_advice(session, world):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    result = import_roster(session, world["office_admin"], [("users.xlsx", buf.getvalue())])
    assert reasons(result) == [
        "users.xlsx: 엑셀(xlsx) 파일은 바로 읽지 않습니다. 시트마다 'CSV'로 저장해 올려 주세요."
    ]


@pytest.mark.parametrize("who", ["school_admin", "teacher", "student", "instructor"])
def test_only_office_admins_may_import(session, world, who):
    with pytest.raises(Forbidden):
        import_roster(session, world[who], files())


def test_no_files_or_a_bad_year_is_a_validation_error(session, world):
    with pytest.raises(ValidationError) as err:
        import_roster(session, world["office_admin"], [], school_year=1999)
    assert set(err.value.errors) == {"files", "school_year"}


def test_passwords_are_set_once_hashed_or_prehashed_and_capped(session, world, monkeypatch):
    monkeypatch.setattr("courses.roster_import.users.MAX_PLAIN_PASSWORDS", 1)
    prehashed = world["teacher"].password_hash
    users = (
        USERS.replace(
            "t-1,,,true,sch-1,teacher,sch1-t1,,철수,이,t1@example.kr,,",
            "t-1,,,true,sch-1,teacher,sch1-t1,,철수,이,t1@example.kr,,s3cret-pass",
        )
        .replace(
            "adm-1,,,true,sch-1,administrator,sch1-admin,,영희,김,,,",
            f'adm-1,,,true,sch-1,administrator,sch1-admin,,영희,김,,,"{prehashed}"',
        )
        .replace(
            "s-2,,,true,sch-1,student,sch1-s2,,서연,최,,,", "s-2,,,true,sch-1,student,sch1-s2,,서연,최,,,pw2"
        )
    )
    result = import_roster(session, world["office_admin"], files(users=users), school_year=2026)
    assert reasons(result) == [
        "users.csv 5행: 비밀번호는 한 번에 1명까지만 설정합니다. 이 사용자는 비밀번호 없이 가져왔습니다."
    ]
    assert result.errors[0].warning and result.error_count == 0 and result.warning_count == 1
    assert check_password(user(session, "t-1"), "s3cret-pass")
    assert user(session, "adm-1").password_hash == prehashed
    assert user(session, "s-2").password_hash is None
    assert result.counts["users"].created == 6

    again = import_roster(
        session, world["office_admin"], files(users=users.replace("s3cret-pass", "changed")), school_year=2026
    )
    assert check_password(user(session, "t-1"), "s3cret-pass")  # an import never overwrites a password
    assert again.counts["users"].updated == 1  # s-2 had none: it gets one now


def test_existing_class_without_sourced_id_is_adopted(session, world):
    world.school.code = "garam-es"
    session.flush()
    classes = CLASSES + "garam-5-1,,,5학년 1반,05,,,homeroom,,garam-es,\n"
    result = import_roster(session, world["office_admin"], files(classes=classes), school_year=2026)
    assert result.errors == []
    assert world.cls.code == "garam-5-1"
    assert (result.counts["classes"].created, result.counts["classes"].updated) == (3, 1)


def test_school_year_from_academic_sessions_or_column_or_argument(session, world):
    sessions = (
        "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear\n"
        "term-2027,,,2027학년도,schoolYear,2027-03-01,2028-02-28,,2027\n"
    )
    classes = CLASSES.replace(
        "cls-1,,,5학년 1반,05,,,homeroom,,sch-1,", "cls-1,,,5학년 1반,05,,,homeroom,,sch-1,term-2027"
    )
    result = import_roster(
        session,
        world["office_admin"],
        {**files(classes=classes), "academicSessions.csv": sessions.encode()},
        school_year=2025,
    )
    assert result.errors == []
    years = dict(
        session.execute(
            select(SchoolClass.code, SchoolClass.school_year).where(SchoolClass.code.like("cls-%"))
        ).all()
    )
    assert years == {"cls-1": 2027, "cls-2": 2025, "cls-3": 2025}


def test_non_homeroom_classes_and_their_enrolments_are_skipped(session, world):
    classes = CLASSES + "math-1,,,수학 5-1,05,,,scheduled,,sch-1,\n"
    enrollments = ENROLLMENTS + "e-9,,,math-1,sch-1,s-1,student,false\n"
    result = import_roster(
        session, world["office_admin"], files(classes=classes, enrollments=enrollments), school_year=2026
    )
    assert result.errors == []
    assert (result.counts["classes"].skipped, result.counts["enrollments"].skipped) == (1, 1)


def test_korean_school_year_starts_in_march():
    from datetime import date

    assert roster_import.default_school_year(date(2027, 2, 28)) == 2026
    assert roster_import.default_school_year(date(2027, 3, 1)) == 2027


def test_bulk_copy_path_gives_the_same_result(session, world, monkeypatch):
    monkeypatch.setattr("courses.roster_import.bulk.COPY_OVER", 1)  # PostgreSQL: COPY for every table
    result = import_roster(session, world["office_admin"], files(), school_year=2026)
    assert result.errors == [] and result.created == 16
    assert memberships(session) == {
        ("cls-1", "t-1", MemberRole.teacher),
        ("cls-1", "s-1", MemberRole.student),
        ("cls-2", "s-2", MemberRole.student),
    }
    student = user(session, "s-1")
    assert (student.role, student.active, student.created_at.tzinfo is not None) == (Role.student, True, True)
    assert (
        session.scalar(select(ParentLink.child_id).where(ParentLink.parent_id == user(session, "p-1").id))
        == student.id
    )
    assert import_roster(session, world["office_admin"], files(), school_year=2026).created == 0
