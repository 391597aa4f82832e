"""Instructor fees in the app: rates, a month's statements from a class held and a lesson published, approval,
a rate change after approval, corrections, exports, who may see what, and bad input (4xx, never 500)."""

from __future__ import annotations

import re

import pytest

from courses.models import FeeLineKind, FeeStatement, StatementStatus
from tests.export_support import read_csv, read_xlsx
from tests.fee_support import fee_course, held, kst, lesson, published


def post(client, url, **data):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": client.csrf(), **data})


def add_rate(client, kind="office", won="50000", points="10", valid_from="2026-01-01"):  # type: ignore[no-untyped-def]
    return post(
        client,
        "/fees/rates",
        instructor_type=kind,
        rate_per_hour=won,
        points_per_hour=points,
        valid_from=valid_from,
    )


@pytest.fixture()
def november(db_session, web_world):  # type: ignore[no-untyped-def]
    """In November 2026 (Seoul), `instructor` held lesson 1 (40 minutes) and published lesson 2; 2 hours each."""
    course = fee_course(db_session, web_world)
    held(db_session, lesson(course, 1), kst(2026, 11, 10, 10), 40)
    published(db_session, lesson(course, 2), kst(2026, 11, 20, 9))
    db_session.commit()
    return course


def the_statement(db_session, world) -> FeeStatement:  # type: ignore[no-untyped-def]
    db_session.expire_all()
    return db_session.query(FeeStatement).filter_by(instructor_id=world["instructor"].id).one()


def test_the_month_from_delivery_to_approval_correction_and_export(login, db_session, web_world, november):
    admin = login(web_world["office_admin"])
    assert add_rate(admin).status_code == 302
    page = admin.get("/fees/?month=2026-11")
    assert page.status_code == 200 and "요율표".encode() in page.data and b"50,000" in page.data
    assert post(admin, "/fees/generate", month="2026-11").status_code == 302
    listing = admin.get("/fees/?month=2026-11").get_data(as_text=True)
    assert web_world["instructor"].name in listing and "200,000" in listing and 'id="chart-data"' in listing
    statement = the_statement(db_session, web_world)
    assert statement.status == StatementStatus.draft
    assert [(x.kind, x.hours, x.rate, x.amount, x.points, x.minutes) for x in statement.lines] == [
        (FeeLineKind.live, 2, 50_000, 100_000, 20, 40),
        (FeeLineKind.recorded, 2, 50_000, 100_000, 20, None),
    ]
    url = f"/fees/statements/{statement.id}"
    shown = admin.get(url).get_data(as_text=True)
    assert "100,000" in shown and "200,000" in shown and 'name="confirm"' in shown

    unconfirmed = post(admin, f"{url}/approve")
    assert unconfirmed.status_code == 422 and "확인란에 표시하세요" in unconfirmed.get_data(as_text=True)
    assert the_statement(db_session, web_world).status == StatementStatus.draft
    assert post(admin, f"{url}/approve", confirm="yes").status_code == 302
    statement = the_statement(db_session, web_world)
    assert (
        statement.status == StatementStatus.approved
        and statement.approved_by_id == web_world["office_admin"].id
    )

    # A rate change after approval, and generating the month again, leave the approved amounts as they were.
    assert add_rate(admin, won="90000", valid_from="2026-11-01").status_code == 302
    assert post(admin, "/fees/generate", month="2026-11").status_code == 302
    assert [x.amount for x in the_statement(db_session, web_world).lines] == [100_000, 100_000]
    twice = post(admin, f"{url}/approve", confirm="yes")
    assert twice.status_code == 409 and "이미 승인된 명세서입니다" in twice.get_data(as_text=True)
    edit = post(admin, f"{url}/refresh")
    assert edit.status_code == 409 and "정정 줄을 추가하세요" in edit.get_data(as_text=True)
    assert [x.amount for x in the_statement(db_session, web_world).lines] == [100_000, 100_000]

    live_line = the_statement(db_session, web_world).lines[0]
    fixed = post(
        admin, f"{url}/corrections", line_id=str(live_line.id), hours="-1", reason="수업이 1차시만 진행됨"
    )
    assert fixed.status_code == 302
    lines = the_statement(db_session, web_world).lines
    assert [(x.kind, x.hours, x.amount, x.points, x.reason) for x in lines[2:]] == [
        (FeeLineKind.correction, -1, -50_000, -10, "수업이 1차시만 진행됨")
    ]
    assert "150,000" in admin.get(url).get_data(as_text=True)

    for fmt, reader in (("csv", read_csv), ("xlsx", read_xlsx)):
        got = admin.get(f"{url}?format={fmt}")
        assert got.status_code == 200, fmt
        heading, header, rows = reader(got.data)
        assert heading[0] == "강사료 명세서"
        assert f"강사: {web_world['instructor'].name}" in heading and "월: 2026-11" in heading
        assert "교육청: 가람교육청" in heading and "상태: 승인됨" in heading
        assert header[:3] == ["구분", "일시", "강좌·차시"] and header[-1] == "사유"
        kinds = [r[0] for r in rows]
        assert kinds == ["실시간 수업", "녹화 강의", "정정", "합계"]
        amounts = [int(r[6]) for r in rows]
        assert amounts == [100_000, 100_000, -50_000, 150_000]
        assert rows[0][1] == "2026-11-10 10:00" and int(rows[0][3]) == 40  # Seoul time, real minutes held
        assert rows[2][8] == "수업이 1차시만 진행됨"

    # The instructor reads their own statement, and can change nothing.
    mine = login(web_world["instructor"])
    own = mine.get("/fees/").get_data(as_text=True)
    assert "2026-11" in own and "150,000" in own
    page = mine.get(url)
    assert page.status_code == 200 and 'name="confirm"' not in page.get_data(as_text=True)
    assert "/corrections" not in page.get_data(as_text=True)
    assert mine.get(f"{url}?format=csv").status_code == 200
    assert post(mine, f"{url}/corrections", amount="100000", reason="내가 올림").status_code == 403
    assert len(the_statement(db_session, web_world).lines) == 3


