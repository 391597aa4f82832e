"""Recorded lessons end to end in the app: upload through the multipart protocol, processing with real ffmpeg,
authorised HLS, watch progress (credit, idempotency, bad input), the teachers' report, exports, recordings."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest

from courses import watch
from courses.db import utcnow
from courses.models import Course, Recording, Video, VideoState, WatchProgress
from tests.export_support import read_csv, read_xlsx
from tests.live_support import live_course
from tests.video_support import make_clip, process, put_part, recorded_course, upload


@pytest.fixture(autouse=True)
def _empty_queue(app):  # type: ignore[no-untyped-def]
    app.extensions["jobs"].drain()  # what an earlier test announced is not this test's


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_clip(tmp_path_factory.mktemp("clip") / "c.mp4", seconds=6).read_bytes()


@pytest.fixture()
def ready_lesson(app, db_session, web_world, login, clip):  # type: ignore[no-untyped-def]
    course, lesson = recorded_course(db_session, web_world)
    db_session.commit()
    teacher = login(web_world["teacher"])
    video = upload(teacher, lesson.id, clip)
    assert video["state"] == "processing"
    assert app.extensions["jobs"].drain() == [video["id"]]  # announced after the commit
    assert process(app, db_session, video["id"]) == "ready"
    return course, lesson, db_session.get(Video, video["id"])


def test_a_teachers_upload_becomes_hls_the_enrolled_student_can_play(app, login, web_world, ready_lesson):
    course, lesson, video = ready_lesson
    assert video.state == VideoState.ready and math.isclose(video.duration_s, 6, abs_tol=0.3)
    assert [r["height"] for r in video.renditions] == [180]  # never upscaled past the source
    keys = app.extensions["storage"].list(f"videos/{video.id}/")
    assert f"videos/{video.id}/source" in keys and f"videos/{video.id}/hls/master.m3u8" in keys
    student = login(web_world["student"])
    page = student.get(f"/courses/{course.id}/lessons/{lesson.id}/watch")
    assert page.status_code == 200 and b"hls.min.js" in page.data
    master = student.get(f"/lessons/{lesson.id}/hls/master.m3u8")
    assert master.status_code == 200 and master.mimetype == "application/vnd.apple.mpegurl"
    variant_url = next(line for line in master.get_data(as_text=True).splitlines() if line.endswith(".m3u8"))
    variant = student.get(variant_url).get_data(as_text=True)
    segment = next(line for line in variant.splitlines() if line and not line.startswith("#"))
    assert "sig=" in segment and "exp=" in segment  # short-lived signed URLs, never bare keys
    got = student.get(segment)
    assert got.status_code == 200 and len(got.data) > 1000
    tampered = student.get(segment.replace("sig=", "sig=0"))
    assert tampered.status_code == 403
    api = student.get(f"/api/v1/courses/{course.id}").get_json()
    entry = next(x for x in api["lessons"] if x["id"] == lesson.id)
    assert (
        entry["kind"] == "recorded"
        and entry["video_state"] == "ready"
        and entry["duration_s"] == video.duration_s
    )


@pytest.mark.parametrize("who", ["student_b", "foreign_student", "student2", "parent"])
def test_people_outside_the_course_cannot_play_or_report(login, web_world, ready_lesson, who):
    course, lesson, _ = ready_lesson
    c = login(web_world[who])
    # A parent sees their child's course page but neither plays its lectures nor reads the class's report;
    # everyone else does not see the course at all.
    expected = 403 if who == "parent" else 404
    assert c.get(f"/lessons/{lesson.id}/hls/master.m3u8").status_code == expected
    assert c.get(f"/courses/{course.id}/lessons/{lesson.id}/watch").status_code == expected
    beat = {"session_id": "abcdefgh", "seq": 0, "segments": [], "position": 0, "rate": 1}
    assert c.post(f"/api/v1/lessons/{lesson.id}/progress", json=beat).status_code == expected
    assert c.get(f"/courses/{course.id}/lessons/{lesson.id}/progress").status_code == expected


def test_anonymous_hls_and_beats_are_refused(client, ready_lesson):
    _, lesson, _ = ready_lesson
    assert client.get(f"/lessons/{lesson.id}/hls/master.m3u8").status_code == 302  # to the login page
    assert client.post(f"/api/v1/lessons/{lesson.id}/progress", json={}).status_code == 401


def _beat(client, lesson_id, seq, segments, *, position=0.0, rate=1.0, session_id="tab-one-1234", **extra):
    body = {
        "session_id": session_id,
        "seq": seq,
        "segments": segments,
        "position": position,
        "rate": rate,
        **extra,
    }
    return client.post(f"/api/v1/lessons/{lesson_id}/progress", json=body)


class Clock:
    """Server time for the beats, moved by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = utcnow()
        monkeypatch.setattr(watch, "utcnow", lambda: self.now)

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_credit_is_the_union_bounded_by_server_time(login, web_world, ready_lesson, monkeypatch, db_session):
    _, lesson, video = ready_lesson
    clock = Clock(monkeypatch)
    s = login(web_world["student"])
    assert _beat(s, lesson.id, 0, [], event="initialized").get_json()["credited_s"] == 0
    clock.tick(1)
    # One second later a claim of 5 s at 2x is cut to 1 s x 2 + the 2 s slack.
    r = _beat(s, lesson.id, 1, [[0, 5]], position=5, rate=2).get_json()
    assert r["credited_s"] == pytest.approx(4.0) and r["watched_s"] == pytest.approx(4.0)
    # The same seq again credits nothing and changes nothing (idempotent); so does an older one.
    clock.tick(3)
    assert _beat(s, lesson.id, 1, [[0, 6]], position=6).get_json()["credited_s"] == 0
    assert _beat(s, lesson.id, 0, [[4, 6]], position=6).get_json()["credited_s"] == 0
    # Rewatching adds nothing; new time does.
    r = _beat(s, lesson.id, 2, [[0, 4], [4, 5.5]], position=5.5).get_json()
    assert r["credited_s"] == pytest.approx(1.5)
    # A second tab draws from the same bucket: 3 s passed, 8 were allowed, 1.5 used... then it is empty.
    clock.tick(0.5)
    r2 = _beat(s, lesson.id, 0, [[5.5, 6]], session_id="tab-two-1234").get_json()
    assert r2["credited_s"] == pytest.approx(0.5)
    row = (
        db_session.query(WatchProgress).filter_by(lesson_id=lesson.id, user_id=web_world["student"].id).one()
    )
    db_session.refresh(row)
    assert row.watched_s == pytest.approx(6.0) and row.completed_at is not None  # 6 s of a ~6 s video
    own = s.get(f"/api/v1/lessons/{lesson.id}/progress").get_json()
    assert own["completed"] is True and own["played_segments"].startswith("0.000[.]")
    assert own["watched_s"] <= video.duration_s


