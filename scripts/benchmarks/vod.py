"""Recorded-lecture benchmark: transcoding overhead, heartbeat ingest under gunicorn, the class progress report.

- transcode: a generated 60 s 720p clip (lavfi testsrc2 + sine). The worker's whole job (media.worker.run_job:
  claim, fetch the source from storage, HLS ladder + poster + sprite, upload every file, mark ready) against
  the same three ffmpeg commands run directly with subprocess in the same run, alternating, best of N each.
  Also the ladder's encode speed (× real time).
- heartbeats: gunicorn (gthread) on PostgreSQL, 10,000 simulated viewers, each logged in with its own session,
  each beating every --interval seconds on its own clock (random phase, ±10 % jitter) with a real beat body:
  the segments played since its previous beat at its own rate (1×, 1.5× or 2×), monotonically increasing seq.
  Open loop: a late answer does not delay the next beat. rps per core = answered beats / CPU seconds the
  gunicorn processes used (psutil), so the load generator's own CPU on the same 2 cores is not counted.
- class_report: watch.course_report for 1,000 enrolled students × 20 ready recorded lessons (20,000 progress
  rows), median of 5 after one warm-up.

Needs LMS_DATABASE_URL (PostgreSQL) for the heartbeat and report parts; a fresh database is created there.
Prints a table, then one JSON line. Usage: ./scripts/bench vod [--viewers N] [--duration S] [--interval S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _pg_admin_url() -> str:
    url = os.environ.get("LMS_DATABASE_URL") or os.environ.get("LMS_TEST_POSTGRES_URL")
    if not url or not url.startswith("postgresql"):
        sys.exit("set LMS_DATABASE_URL=postgresql://… (the heartbeat and report parts need PostgreSQL)")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _fresh_db(admin_url: str) -> tuple[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"ieum_bench_vod_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


# -- transcode ----------------------------------------------------------------------------------


def bench_transcode(rounds: int) -> dict[str, Any]:
    from app import create_app
    from app.extensions import dbs
    from courses.db import Base
    from courses.models import Video, VideoState
    from media.ffmpeg import hls_args, lavfi_clip_args, plan_for, poster_args, sprite_args
    from media.probe import probe
    from media.tools import ffmpeg_binary
    from media.worker import run_job

    ffmpeg = ffmpeg_binary()
    work = Path(tempfile.mkdtemp(prefix="ieum-bench-vod-"))
    clip = work / "clip.mp4"
    subprocess.run(lavfi_clip_args(ffmpeg, str(clip), seconds=60), check=True)
    info = probe(clip)
    plan = plan_for(info)
    app = create_app(
        "development",
        DATABASE_URL=f"sqlite:///{work / 'bench.db'}",
        STORAGE_DIR=str(work / "storage"),
        JOBS="manual",
        SECRET_KEY="bench-secret-key-0123456789abcdefghijklmnop",
    )
    direct, worker, hls_only = [], [], []
    with app.app_context():
        Base.metadata.create_all(dbs().get_bind())
        from sqlalchemy import text

        from courses.models import Course, Lesson  # noqa: F401  (mappers)

        dbs().execute(text("PRAGMA foreign_keys=OFF"))
        storage = app.extensions["storage"]
        for i in range(rounds):
            out = work / f"direct-{i}"
            (out / "v0").mkdir(parents=True)
            t0 = time.perf_counter()
            subprocess.run(
                hls_args(ffmpeg, str(clip), str(out), info, plan, progress="pipe:1"),
                check=True,
                stdout=subprocess.DEVNULL,
            )
            t1 = time.perf_counter()
            subprocess.run(poster_args(ffmpeg, str(clip), str(out / "poster.jpg"), info, at_s=5), check=True)
            subprocess.run(
                sprite_args(ffmpeg, str(clip), str(out / "sprite.jpg"), info, every_s=10, columns=10),
                check=True,
            )
            direct.append(time.perf_counter() - t0)
            hls_only.append(t1 - t0)
            video = Video(
                lesson_id=i + 1, state=VideoState.processing, source_key=f"videos/{1000 + i}/source"
            )
            dbs().add(video)
            dbs().commit()
            storage.put_file(video.source_key, clip, "video/mp4")
            t0 = time.perf_counter()
            outcome = run_job(dbs(), storage, video.id, lease_s=600, max_attempts=3, requeue=lambda _id: None)
            worker.append(time.perf_counter() - t0)
            assert outcome == "ready", outcome
    return {
        "direct_s": min(direct),
        "worker_s": min(worker),
        "ratio": min(worker) / min(direct),
        "encode_speed_x": 60.0 / min(hls_only),
        "rungs": [r.name for r in plan.rungs],
        "rounds": rounds,
    }


# -- heartbeats ---------------------------------------------------------------------------------


def _seed_viewers(url: str, viewers: int, workdir: Path) -> tuple[int, list[str]]:
    """Migrate, then a running course with `viewers` enrolled students, one ready 1-hour video, and a signed
    session cookie per student (made the way the login form makes them)."""
    from flask import session as flask_session

    from app import create_app
    from app.auth import begin_session
    from app.extensions import dbs
    from courses.models import Enrolment, Role, User, Video, VideoState
    from tests.factories import build_world
    from tests.video_support import recorded_course

    env = {**os.environ, "FLASK_APP": "app:create_app", "LMS_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    app = create_app(
        "development",
        DATABASE_URL=url,
        SECRET_KEY="bench-secret-key-0123456789abcdefghijklmnop",
        STORAGE_DIR=str(workdir / "storage"),
        PASSWORD_HASHING="test",
        JOBS="manual",
    )
    cookies = []
    with app.app_context():
        s = dbs()
        world = build_world(s, students=1)
        course, lesson = recorded_course(s, world)
        s.add(
            Video(
                lesson_id=lesson.id, state=VideoState.ready, source_key="videos/1/source", duration_s=3600.0
            )
        )
        users = [
            User(
                username=f"viewer{i:05d}",
                name=f"학생{i}",
                role=Role.student,
                org_id=world.school.id,
                office_id=world.office.id,
                password_hash="x",
            )
            for i in range(viewers)
        ]
        s.add_all(users)
        s.flush()
        s.add_all(Enrolment(course_id=course.id, student_id=u.id) for u in users)
        s.commit()
        serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        for u in users:
            with app.test_request_context("/login", method="POST"):
                begin_session(u)
                cookies.append(serializer.dumps(dict(flask_session)))
        s.commit()
        return lesson.id, cookies


async def _load(
    base: str, lesson_id: int, cookies: list[str], duration: float, interval: float
) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    codes: dict[int, int] = {}
    errors = 0
    stop_at = time.monotonic() + duration
    connector = aiohttp.TCPConnector(limit=256)
    url = f"{base}/api/v1/lessons/{lesson_id}/progress"

    async with aiohttp.ClientSession(connector=connector) as http:

        async def viewer(i: int, cookie: str) -> None:
            nonlocal errors
            rng = random.Random(i)
            rate = rng.choice([1.0, 1.5, 2.0])
            sid = uuid.uuid4().hex
            pos, seq = rng.uniform(0, 600), 0
            await asyncio.sleep(rng.uniform(0, interval))
            last = time.monotonic()
            tasks = []
            while time.monotonic() < stop_at:
                now = time.monotonic()
                start, pos = pos, pos + (now - last) * rate
                last = now
                body = {
                    "session_id": sid,
                    "seq": seq,
                    "segments": [[start, pos]] if seq else [],
                    "position": pos,
                    "rate": rate,
                    "event": "heartbeat" if seq else "initialized",
                }
                seq += 1
                tasks.append(asyncio.create_task(beat(cookie, body)))
                await asyncio.sleep(interval * rng.uniform(0.9, 1.1))
            await asyncio.gather(*tasks)

        async def beat(cookie: str, body: dict[str, Any]) -> None:
            nonlocal errors
            t0 = time.perf_counter()
            try:
                async with http.post(url, json=body, headers={"Cookie": f"session={cookie}"}) as r:
                    await r.read()
                    codes[r.status] = codes.get(r.status, 0) + 1
                    if r.status == 200:
                        latencies.append(time.perf_counter() - t0)
            except aiohttp.ClientError:
                errors += 1

        started = time.monotonic()
        await asyncio.gather(*(viewer(i, c) for i, c in enumerate(cookies)))
        elapsed = time.monotonic() - started
    latencies.sort()
    q = (
        (lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000)
        if latencies
        else (lambda p: 0.0)
    )
    return {
        "ok": len(latencies),
        "codes": codes,
        "errors": errors,
        "elapsed_s": elapsed,
        "p50_ms": q(0.50),
        "p99_ms": q(0.99),
    }


def bench_heartbeats(viewers: int, duration: float, interval: float, workers: int) -> dict[str, Any]:
    import psutil

    url, drop = _fresh_db(_pg_admin_url())
    workdir = Path(tempfile.mkdtemp(prefix="ieum-bench-hb-"))
    try:
        lesson_id, cookies = _seed_viewers(url, viewers, workdir)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {
            **os.environ,
            "LMS_DATABASE_URL": url,
            "LMS_SECRET_KEY": "bench-secret-key-0123456789abcdefghijklmnop",
            "LMS_STORAGE_DIR": str(workdir / "storage"),
            "LMS_HEARTBEAT_RATE_LIMIT": "100000 per minute",
            "LMS_JOBS": "manual",
            "LMS_PASSWORD_HASHING": "test",
        }
        env.pop("LMS_REDIS_URL", None)
        server = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "-w",
                str(workers),
                "-k",
                "gthread",
                "--threads",
                "8",
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "app:create_app()",
            ],
            cwd=ROOT,
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(2)
        procs = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
        cpu0 = sum(p.cpu_times().user + p.cpu_times().system for p in procs)
        result = asyncio.run(_load(base, lesson_id, cookies, duration, interval))
        cpu1 = sum(p.cpu_times().user + p.cpu_times().system for p in procs if p.is_running())
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
        server_cpu = cpu1 - cpu0
        result.update(
            viewers=viewers,
            interval_s=interval,
            workers=workers,
            server_cpu_s=server_cpu,
            offered_rps=viewers / interval,
            achieved_rps=result["ok"] / result["elapsed_s"],
            rps_per_core=result["ok"] / server_cpu if server_cpu else 0.0,
        )
        return result
    finally:
        drop()


# -- class report -------------------------------------------------------------------------------


def bench_report(students: int, lessons: int) -> dict[str, Any]:
    from app import create_app
    from app.extensions import dbs
    from courses import watch
    from courses.models import Enrolment, Role, User, Video, VideoState, WatchProgress
    from courses.videos import add_recorded_lesson
    from tests.factories import build_world
    from tests.video_support import recorded_course

    url, drop = _fresh_db(_pg_admin_url())
    try:
        env = {**os.environ, "FLASK_APP": "app:create_app", "LMS_DATABASE_URL": url}
        subprocess.run(
            [sys.executable, "-m", "flask", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        app = create_app(
            "development",
            DATABASE_URL=url,
            SECRET_KEY="bench-secret-key-0123456789abcdefghijklmnop",
            JOBS="manual",
            PASSWORD_HASHING="test",
        )
        with app.app_context():
            s = dbs()
            world = build_world(s, students=1)
            course, first = recorded_course(s, world)
            all_lessons = [first] + [
                add_recorded_lesson(s, world["teacher"], course, title=f"{n}강")
                for n in range(2, lessons + 1)
            ]
            s.add_all(
                Video(
                    lesson_id=lesson.id,
                    state=VideoState.ready,
                    source_key=f"videos/{lesson.id}/source",
                    duration_s=1800.0,
                )
                for lesson in all_lessons
            )
            users = [
                User(
                    username=f"r{i:05d}",
                    name=f"학생{i}",
                    role=Role.student,
                    org_id=world.school.id,
                    office_id=world.office.id,
                    password_hash="x",
                )
                for i in range(students)
            ]
            s.add_all(users)
            s.flush()
            s.add_all(Enrolment(course_id=course.id, student_id=u.id) for u in users)
            rng = random.Random(7)
            s.add_all(
                WatchProgress(
                    lesson_id=lesson.id, user_id=u.id, segments=[[0, w]], watched_s=w, last_position=w
                )
                for u in users
                for lesson in all_lessons
                for w in [rng.uniform(0, 1800)]
            )
            s.commit()
            teacher = world["teacher"]
            watch.course_report(s, teacher, course)
            times = []
            for _ in range(5):
                s.expire_all()
                t0 = time.perf_counter()
                got_lessons, rows = watch.course_report(s, teacher, course)
                times.append((time.perf_counter() - t0) * 1000)
            assert len(got_lessons) == lessons and len(rows) >= students
            return {
                "students": len(rows),
                "lessons": len(got_lessons),
                "ms": statistics.median(times),
                "runs_ms": times,
            }
    finally:
        drop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--viewers", type=int, default=10_000)
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between one viewer's beats")
    ap.add_argument("--duration", type=float, default=40.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: transcode,heartbeats,report")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    out: dict[str, Any] = {}
    if "transcode" not in skip:
        t = bench_transcode(args.rounds)
        out.update(
            transcode_overhead_ratio=round(t["ratio"], 3),
            transcode_worker_s=round(t["worker_s"], 2),
            transcode_direct_s=round(t["direct_s"], 2),
            encode_speed_x=round(t["encode_speed_x"], 2),
            ladder=t["rungs"],
        )
    if "heartbeats" not in skip:
        h = bench_heartbeats(args.viewers, args.duration, args.interval, args.workers)
        out.update(
            heartbeat_rps_per_core=round(h["rps_per_core"], 1),
            heartbeat_p99_ms=round(h["p99_ms"], 1),
            heartbeat_p50_ms=round(h["p50_ms"], 1),
            heartbeat_offered_rps=round(h["offered_rps"], 1),
            heartbeat_achieved_rps=round(h["achieved_rps"], 1),
            heartbeat_codes=h["codes"],
            heartbeat_errors=h["errors"],
            heartbeat_server_cpu_s=round(h["server_cpu_s"], 1),
            viewers=h["viewers"],
        )
    if "report" not in skip:
        r = bench_report(1000, 20)
        out.update(
            class_report_ms=round(r["ms"], 1),
            class_report_students=r["students"],
            class_report_lessons=r["lessons"],
        )
    print(f"{'measure':<32} {'value':>14}   target")
    targets = {
        "transcode_overhead_ratio": "<= 1.05",
        "heartbeat_rps_per_core": ">= 1000",
        "heartbeat_p99_ms": "< 50",
        "class_report_ms": "< 300",
    }
    for k, v in out.items():
        print(f"{k:<32} {json.dumps(v, ensure_ascii=False):>14}   {targets.get(k, '')}")
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
