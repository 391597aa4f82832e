"""LMS benchmark: a 100,000-student OneRoster import, a 1,000-student group enrolment, page latency per role.

PostgreSQL when LMS_DATABASE_URL names it (a fresh database ``ieum_bench_<random>`` is created on that
server and dropped afterwards), a temporary SQLite file otherwise. Prints a table, then as the last line
one JSON object: backend, import_100k_s, enrol_1000_s, home_p95_ms (worst role), home_p95_ms_by_role,
course_page_p95_ms (worst role), course_page_p95_ms_by_role, and the row counts.

Targets (not asserted): import < 60 s, enrolment < 1 s, page p95 < 100 ms.
Usage: ./scripts/bench lms [--students N] [--schools N] [--requests N] [--profile]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text, update  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

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
GRADES = 6
PASSWORD = "bench-password-1234"


def _name(i: int) -> tuple[str, str]:
    return SURNAMES[i % len(SURNAMES)], GIVEN[(i // len(SURNAMES)) % len(GIVEN)]


def _csv(header: list[str], rows: list[list[str]], encoding: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")  # what Excel writes
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def generate(schools: int, students: int, big_school: int, class_size: int = 30) -> dict[str, bytes]:
    """OneRoster CSVs for one office: support offices, schools, homeroom classes of ~class_size, every role."""
    orgs = [["bench-office", "", "", "이음벤치교육청", "district", "", ""]]
    orgs += [[f"bench-sup-{k}", "", "", f"이음{k}교육지원청", "local", "", "bench-office"] for k in range(4)]
    classes: list[list[str]] = []
    users: list[list[str]] = []
    enrollments: list[list[str]] = []
    rest = students - big_school
    person = 0
    for s in range(schools):
        sid = f"bench-sch-{s:03d}"
        orgs.append([sid, "", "", f"이음{s}초등학교", "school", "", f"bench-sup-{s % 4}"])
        n = big_school if s == 0 else rest // (schools - 1) + (1 if s - 1 < rest % (schools - 1) else 0)
        per_grade = max(1, round(n / class_size / GRADES))
        n_classes = per_grade * GRADES
        users.append(
            [f"{sid}-admin", "", "", "true", sid, "administrator", f"{sid}-admin", "", "교감", "김", "", ""]
        )
        for c in range(n_classes):
            cid = f"{sid}-c{c:02d}"
            grade, number = c // per_grade + 1, c % per_grade + 1
            classes.append(
                [cid, "", "", f"{grade}학년 {number}반", f"{grade:02d}", "", "", "homeroom", "", sid, ""]
            )
            tid = f"{cid}-t"
            family, given = _name(person)
            person += 1
            users.append(
                [tid, "", "", "true", sid, "teacher", tid, "", given, family, f"{tid}@bench.example", ""]
            )
            enrollments.append([f"{cid}-e-t", "", "", cid, sid, tid, "teacher", "true"])
        for k in range(n):
            c = k * n_classes // n
            cid = f"{sid}-c{c:02d}"
            uid = f"{sid}-s{k:04d}"
            family, given = _name(person)
            person += 1
            users.append([uid, "", "", "true", sid, "student", uid, "", given, family, "", ""])
            enrollments.append([f"{uid}-e", "", "", cid, sid, uid, "student", "false"])
            if k * n_classes % n < n_classes:  # the first student of each class gets a parent
                pid = f"{uid}-p"
                users.append([pid, "", "", "true", sid, "parent", pid, "", "보호자", family, "", uid])
    return {
        "orgs.csv": _csv(
            ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"],
            orgs,
            "utf-8",
        ),
        "classes.csv": _csv(
            [
                "sourcedId",
                "status",
                "dateLastModified",
                "title",
                "grades",
                "courseSourcedId",
                "classCode",
                "classType",
                "location",
                "schoolSourcedId",
                "termSourcedIds",
            ],
            classes,
            "utf-8-sig",
        ),
        # Korean Excel's default "CSV (쉼표로 분리)" is CP949: the big file takes the slowest decode path.
        "users.csv": _csv(
            [
                "sourcedId",
                "status",
                "dateLastModified",
                "enabledUser",
                "orgSourcedIds",
                "role",
                "username",
                "userIds",
                "givenName",
                "familyName",
                "email",
                "agentSourcedIds",
            ],
            users,
            "cp949",
        ),
        "enrollments.csv": _csv(
            [
                "sourcedId",
                "status",
                "dateLastModified",
                "classSourcedId",
                "schoolSourcedId",
                "userSourcedId",
                "role",
                "primary",
            ],
            enrollments,
            "utf-8",
        ),
    }


@contextmanager
def database() -> Iterator[tuple[str, str]]:
    """(backend, URL) of an empty database for this run; removed afterwards."""
    raw = os.environ.get("LMS_DATABASE_URL", "")
    if raw.startswith("postgresql"):
        url = (
            raw.replace("postgresql://", "postgresql+psycopg://", 1)
            if raw.startswith("postgresql://")
            else raw
        )
        admin = create_engine(make_url(url), isolation_level="AUTOCOMMIT")
        name = f"ieum_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield "postgresql", make_url(url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        with tempfile.TemporaryDirectory(prefix="ieum-bench-") as tmp:
            yield "sqlite", f"sqlite:///{tmp}/bench.db"


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def setup_office(session: Session) -> tuple[Any, Any]:
    """The office (no sourcedId yet: the import's district row gives it one), its admin and an instructor."""
    from courses.accounts import hash_password
    from courses.catalog import seed_themes
    from courses.models import InstructorProfile, Organisation, OrgKind, Role, Theme, User

    seed_themes(session)
    office = Organisation(kind=OrgKind.office, name="이음벤치교육청")
    session.add(office)
    session.flush()
    office.office_id = office.id
    pw = hash_password(PASSWORD)
    admin = User(
        username="bench-office-admin",
        name="벤치 장학사",
        role=Role.office_admin,
        org_id=office.id,
        office_id=office.id,
        password_hash=pw,
    )
    instructor = User(
        username="bench-instructor",
        name="벤치 강사",
        role=Role.instructor,
        org_id=office.id,
        office_id=office.id,
        password_hash=pw,
    )
    session.add_all([admin, instructor])
    session.flush()
    themes = list(session.scalars(select(Theme).order_by(Theme.position)))
    session.add(InstructorProfile(user_id=instructor.id, office_id=office.id, themes=themes[:3]))
    session.commit()
    return admin, instructor


def make_courses(session: Session, admin: Any, instructor: Any, school_ids: list[int]) -> dict[str, Any]:
    """Courses at every level so each home page has content; times the 1,000-student group enrolment."""
    from courses import enrolment, workflow
    from courses.models import ClassMembership, MemberRole, Role, SchoolClass, Theme, User
    from courses.workflow import CourseInput, TargetInput

    theme_id = session.scalar(select(Theme.id).order_by(Theme.position))
    start = date.today() + timedelta(days=7)

    def request(actor: Any, level: str, title: str, **kw: Any) -> Any:
        data = CourseInput(
            level=level,
            theme_id=theme_id,
            title=title,
            goals="벤치마크 강좌",
            delivery="live",
            lesson_count=4,
            hours=8,
            start_date=start,
            end_date=start + timedelta(days=28),
            instructor_mode="office",
            instructor_id=instructor.id,
            **kw,
        )
        return workflow.submit_request(session, actor, data)

    big = school_ids[0]
    main = request(admin, "office", "이음 안전 교실", targets=[TargetInput(big)])
    workflow.approve(session, admin, main)
    session.commit()
    enrol_s, added = timed(
        lambda: (enrolment.enrol_group(session, admin, main, school_id=big), session.commit())[0]
    )

    # More office courses over other schools (≈500 students each), some running, a few still pending.
    for i, sid in enumerate(school_ids[1:21], start=1):
        c = request(
            admin, "office", f"교육청 강좌 {i}", targets=[TargetInput(sid), TargetInput(big, grade=i % 6 + 1)]
        )
        if i % 5 == 0:
            continue  # left awaiting approval
        workflow.approve(session, admin, c)
        enrolment.enrol_group(session, admin, c, school_id=sid)
        enrolment.enrol_group(session, admin, c, school_id=big, grade=i % 6 + 1)
        if i % 2:
            workflow.start(session, admin, c)
    session.commit()

    school_admin = session.scalar(select(User).where(User.org_id == big, User.role == Role.school_admin))
    teacher_id, class_id = session.execute(
        select(ClassMembership.user_id, ClassMembership.class_id)
        .join(SchoolClass, SchoolClass.id == ClassMembership.class_id)
        .where(SchoolClass.school_id == big, ClassMembership.role == MemberRole.teacher)
        .order_by(SchoolClass.grade, SchoolClass.name)
        .limit(1)
    ).one()
    teacher = session.get(User, teacher_id)
    school_course = request(school_admin, "school", "학교 진로 주간", targets=[TargetInput(big)])
    workflow.approve(session, admin, school_course)
    enrolment.enrol_group(session, school_admin, school_course, school_id=big, grade=1)
    for n in range(3):
        c = request(teacher, "class", f"학급 인성 교실 {n + 1}", class_id=class_id)
        if n < 2:
            workflow.approve(session, school_admin, c)
            enrolment.enrol_group(session, teacher, c, school_id=big, class_id=class_id)
    session.commit()
    student_id = session.scalar(
        select(ClassMembership.user_id)
        .where(ClassMembership.class_id == class_id, ClassMembership.role == MemberRole.student)
        .order_by(ClassMembership.user_id)
        .limit(1)
    )
    parent_id = session.scalar(
        text("SELECT parent_id FROM parent_link WHERE child_id = :c"), {"c": student_id}
    )
    return {
        "course_id": main.id,
        "enrol_s": enrol_s,
        "enrolled": added,
        "school_admin": school_admin.id,
        "teacher": teacher.id,
        "student": student_id,
        "parent": parent_id,
    }


def login(app: Any, username: str) -> Any:
    client = app.test_client()
    page = client.get("/login")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()  # type: ignore[union-attr]
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302, (username, r.status_code, r.data[:300])
    return client


def measure(client: Any, path: str, n: int) -> list[float]:
    """Milliseconds per full request through the Flask app (after a short warm-up)."""
    for _ in range(3):
        client.get(path)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.data[:300])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--schools", type=int, default=200)
    parser.add_argument("--big-school", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=60, help="timed requests per page and role (≥ 50)")
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile of the import")
    args = parser.parse_args()

    import courses.models  # noqa: F401
    from courses.db import Base
    from courses.models import ClassMembership, Organisation, ParentLink, SchoolClass, User
    from courses.roster_import import import_roster

    t0 = time.perf_counter()
    files = generate(args.schools, args.students, args.big_school)
    gen_s = time.perf_counter() - t0
    mb = sum(len(v) for v in files.values()) / 1e6
    with database() as (backend, url):
        print(f"backend: {backend} ({make_url(url).render_as_string(hide_password=True)})", flush=True)
        print(f"generated {mb:.1f} MB of OneRoster CSV in {gen_s:.1f} s", flush=True)
        engine: Engine = create_engine(url)
        Base.metadata.create_all(engine)
        with Session(engine, expire_on_commit=False) as session:
            admin, instructor = setup_office(session)
            profiler = None
            if args.profile:
                from pyinstrument import Profiler

                profiler = Profiler()
                profiler.start()
            import_s, result = timed(lambda: (import_roster(session, admin, files), session.commit())[0])
            if profiler is not None:
                profiler.stop()
                print(profiler.output_text(unicode=True, color=False, show_all=False))
            if result.error_count:
                print("import errors:", *[str(e) for e in result.errors[:10]], sep="\n  ")
            rows = {
                "users": session.scalar(select(func.count()).select_from(User)),
                "classes": session.scalar(select(func.count()).select_from(SchoolClass)),
                "memberships": session.scalar(select(func.count()).select_from(ClassMembership)),
                "parent_links": session.scalar(select(func.count()).select_from(ParentLink)),
            }
            again_s, again = timed(lambda: (import_roster(session, admin, files), session.commit())[0])
            school_ids = list(
                session.scalars(
                    select(Organisation.id)
                    .where(Organisation.code.like("bench-sch-%"))
                    .order_by(Organisation.code)
                )
            )
            setup = make_courses(session, admin, instructor, school_ids)
            from courses.accounts import hash_password

            ids = [setup[k] for k in ("school_admin", "teacher", "student", "parent")]
            session.execute(
                update(User).where(User.id.in_(ids)).values(password_hash=hash_password(PASSWORD))
            )
            session.commit()
            usernames = dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())
        engine.dispose()

        from app import create_app

        app = create_app(
            "test", DATABASE_URL=url, STORAGE_DIR=tempfile.gettempdir(), LOGIN_RATE_LIMIT="1000 per minute"
        )
        logins = {
            "office_admin": admin.username,
            "school_admin": usernames[setup["school_admin"]],
            "teacher": usernames[setup["teacher"]],
            "student": usernames[setup["student"]],
            "parent": usernames[setup["parent"]],
            "instructor": instructor.username,
        }
        home: dict[str, list[float]] = {}
        course: dict[str, list[float]] = {}
        # No app context held open around the requests: each request gets its own, as in production.
        for role, username in logins.items():
            client = login(app, username)
            home[role] = measure(client, "/", args.requests)
            course[role] = measure(client, f"/courses/{setup['course_id']}", args.requests)
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()  # before the database is dropped

    def p(values: list[float], q: float) -> float:
        return round(percentile(values, q), 1)

    print()
    print(f"{'measure':<34}{'value':>12}  target")
    print(f"{'import ' + str(args.students) + ' students (s)':<34}{import_s:>12.2f}  < 60")
    print(f"{'  re-import, 0 new (s)':<34}{again_s:>12.2f}  (created: {again.created})")
    print(
        f"{'enrol 1,000-student school (s)':<34}{setup['enrol_s']:>12.3f}  < 1   ({setup['enrolled']} enrolled)"
    )
    print(f"{'page (ms)':<34}{'p50':>12}{'p95':>8}  target p95 < 100")
    for role in logins:
        print(f"{'  home ' + role:<34}{p(home[role], 50):>12}{p(home[role], 95):>8}")
    for role in logins:
        print(f"{'  /courses/<id> ' + role:<34}{p(course[role], 50):>12}{p(course[role], 95):>8}")
    print(
        f"rows: {rows}; import counts: "
        + ", ".join(f"{k} +{c.created}" for k, c in result.counts.items())
        + f"; errors: {result.error_count}"
    )
    home_by_role = {r: p(v, 95) for r, v in home.items()}
    course_by_role = {r: p(v, 95) for r, v in course.items()}
    print(
        json.dumps(
            {
                "backend": backend,
                "students": args.students,
                "import_100k_s": round(import_s, 2),
                "reimport_s": round(again_s, 2),
                "reimport_created": again.created,
                "import_errors": result.error_count,
                "enrol_1000_s": round(setup["enrol_s"], 3),
                "enrolled": setup["enrolled"],
                "home_p95_ms": max(home_by_role.values()),
                "home_p95_ms_by_role": home_by_role,
                "course_page_p95_ms": max(course_by_role.values()),
                "course_page_p95_ms_by_role": course_by_role,
                "requests_per_page": args.requests,
                "rows": rows,
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