def test_skipping_credits_nothing_and_the_seek_lock_holds_until_completion(
    login, web_world, ready_lesson, monkeypatch, db_session
):
    course, lesson, _ = ready_lesson
    db_session.get(Course, course.id).seek_lock = True  # the fixture's objects are detached by its requests
    db_session.commit()
    clock = Clock(monkeypatch)
    s = login(web_world["student"])
    _beat(s, lesson.id, 0, [])
    clock.tick(10)
    r = _beat(s, lesson.id, 1, [[0, 1], [4, 6]], position=6, event="seek", **{"from": 1}).get_json()
    assert r["credited_s"] == pytest.approx(1.0)  # the part past the furthest point watched does not count
    assert s.get(f"/api/v1/lessons/{lesson.id}/progress").get_json()["seek_lock"] is True


BAD_BEATS = [
    ({"segments": [[-1, 2]]}, "segments"),
    ({"segments": [[3, 2]]}, "segments"),
    ({"segments": [[0, "NaN"]]}, "segments"),
    ({"segments": [[0, 1e308]]}, None),  # beyond the duration: clamped, not an error
    ({"segments": [[500, 600]]}, "segments"),  # starts past the end
    ({"segments": "0-5"}, "segments"),
    ({"segments": [[0, 1]] * 101}, "segments"),
    ({"rate": 0}, "rate"),
    ({"rate": 100}, "rate"),
    ({"rate": "fast"}, "rate"),
    ({"position": -3}, "position"),
    ({"position": 10**30}, 400),  # numbers past 64 bits are refused by the JSON reader itself
    ({"seq": -1}, "seq"),
    ({"seq": 2**70}, 400),
    ({"seq": "1"}, "seq"),
    ({"session_id": "short"}, "session_id"),
    ({"session_id": "x" * 65}, "session_id"),
    ({"session_id": "bad id with spaces"}, "session_id"),
    ({"event": "teleport"}, "event"),
]