@pytest.fixture()
def approved(login, db_session, web_world, november):  # type: ignore[no-untyped-def]
    admin = login(web_world["office_admin"])
    add_rate(admin)
    post(admin, "/fees/generate", month="2026-11")
    statement = the_statement(db_session, web_world)
    post(admin, f"/fees/statements/{statement.id}/approve", confirm="yes")
    assert the_statement(db_session, web_world).status == StatementStatus.approved
    return admin, statement.id


@pytest.mark.parametrize("who", ["other_office_admin", "external"])
def test_statements_outside_ones_scope_are_not_found(login, web_world, approved, who):
    _, sid = approved
    c = login(web_world[who])
    assert c.get(f"/fees/statements/{sid}").status_code == 404
    assert c.get(f"/fees/statements/{sid}?format=xlsx").status_code == 404
    assert post(c, f"/fees/statements/{sid}/approve", confirm="yes").status_code == 404
    assert (
        post(c, f"/fees/statements/{sid}/corrections", amount="1000", reason="사유 있음").status_code == 404
    )
    listing = c.get("/fees/?month=2026-11" if who == "other_office_admin" else "/fees/").get_data(
        as_text=True
    )
    assert f"/fees/statements/{sid}" not in listing


@pytest.mark.parametrize("who", ["student", "parent", "school_admin"])
def test_people_who_are_not_paid_have_no_fee_pages(login, web_world, approved, who):
    _, sid = approved
    c = login(web_world[who])
    assert c.get("/fees/").status_code == 403
    assert c.get(f"/fees/statements/{sid}").status_code == 404
    assert add_rate(c).status_code == 403
    assert post(c, "/fees/generate", month="2026-11").status_code == 403


def test_the_nav_link_is_shown_to_office_admins_and_instructors(login, web_world):
    for who, shown in (
        ("office_admin", True),
        ("instructor", True),
        ("student", False),
        ("school_admin", False),
    ):
        page = login(web_world[who]).get("/").get_data(as_text=True)
        assert ('href="/fees/"' in page) is shown, who


RATE_CASES = [
    (dict(won="abc"), "숫자를 입력하세요"),
    (dict(won="-1"), "0~10,000,000 사이의 숫자를 입력하세요"),
    (dict(won="10000001"), "0~10,000,000 사이의 숫자를 입력하세요"),
    (dict(won=""), "값을 입력하세요"),
    (dict(won="1e3"), "숫자를 입력하세요"),
    (dict(won="99999999999999999999"), "숫자"),
    (dict(points="-5"), "0~10,000,000 사이의 숫자를 입력하세요"),
    (dict(valid_from="2026-13-01"), "날짜 형식(YYYY-MM-DD)이 올바르지 않습니다"),
    (dict(valid_from=""), "적용 시작일을 입력하세요"),
    (dict(valid_from="1999-01-01"), "사이의 날짜를 입력하세요"),
    (dict(kind="boss"), "강사 구분을 선택하세요"),
]


