"""Completion reports benchmark on a large seeded office.

Seeds one office of N schools (default 100 × 1,000 students = 100,000), one course per school with 20
lessons (10 recorded with a published video, 10 live sessions held), every student enrolled, and the
activity real classes leave: watch progress for most recorded lessons and attendance for most live ones
(1.6 M rows at the default size). A third of the schools have confirmed completion (through the service
the page uses). Then, through the Flask app with logged-in users (full requests: routing, access checks,
SQL, templates):

- school_report_ms: a school's completion report — the confirmation page of a 1,000-student course with
  20 lessons (median of --rounds runs; p95 too);
- office_rollup_s: the office-wide dashboard over every student (computed in SQL);
- xlsx_export_s: the XLSX export of that school's report.

Targets (not asserted): school report < 300 ms, office roll-up < 5 s, XLSX export < 3 s.
PostgreSQL when LMS_DATABASE_URL names it (a fresh database, dropped afterwards), SQLite otherwise.
Usage: ./scripts/bench reports [--schools N] [--students-per-school N] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lms import PASSWORD, database, login, percentile  # noqa: E402
from sqlalchemy import create_engine, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

LESSONS = 20
VIDEO_S = 600.0
LIVE_MIN = 40
GRADES = 6
CLASS_SIZE = 30


def _batched(rows: list[dict[str, Any]], size: int = 20_000):  # type: ignore[no-untyped-def]
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def seed(url: str, schools: int, per_school: int, confirm_share: float) -> dict[str, Any]:
    """The large office; returns ids and usernames the measurements need, and the seeding time."""
    from courses import completion, workflow
    from courses.accounts import hash_password
    from courses.catalog import seed_themes
    from courses.db import Base
    from courses.models import (
        Attendance,
        ClassMembership,
        Course,
        CourseStatus,
        Enrolment,
        LessonKind,
        LiveSession,
        LiveStatus,
        MemberRole,
        Organisation,
        OrgKind,
        Role,
        SchoolClass,
        SchoolLevel,
        Theme,
        User,
        Video,
        VideoState,
        WatchProgress,
    )

    t0 = time.perf_counter()
    rng = random.Random(7)
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    pw = hash_password(PASSWORD)
    with Session(engine) as s:
        seed_themes(s)
        office = Organisation(kind=OrgKind.office, name="이음벤치교육청")
        s.add(office)
        s.flush()
        office.office_id = office.id
        orgs = [
            Organisation(
                kind=OrgKind.school,
                name=f"벤치{k:03d}초",
                parent_id=office.id,
                office_id=office.id,
                school_level=SchoolLevel.elementary,
            )
            for k in range(schools)
        ]
        s.add_all(orgs)
        s.flush()
        office_admin = User(
            username="bench-office",
            name="교육청 담당",
            role=Role.office_admin,
            org_id=office.id,
            office_id=office.id,
            password_hash=pw,
        )
        s.add(office_admin)
        year = date.today().year if date.today().month >= 3 else date.today().year - 1
        users, classes = [], []
        for k, org in enumerate(orgs):
            users.append(
                dict(
                    username=f"b{k}-admin",
                    name=f"관리자{k}",
                    role=Role.school_admin,
                    org_id=org.id,
                    office_id=office.id,
                    password_hash=pw,
                )
            )
            users.append(
                dict(
                    username=f"b{k}-teacher",
                    name=f"교사{k}",
                    role=Role.teacher,
                    org_id=org.id,
                    office_id=office.id,
                    password_hash=None,
                )
            )
            n_classes = max(1, per_school // CLASS_SIZE)
            for c in range(n_classes):
                classes.append(
                    dict(
                        school_id=org.id, school_year=year, grade=c % GRADES + 1, name=f"{c // GRADES + 1}반"
                    )
                )
            for i in range(per_school):
                users.append(
                    dict(
                        username=f"b{k}-s{i}",
                        name=f"학생{k}-{i}",
                        role=Role.student,
                        org_id=org.id,
                        office_id=office.id,
                        password_hash=None,
                    )
                )
        for batch in _batched(users):
            s.execute(insert(User), batch)
        for batch in _batched(classes):
            s.execute(insert(SchoolClass), batch)
        s.flush()
        by_school: dict[int, list[int]] = {}
        for uid, org_id in s.execute(select(User.id, User.org_id).where(User.role == Role.student)):
            by_school.setdefault(org_id, []).append(uid)
        class_ids: dict[int, list[int]] = {}
        for cid, sid in s.execute(select(SchoolClass.id, SchoolClass.school_id).order_by(SchoolClass.id)):
            class_ids.setdefault(sid, []).append(cid)
        members = []
        for sid, ids in by_school.items():
            for i, uid in enumerate(sorted(ids)):
                cls = class_ids[sid][min(i // CLASS_SIZE, len(class_ids[sid]) - 1)]
                members.append(
                    dict(class_id=cls, user_id=uid, role=MemberRole.student, number=i % CLASS_SIZE + 1)
                )
        for batch in _batched(members):
            s.execute(insert(ClassMembership), batch)
        admins = dict(s.execute(select(User.org_id, User.id).where(User.role == Role.school_admin)).all())
        teachers = dict(s.execute(select(User.org_id, User.id).where(User.role == Role.teacher)).all())
        theme = s.scalars(select(Theme).order_by(Theme.position)).first()
        assert theme is not None
        start = date.today() - timedelta(days=40)
        course_ids: dict[int, int] = {}
        lessons: list[tuple[int, int, Any]] = []  # (course id, lesson id, kind)
        for org in orgs:
            requester = s.get(User, admins[org.id])
            c = workflow.submit_request(
                s,
                requester,
                workflow.CourseInput(
                    level="school",
                    theme_id=theme.id,
                    title=f"{org.name} 생활 안전",
                    goals="벤치",
                    delivery="blended",
                    lesson_count=LESSONS,
                    hours=LESSONS,
                    start_date=start,
                    end_date=start + timedelta(days=30),
                    instructor_mode="school",
                    instructor_id=teachers[org.id],
                ),
                today=start,
            )
            c.status = CourseStatus.running
            course_ids[org.id] = c.id
            lessons += [(c.id, lesson.id, lesson.kind) for lesson in c.lessons]
        s.flush()
        base = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
        videos, lives = [], []
        for course_id, lesson_id, kind in lessons:
            if kind == LessonKind.recorded:
                videos.append(
                    dict(
                        lesson_id=lesson_id,
                        state=VideoState.ready,
                        source_key=f"v/{lesson_id}",
                        duration_s=VIDEO_S,
                        ready_at=base,
                    )
                )
            else:
                at = base + timedelta(days=lesson_id % 28, hours=1)
                lives.append(
                    dict(
                        course_id=course_id,
                        lesson_id=lesson_id,
                        starts_at=at,
                        ends_at=at + timedelta(minutes=LIVE_MIN),
                        status=LiveStatus.ended,
                        started_at=at,
                        ended_at=at + timedelta(minutes=LIVE_MIN),
                    )
                )
        s.execute(insert(Video), videos)
        s.execute(insert(LiveSession), lives)
        s.flush()
        live_of = dict(s.execute(select(LiveSession.lesson_id, LiveSession.id)).all())
        enrol, watch, attend = [], [], []
        now = datetime.now(UTC)
        by_course: dict[int, list[tuple[int, Any]]] = {}
        for course_id, lesson_id, kind in lessons:
            by_course.setdefault(course_id, []).append((lesson_id, kind))
        for org_id, ids in by_school.items():
            cid = course_ids[org_id]
            for uid in ids:
                enrol.append(dict(course_id=cid, student_id=uid))
                diligence = rng.random()
                for lesson_id, kind in by_course[cid]:
                    if rng.random() > 0.5 + diligence / 2:
                        continue
                    share = min(1.0, 0.3 + diligence * 0.8 + rng.random() * 0.2)
                    if kind == LessonKind.recorded:
                        w = VIDEO_S * share
                        watch.append(
                            dict(
                                lesson_id=lesson_id,
                                user_id=uid,
                                segments=[[0.0, w]],
                                watched_s=w,
                                last_position=w,
                                credit_tokens=0.0,
                                first_at=now,
                                last_at=now,
                            )
                        )
                    else:
                        attend.append(
                            dict(
                                live_session_id=live_of[lesson_id],
                                user_id=uid,
                                present_seconds=int(LIVE_MIN * 60 * share),
                                joins=1,
                            )
                        )
        for rows, model in ((enrol, Enrolment), (watch, WatchProgress), (attend, Attendance)):
            for batch in _batched(rows):
                s.execute(insert(model), batch)
        s.commit()
        # The big school's course awaits confirmation; a share of the others are confirmed already.
        big = orgs[0].id
        for k, org in enumerate(orgs):
            c = s.get(Course, course_ids[org.id])
            c.status = CourseStatus.completed
            if k and k < 1 + int(confirm_share * (schools - 1)):
                completion.confirm(s, s.get(User, admins[org.id]), c)
            elif k:
                c.status = CourseStatus.running
        s.commit()
        if s.get_bind().dialect.name == "postgresql":
            s.commit()
            s.execute(text("ANALYZE"))  # what autovacuum does soon after a bulk load in production
        counts = {
            "students": sum(len(v) for v in by_school.values()),
            "enrolments": len(enrol),
            "watch_rows": len(watch),
            "attendance_rows": len(attend),
            "schools": schools,
        }
    engine.dispose()
    return {
        "course_id": course_ids[big],
        "school_admin": f"b{0}-admin",
        "office_admin": "bench-office",
        "seed_s": round(time.perf_counter() - t0, 1),
        **counts,
    }


def timed_get(client: Any, path: str, rounds: int) -> list[float]:
    """Seconds per full request (after one warm-up request)."""
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code, r.data[:300])
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        r = client.get(path)
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200, (path, r.status_code)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--schools", type=int, default=100)
    ap.add_argument("--students-per-school", type=int, default=1000)
    ap.add_argument("--confirmed-share", type=float, default=1 / 3)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    with database() as (backend, url):
        print(
            f"• {backend}: seeding {args.schools} schools × {args.students_per_school} students …", flush=True
        )
        info = seed(url, args.schools, args.students_per_school, args.confirmed_share)
        print(f"  seeded in {info['seed_s']} s", flush=True)
        from app import create_app

        app = create_app(
            "test", DATABASE_URL=url, STORAGE_DIR=tempfile.gettempdir(), LOGIN_RATE_LIMIT="1000 per minute"
        )
        school = login(app, info["school_admin"])
        office = login(app, info["office_admin"])
        page = f"/courses/{info['course_id']}/completion/confirm"
        report = timed_get(school, page, args.rounds)
        rollup = timed_get(office, "/reports/completion", max(3, args.rounds // 2))
        xlsx = timed_get(school, page + "?format=xlsx", max(3, args.rounds // 2))
        body = school.get(page).get_data(as_text=True)
        assert body.count('class="cell ') >= args.students_per_school * LESSONS * 0.99, "the table is whole"

        def med(v: list[float]) -> float:
            return sorted(v)[len(v) // 2]

        result = {
            "backend": backend,
            "school_report_ms": round(med(report) * 1000, 1),
            "school_report_p95_ms": round(percentile(report, 95) * 1000, 1),
            "office_rollup_s": round(med(rollup), 3),
            "xlsx_export_s": round(med(xlsx), 3),
            "students": info["students"],
            "school_report_students": args.students_per_school,
            "lessons": LESSONS,
            "enrolments": info["enrolments"],
            "watch_rows": info["watch_rows"],
            "attendance_rows": info["attendance_rows"],
            "seed_s": info["seed_s"],
        }
    rows = [
        (
            f"school report (1 school, {args.students_per_school} students × {LESSONS} lessons), median",
            f"{result['school_report_ms']} ms",
            "< 300 ms",
        ),
        (
            f"office roll-up ({result['students']} students), median",
            f"{result['office_rollup_s']} s",
            "< 5 s",
        ),
        ("XLSX export of that school's report, median", f"{result['xlsx_export_s']} s", "< 3 s"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'measured':>12}  target")
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:>12}  {target}")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