@pytest.mark.parametrize(("change", "field"), BAD_BEATS)
def test_bad_beats_get_a_clear_4xx_and_change_nothing(
    login, web_world, ready_lesson, db_session, change, field
):
    _, lesson, _ = ready_lesson
    s = login(web_world["student"])
    body = {"session_id": "tab-one-1234", "seq": 1, "segments": [[0, 1]], "position": 1, "rate": 1} | change
    r = s.post(f"/api/v1/lessons/{lesson.id}/progress", json=body)
    if field is None:
        assert r.status_code == 200 and r.get_json()["watched_s"] <= 6.5
        return
    if field == 400:
        assert r.status_code == 400 and r.get_json()["error"]["message"]
        assert db_session.query(WatchProgress).filter_by(lesson_id=lesson.id).count() == 0
        return
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert db_session.query(WatchProgress).filter_by(lesson_id=lesson.id).count() == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"{not json", "application/json"), (b"[]", "application/json"), (b"session_id=x", "text/plain")],
)
def test_malformed_beat_bodies_are_400(login, web_world, ready_lesson, body, content_type):
    _, lesson, _ = ready_lesson
    s = login(web_world["student"])
    r = s.post(f"/api/v1/lessons/{lesson.id}/progress", data=body, content_type=content_type)
    assert r.status_code == 400 and "error" in r.get_json()


def test_teachers_do_not_leave_credit_and_a_lesson_without_video_is_409(login, web_world, app, db_session):
    course, lesson = recorded_course(db_session, web_world)
    db_session.commit()
    s = login(web_world["student"])
    r = _beat(s, lesson.id, 0, [])
    assert r.status_code == 409
    t = login(web_world["teacher"])
    assert t.get(f"/courses/{course.id}/lessons/{lesson.id}/watch").status_code == 200


def test_a_flood_of_beats_is_rate_limited(login, web_world, ready_lesson, app, monkeypatch):
    _, lesson, _ = ready_lesson
    s = login(web_world["student"])
    codes = [_beat(s, lesson.id, i, []).status_code for i in range(70)]
    assert codes.count(200) == 60 and codes[-1] == 429  # LMS_HEARTBEAT_RATE_LIMIT: 60 per minute


def test_report_shows_every_enrolled_student_with_retention_and_exports(
    login, web_world, ready_lesson, monkeypatch
):
    course, lesson, _ = ready_lesson
    clock = Clock(monkeypatch)
    s = login(web_world["student"])
    _beat(s, lesson.id, 0, [])
    clock.tick(5)
    _beat(s, lesson.id, 1, [[0, 3]], position=3, event="pause")
    t = login(web_world["teacher"])
    page = t.get(f"/courses/{course.id}/lessons/{lesson.id}/progress")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert web_world["student"].name in html and "chart-data" in html
    chart = json.loads(html.split('id="chart-data">')[1].split("</script>")[0])
    assert chart["datasets"][0]["data"] == [
        1
    ]  # one 10 s bucket of a 6 s video, watched by one student (3 of 6 s)
    csv = t.get(f"/courses/{course.id}/lessons/{lesson.id}/progress?format=csv")
    heading, header, rows = read_csv(csv.data)
    assert heading[:3] == ["시청 현황", f"강좌: {course.title}", "학교: 가람초"]
    assert f"차시: {lesson.number}. {lesson.title}" in heading and header[2] == "이름"
    assert len(rows) == 5  # every student of the class
    xlsx = t.get(f"/courses/{course.id}/lessons/{lesson.id}/progress?format=xlsx")
    assert xlsx.status_code == 200 and len(read_xlsx(xlsx.data)[2]) == 5
    statements = t.get(f"/courses/{course.id}/lessons/{lesson.id}/progress?format=xapi").get_json()
    verbs = [st["verb"]["display"]["en-US"] for st in statements]
    assert verbs == ["initialized", "paused"]
    paused = statements[1]
    ext = paused["result"]["extensions"]
    assert ext["https://w3id.org/xapi/video/extensions/played-segments"] == "0.000[.]3.000"
    assert (
        paused["context"]["extensions"]["https://w3id.org/xapi/video/extensions/completion-threshold"] == 0.9
    )
    assert paused["actor"]["account"]["name"] == str(web_world["student"].id)  # pseudonymous, never a name
    assert web_world["student"].name not in json.dumps(statements, ensure_ascii=False)
    assert t.get(f"/courses/{course.id}/lessons/{lesson.id}/progress?format=pdf").status_code == 400