@pytest.mark.parametrize(("fields", "message"), RATE_CASES)
def test_bad_rates_are_refused_with_a_message(login, db_session, web_world, fields, message):
    admin = login(web_world["office_admin"])
    r = add_rate(admin, **fields)
    assert r.status_code == 422 and message in r.get_data(as_text=True)
    assert "50,000" not in admin.get("/fees/").get_data(as_text=True)  # nothing was stored


@pytest.mark.parametrize(
    ("method", "path", "data", "status", "message"),
    [
        ("get", "/fees/?month=2026-13", {}, 422, "YYYY-MM"),
        ("get", "/fees/?month=abc", {}, 422, "YYYY-MM"),
        ("get", "/fees/?month=1999-12", {}, 422, "사이의 달을 입력하세요"),
        ("post", "/fees/generate", {"month": ""}, 422, "YYYY-MM"),
        ("post", "/fees/generate", {"month": "2026-1"}, 422, "YYYY-MM"),
        ("post", "{s}/corrections", {"amount": "1000", "reason": ""}, 422, "사유를 2~500자로 입력하세요"),
        (
            "post",
            "{s}/corrections",
            {"amount": "1000", "reason": "가" * 501},
            422,
            "사유를 2~500자로 입력하세요",
        ),
        ("post", "{s}/corrections", {"amount": "abc", "reason": "사유 있음"}, 422, "숫자를 입력하세요"),
        ("post", "{s}/corrections", {"amount": "0", "reason": "사유 있음"}, 422, "0이 아닌 금액"),
        ("post", "{s}/corrections", {"reason": "사유 있음"}, 422, "정정할 시수나 금액을 입력하세요"),
        (
            "post",
            "{s}/corrections",
            {"hours": "1", "reason": "사유 있음"},
            422,
            "시수를 정정할 차시를 고르세요",
        ),
        (
            "post",
            "{s}/corrections",
            {"hours": "1", "amount": "5", "line_id": "{l}", "reason": "사유 있음"},
            422,
            "하나만",
        ),
        (
            "post",
            "{s}/corrections",
            {"hours": "1", "line_id": "123456789", "reason": "사유 있음"},
            422,
            "이 명세서의 차시가 아닙니다",
        ),
        (
            "post",
            "{s}/corrections",
            {"hours": "1", "line_id": "99999999999999999999", "reason": "사유 있음"},
            422,
            "숫자가 너무 큽니다",
        ),
        ("get", "{s}?format=pdf", {}, 400, "요청이 올바르지 않습니다"),
        ("get", "/fees/statements/99999999999999999999", {}, 404, "찾을 수 없습니다"),
        ("get", "/fees/statements/0", {}, 404, "찾을 수 없습니다"),
    ],
)
def test_bad_input_gets_a_4xx_with_a_message(
    login, db_session, web_world, approved, method, path, data, status, message
):
    admin, sid = approved
    line_id = the_statement(db_session, web_world).lines[0].id
    path = path.replace("{s}", f"/fees/statements/{sid}")
    data = {k: v.replace("{l}", str(line_id)) for k, v in data.items()}
    r = admin.get(path) if method == "get" else post(admin, path, **data)
    assert r.status_code == status and message in r.get_data(as_text=True)
    assert len(the_statement(db_session, web_world).lines) == 2  # nothing was added


def test_a_draft_is_not_corrected_and_the_months_drafts_follow_the_rate_table(
    login, db_session, web_world, november
):
    admin = login(web_world["office_admin"])
    add_rate(admin)
    post(admin, "/fees/generate", month="2026-11")
    sid = the_statement(db_session, web_world).id
    r = post(admin, f"/fees/statements/{sid}/corrections", amount="1000", reason="사유 있음")
    assert r.status_code == 409 and "승인된 명세서에만" in r.get_data(as_text=True)
    add_rate(admin, won="60000", valid_from="2026-11-15")  # the recorded lesson (20 Nov) is paid at this
    assert post(admin, f"/fees/statements/{sid}/refresh").status_code == 302
    assert [x.amount for x in the_statement(db_session, web_world).lines] == [100_000, 120_000]
    assert re.search(r"220,000", admin.get(f"/fees/statements/{sid}").get_data(as_text=True))
