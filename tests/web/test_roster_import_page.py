"""The OneRoster import page: office admins only, CSRF required, results and row errors shown."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from courses.models import User
from tests.unit.test_roster_import import files


def upload(client, data: dict[str, bytes], *, token: str | None, school_year: str = "2026"):  # type: ignore[no-untyped-def]
    form: dict[str, object] = {
        "school_year": school_year,
        "files": [(io.BytesIO(content), name) for name, content in data.items()],
    }
    if token is not None:
        form["csrf_token"] = token
    return client.post("/admin/import", data=form, content_type="multipart/form-data")


def text(response) -> str:  # type: ignore[no-untyped-def]
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_office_admin_sees_the_form_and_the_policy(login, web_world):
    c = login(web_world["office_admin"])
    r = c.get("/admin/import")
    assert r.status_code == 200
    page = text(r)
    assert "가져오기 방식: 올바른 행은 가져오고, 오류가 있는 행만 건너뜁니다" in page
    assert "전부 아니면 전무 방식이 아닙니다" in page
    assert 'enctype="multipart/form-data"' in page
    assert '<label for="files">' in page and 'id="files" name="files" multiple' in page


def test_office_admin_uploads_csvs_and_sees_counts_and_row_errors(login, web_world, db_session):
    c = login(web_world["office_admin"])
    from tests.unit.test_roster_import import USERS

    data = files("cp949", users=USERS + "w-1,,,true,sch-1,wizard,wiz,,해리,포,,,\n")
    r = upload(c, data, token=c.csrf())

    assert r.status_code == 200
    page = text(r)
    assert "항목별 처리 결과" in page
    assert re.search(r"사용자 \(users.csv\)</th><td>6</td>", page)
    assert (
        "<td>users.csv</td><td>8</td><td>오류</td><td>역할 &#39;wizard&#39;을(를) 알 수 없습니다.</td>"
        in page
    )
    assert "오류 1건이 있는 행은 건너뛰었습니다" in page
    assert db_session.scalar(select(User.name).where(User.sourced_id == "s-1")) == "박민준"  # committed


def test_a_zip_upload_works_too(login, web_world):
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in files().items():
            z.writestr(name, content)
    c = login(web_world["office_admin"])
    r = upload(c, {"roster.zip": buf.getvalue()}, token=c.csrf())
    assert r.status_code == 200
    assert "오류 없이 가져왔습니다. 새로 추가한 항목: 16건." in text(r)


def test_no_file_is_a_form_error_tied_to_the_input(login, web_world):
    c = login(web_world["office_admin"])
    r = upload(c, {}, token=c.csrf())
    assert r.status_code == 422
    page = text(r)
    assert 'id="files-error"' in page and "가져올 CSV 파일이나 ZIP 파일을 선택하세요." in page
    assert 'aria-describedby="files-hint files-error" aria-invalid="true"' in page


def test_a_bad_school_year_is_a_form_error(login, web_world):
    c = login(web_world["office_admin"])
    r = upload(c, files(), token=c.csrf(), school_year="작년")
    assert r.status_code == 422
    assert 'id="school_year-error"' in text(r)


def test_csrf_token_is_required(login, web_world, db_session):
    c = login(web_world["office_admin"])
    r = upload(c, files(), token=None)
    assert r.status_code == 400
    assert db_session.scalar(select(User.id).where(User.sourced_id == "s-1")) is None


@pytest.mark.parametrize("who", ["school_admin", "teacher", "student", "parent", "instructor"])
def test_everyone_but_office_admins_gets_403(login, web_world, db_session, who):
    c = login(web_world[who])
    assert c.get("/admin/import").status_code == 403
    token = c.csrf()
    assert upload(c, files(), token=token).status_code == 403
    assert db_session.scalar(select(User.id).where(User.sourced_id == "s-1")) is None


def test_anonymous_is_sent_to_login(client):
    r = client.get("/admin/import")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


@pytest.mark.parametrize("kind", ["orgs", "classes", "users", "enrollments"])
def test_each_roster_file_has_a_template_the_importer_reads_back(login, web_world, kind) -> None:
    import csv
    import io

    from courses.roster_import.files import REQUIRED

    office = login(web_world["office_admin"])
    r = office.get(f"/admin/import/template/{kind}.csv")
    assert r.status_code == 200 and r.data.startswith(b"\xef\xbb\xbf")
    header, example = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert header[: len(REQUIRED[kind])] == list(REQUIRED[kind]) and len(example) == len(header)
    page = office.get("/admin/import").get_data(as_text=True)
    assert "파일이 가리켜야 하는 기관의 sourcedId" in page and "가람초" in page and "임시 비밀번호" in page
    assert login(web_world["school_admin"]).get(f"/admin/import/template/{kind}.csv").status_code == 403
    assert office.get("/admin/import/template/secrets.csv").status_code == 404