def test_an_upload_resumes_from_the_parts_already_stored(app, login, web_world, db_session, monkeypatch):
    from courses import videos as videos_service

    monkeypatch.setattr(videos_service, "MIN_PART", 1024 * 1024)
    course, lesson = recorded_course(db_session, web_world)
    db_session.commit()
    data = bytes(range(256)) * (4096 * 3)  # 3 MiB: three parts of 1 MiB
    t = login(web_world["teacher"])
    h = {"X-CSRFToken": t.csrf()}
    plan = t.post(
        f"/api/v1/lessons/{lesson.id}/video/upload",
        json={"filename": "big.mp4", "size": len(data)},
        headers=h,
    )
    assert plan.status_code == 201 and plan.get_json()["part_count"] == 3
    vid = plan.get_json()["video"]["id"]
    urls = t.post(f"/api/v1/videos/{vid}/upload/parts", json={"parts": [1, 2]}, headers=h).get_json()["urls"]
    assert put_part(t, urls["1"], data[: 1024 * 1024]).status_code == 200
    # The connection drops; the tab is closed. The same file picked again resumes after part 1.
    again = t.post(
        f"/api/v1/lessons/{lesson.id}/video/upload",
        json={"filename": "big.mp4", "size": len(data)},
        headers=h,
    )
    assert again.status_code == 200 and again.get_json()["resumed"] is True
    assert [p["part_number"] for p in again.get_json()["uploaded_parts"]] == [1]
    # A part sent twice is just stored again (same ETag); a PUT to a URL for another part is refused.
    first = put_part(t, urls["1"], data[: 1024 * 1024])
    assert first.status_code == 200
    assert put_part(t, urls["2"].replace("partNumber=2", "partNumber=3"), b"x").status_code == 403
    # Completing with a part missing is refused, with a message.
    incomplete = t.post(
        f"/api/v1/videos/{vid}/upload/complete",
        json={"parts": [{"part_number": 1, "etag": first.headers["ETag"]}]},
        headers=h,
    )
    assert incomplete.status_code == 409 and incomplete.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"filename": "a.mp4", "size": 0}, 422),
        ({"filename": "a.mp4", "size": -5}, 422),
        ({"filename": "a.mp4", "size": 10**15}, 422),  # over LMS_VIDEO_MAX_BYTES
        ({"filename": "a.mp4", "size": "12"}, 422),
        ({"filename": "a.mp4", "size": 1.5}, 422),
        ({"filename": "", "size": 100}, 422),
        ({"filename": 5, "size": 100}, 422),
        ({"size": 100}, 422),
    ],
)
def test_bad_upload_requests_are_refused(login, web_world, db_session, body, status):
    _, lesson = recorded_course(db_session, web_world)
    db_session.commit()
    t = login(web_world["teacher"])
    r = t.post(f"/api/v1/lessons/{lesson.id}/video/upload", json=body, headers={"X-CSRFToken": t.csrf()})
    assert r.status_code == status, r.get_json()
    assert db_session.query(Video).filter_by(lesson_id=lesson.id).count() == 0


def test_students_cannot_upload(login, web_world, db_session):
    _, lesson = recorded_course(db_session, web_world)
    db_session.commit()
    s = login(web_world["student"])
    r = s.post(
        f"/api/v1/lessons/{lesson.id}/video/upload",
        json={"filename": "a.mp4", "size": 10},
        headers={"X-CSRFToken": s.csrf()},
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp, clip: b"this is a text file, renamed lecture.mp4\n" * 100,
        lambda tmp, clip: clip[: len(clip) // 3],  # truncated
        lambda tmp, clip: b"\x00" * 50_000,
    ],
    ids=["text", "truncated", "zeros"],
)
def test_a_file_that_is_not_a_video_fails_with_a_clear_message_and_nothing_published(
    app, login, web_world, db_session, clip, tmp_path, make
):
    course, lesson = recorded_course(db_session, web_world)
    db_session.commit()
    t = login(web_world["teacher"])
    video = upload(t, lesson.id, make(tmp_path, clip))
    app.extensions["jobs"].drain()
    assert process(app, db_session, video["id"]) == "failed"
    state = t.get(f"/api/v1/videos/{video['id']}").get_json()
    assert state["state"] == "failed" and "동영상" in state["error"]
    assert app.extensions["storage"].list(f"videos/{video['id']}/hls/") == []
    page = t.get(f"/courses/{course.id}/lessons/{lesson.id}/watch").get_data(as_text=True)
    assert state["error"] in page
    s = login(web_world["student"])
    assert s.get(f"/lessons/{lesson.id}/hls/master.m3u8").status_code == 404


def test_deleting_a_video_deletes_all_its_objects(app, login, web_world, ready_lesson):
    course, lesson, video = ready_lesson
    storage = app.extensions["storage"]
    assert storage.list(f"videos/{video.id}/")
    t = login(web_world["teacher"])
    r = t.delete(f"/api/v1/videos/{video.id}", headers={"X-CSRFToken": t.csrf()})
    assert r.status_code == 204
    assert storage.list(f"videos/{video.id}/") == []


def test_stale_uploads_are_aborted(app, db_session, web_world):
    from courses import videos as videos_service

    _, lesson = recorded_course(db_session, web_world)
    storage = app.extensions["storage"]
    plan = videos_service.start_upload(
        db_session,
        storage,
        web_world["teacher"],
        lesson,
        lesson.course,
        filename="x.mp4",
        size=10,
        max_bytes=100,
        now=utcnow() - timedelta(days=2),
    )
    storage.put_part(plan.video.source_key, plan.video.upload_id, 1, b"0123456789")
    n = videos_service.abort_stale_uploads(db_session, storage, older_than=timedelta(hours=24), now=utcnow())
    assert n == 1 and db_session.query(Video).count() == 0
    with pytest.raises(Exception, match="unknown upload"):
        storage.list_parts(plan.video.source_key, plan.video.upload_id)


def test_a_class_recording_published_as_a_lesson_is_processed_and_tracked(
    app, login, web_world, db_session, clip, monkeypatch
):
    course, live = live_course(db_session, web_world, starts_in=timedelta(minutes=-30), recording="full")
    storage = app.extensions["storage"]
    key = f"recordings/live-{live.id}/rec-1.mp4"
    storage.put_bytes(key, clip, "video/mp4")
    rec = Recording(
        live_session_id=live.id, object_key=key, content_type="video/mp4", duration_s=6.0, size=len(clip)
    )
    db_session.add(rec)
    db_session.commit()
    t = login(web_world["teacher"])
    page = t.get(f"/live/{live.id}/attendance").get_data(as_text=True)
    assert "강의로 공개" in page
    r = t.post(f"/recordings/{rec.id}/decision", data={"decision": "publish", "csrf_token": t.csrf()})
    assert r.status_code == 302
    rec = db_session.get(Recording, rec.id)
    assert rec.decision == "published" and rec.lesson_id
    [video_id] = app.extensions["jobs"].drain()
    assert process(app, db_session, video_id) == "ready"
    video = db_session.get(Video, video_id)
    assert video.source_key == key and video.recording_id == rec.id
    clock = Clock(monkeypatch)
    s = login(web_world["student"])
    _beat(s, rec.lesson_id, 0, [])
    clock.tick(4)
    assert _beat(s, rec.lesson_id, 1, [[0, 4]], position=4).get_json()["credited_s"] == pytest.approx(4)
    # Deleting the published lesson's video keeps the recording's own object.
    t.delete(f"/api/v1/videos/{video_id}", headers={"X-CSRFToken": t.csrf()})
    assert storage.exists(key)


@pytest.mark.parametrize("decision", ["private", "delete"])
def test_a_recording_kept_private_or_deleted(app, login, web_world, db_session, decision):
    course, live = live_course(db_session, web_world, starts_in=timedelta(minutes=-30), recording="full")
    storage = app.extensions["storage"]
    key = f"recordings/live-{live.id}/rec-2.webm"
    storage.put_bytes(key, b"webm", "video/webm")
    rec = Recording(
        live_session_id=live.id, object_key=key, content_type="video/webm", duration_s=1.0, size=4
    )
    db_session.add(rec)
    db_session.commit()
    rec_id = rec.id
    s = login(web_world["student"])
    assert (
        s.post(
            f"/recordings/{rec.id}/decision", data={"decision": decision, "csrf_token": s.csrf()}
        ).status_code
        == 404
    )
    t = login(web_world["teacher"])
    assert (
        t.post(
            f"/recordings/{rec.id}/decision", data={"decision": decision, "csrf_token": t.csrf()}
        ).status_code
        == 302
    )
    kept = db_session.get(Recording, rec_id)
    if decision == "delete":
        assert not storage.exists(key) and kept is None
    else:
        assert kept.decision == "private" and storage.exists(key)
    assert app.extensions["jobs"].drain() == []


def test_captions_must_be_webvtt(app, login, web_world, ready_lesson):
    import io

    course, lesson, video = ready_lesson
    t = login(web_world["teacher"])
    bad = t.post(
        f"/lessons/{lesson.id}/captions",
        data={
            "captions": (io.BytesIO(b"1\n00:00:00,000 --> 00:00:01,000\nhi\n"), "a.srt"),
            "csrf_token": t.csrf(),
        },
    )
    assert bad.status_code == 422
    good = t.post(
        f"/lessons/{lesson.id}/captions",
        data={
            "captions": (
                io.BytesIO(b"WEBVTT\n\n00:00.000 --> 00:01.000\n\xec\x95\x88\xeb\x85\x95\n"),
                "a.vtt",
            ),
            "csrf_token": t.csrf(),
        },
    )
    assert good.status_code == 302
    s = login(web_world["student"])
    vtt = s.get(f"/lessons/{lesson.id}/hls/captions.vtt")
    assert vtt.status_code == 200 and vtt.get_data(as_text=True).startswith("WEBVTT")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"watch_threshold_pct": 80, "seek_lock": True}, 200),
        ({"watch_threshold_pct": 49}, 422),
        ({"watch_threshold_pct": 101}, 422),
        ({"watch_threshold_pct": "80"}, 422),
        ({"watch_threshold_pct": True}, 422),
        ({"watch_threshold_pct": 80, "seek_lock": "yes"}, 400),
    ],
)
def test_watch_settings_through_the_api(login, web_world, db_session, body, status):
    course, _ = recorded_course(db_session, web_world)
    db_session.commit()
    t = login(web_world["teacher"])
    r = t.put(f"/api/v1/courses/{course.id}/watch-settings", json=body, headers={"X-CSRFToken": t.csrf()})
    assert r.status_code == status, r.get_json()
    saved = db_session.get(Course, course.id)
    db_session.refresh(saved)
    if status == 200:
        assert r.get_json()["watch_threshold_pct"] == 80 and r.get_json()["seek_lock"] is True
        assert (saved.watch_threshold_pct, saved.seek_lock) == (80, True)
    else:
        assert (saved.watch_threshold_pct, saved.seek_lock) == (90, False)


def test_watch_settings_form_and_who_may_use_it(login, web_world, db_session, ready_lesson, monkeypatch):
    course, lesson, _ = ready_lesson
    t = login(web_world["teacher"])
    page = t.get(f"/courses/{course.id}").get_data(as_text=True)
    assert 'name="watch_threshold_pct"' in page
    r = t.post(
        f"/courses/{course.id}/watch-settings", data={"watch_threshold_pct": "50", "csrf_token": t.csrf()}
    )
    assert r.status_code == 302
    assert db_session.get(Course, course.id).watch_threshold_pct == 50
    s = login(web_world["student"])
    assert 'name="watch_threshold_pct"' not in s.get(f"/courses/{course.id}").get_data(as_text=True)
    denied = s.post(
        f"/courses/{course.id}/watch-settings", data={"watch_threshold_pct": "50", "csrf_token": s.csrf()}
    )
    assert denied.status_code == 403
    # At 50 %, three seconds of a six-second lecture complete it.
    clock = Clock(monkeypatch)
    _beat(s, lesson.id, 0, [])
    clock.tick(2)
    assert _beat(s, lesson.id, 1, [[0, 3.1]], position=3.1).get_json()["completed"] is True


def test_the_class_progress_report_across_lessons(login, web_world, ready_lesson, monkeypatch):
    course, lesson, _ = ready_lesson
    clock = Clock(monkeypatch)
    s = login(web_world["student"])
    _beat(s, lesson.id, 0, [])
    clock.tick(10)
    _beat(s, lesson.id, 1, [[0, 6]], position=6)
    t = login(web_world["teacher"])
    page = t.get(f"/courses/{course.id}/progress")
    assert page.status_code == 200
    chart = json.loads(page.get_data(as_text=True).split('id="chart-data">')[1].split("</script>")[0])
    assert chart["datasets"][0]["data"] == [1]  # one lesson, completed by one student
    heading, header, rows = read_csv(t.get(f"/courses/{course.id}/progress?format=csv").data)
    assert len(rows) == 5 and any("녹화 1강" in str(h) for h in header)
    row = next(r for r in rows if web_world["student"].name in r)
    assert row[-2:] == ["100.0", "1"]
    assert login(web_world["student"]).get(f"/courses/{course.id}/progress").status_code == 403
    assert login(web_world["student_b"]).get(f"/courses/{course.id}/progress").status_code == 404


def test_intervals_that_touch_across_beats_merge_exactly(login, web_world, ready_lesson, monkeypatch):
    _, lesson, _ = ready_lesson
    clock = Clock(monkeypatch)
    s = login(web_world["student"])
    _beat(s, lesson.id, 0, [])
    clock.tick(5)
    _beat(s, lesson.id, 1, [[0, 1.23456789]], position=1.23456789)
    clock.tick(5)
    _beat(s, lesson.id, 2, [[1.23456789, 2.5]], position=2.5)
    own = s.get(f"/api/v1/lessons/{lesson.id}/progress").get_json()
    assert own["segments"] == [[0, 2.5]] and own["played_segments"] == "0.000[.]2.500"


def test_xapi_export_of_a_course_and_of_one_student(login, web_world, ready_lesson, monkeypatch):
    course, lesson, _ = ready_lesson
    clock = Clock(monkeypatch)
    s = login(web_world["student"])
    _beat(s, lesson.id, 0, [])
    clock.tick(3)
    _beat(s, lesson.id, 1, [[0, 2]], position=2)
    t = login(web_world["teacher"])
    everyone = t.get(f"/courses/{course.id}/progress?format=xapi").get_json()
    assert [st["verb"]["display"]["en-US"] for st in everyone] == ["initialized", "played"]
    sid = web_world["student"].id
    one = t.get(f"/courses/{course.id}/progress?format=xapi&student_id={sid}").get_json()
    assert {st["actor"]["account"]["name"] for st in one} == {str(sid)}
    assert (
        t.get(
            f"/courses/{course.id}/progress?format=xapi&student_id={web_world['foreign_student'].id}"
        ).status_code
        == 404
    )
