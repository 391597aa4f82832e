"""A real live class in headless Chromium: the app, a real SFU process, a teacher and two students.

The teacher schedules lesson 1 of a course to be on now (through the course page's lesson form), opens the live
room, picks a camera and joins; two students join and wait in the lobby until the teacher starts the class.
Each student's browser must then decode the teacher's video (``framesDecoded`` grows between two samples of
``RTCPeerConnection.getStats()``). Student A raises a hand (by the button's name), the teacher brings them on
stage, and the teacher and student B must both receive student A's audio. Student B chats, the teacher reads
it; the teacher ends the class, the students are told so and hang up, and the attendance page shows both
students present and student A's stage time and raised hand — numbers that only exist because the SFU's
signed webhooks reached the app. axe-core checks the room (teacher's and student's view) and the attendance
page. A second test refuses the camera and microphone and expects the page to say so.

Chromium runs with a fake camera and microphone (``--use-fake-device-for-media-stream``, see conftest.py);
each context that may use them is granted the permissions, the refusal test's is not.

SQLite only: one run takes about half a minute of the two cores, and the webhook → attendance path is
already covered on PostgreSQL by tests/web/test_live_pages.py, so the PostgreSQL server skips it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SECRET_KEY, SFU_SECRET, LiveServer, log_on_failure
from tests.browser.support import DESKTOP, PHONE, ROOT, check_accessible

pytestmark = pytest.mark.browser

SEOUL = ZoneInfo("Asia/Seoul")
MEDIA = ["camera", "microphone"]

# Every inbound RTP stream of the page's subscribe connection (pc.getStats()), with the participant and kind
# the SFU's "tracks" message gave its m-line (live.js keeps both on window.ieumLive).
INBOUND_JS = """async () => {
  const s = window.ieumLive;
  if (!s || !s.sub) return [];
  const report = await s.sub.getStats();
  const out = [];
  report.forEach((r) => {
    if (r.type !== "inbound-rtp") return;
    const info = s.tracks[r.mid] || {};
    out.push({mid: r.mid, user: info.user || "", source: info.kind || "", kind: r.kind,
              framesDecoded: r.framesDecoded || 0, packetsReceived: r.packetsReceived || 0,
              bytesReceived: r.bytesReceived || 0, totalSamplesReceived: r.totalSamplesReceived || 0});
  });
  return out;
}"""


# --- the SFU ----------------------------------------------------------------------------------------------


@dataclass
class RunningSfu:
    """An SFU process serving the live server's rooms; its log."""

    url: str
    log: Path


@pytest.fixture(scope="session")
def sfu(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSfu]:
    """`python -m webrtc --workers 2` on the port the live server's pages expect, posting its webhooks there."""
    if live_server.backend != "sqlite":
        pytest.skip("the live class runs on SQLite only (see the module docstring)")
    log = tmp_path_factory.mktemp("sfu") / "sfu.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    env.update(
        LMS_SFU_SECRET=SFU_SECRET,
        LMS_SFU_WEBHOOK_URL=f"{live_server.url}/api/v1/sfu/webhook",
        # Recordings go into the app's own storage, as ./scripts/run sets it up.
        LMS_STORAGE_DIR=str(live_server.storage_dir),
        LMS_SECRET_KEY=SECRET_KEY,
        PYTHONUNBUFFERED="1",
        NO_PROXY="127.0.0.1,localhost",
    )
    port = str(live_server.sfu_port)
    # Two SFU processes, as production runs one per core: the teacher's subscribe connection stays with the
    # coordinator, the first student's goes to the relay worker (least loaded first).
    cmd = [sys.executable, "-m", "webrtc", "--host", "127.0.0.1", "--port", port, "--ice-host", "127.0.0.1"]
    cmd += ["--workers", "2"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the SFU exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the SFU did not answer within 30 s:\n{log.read_text()[-4000:]}"
                    ) from None
                time.sleep(0.2)
        yield RunningSfu(url=f"ws://127.0.0.1:{port}/ws", log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(autouse=True)
def _sfu_log_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """Attach what the SFU logged during a failing test to its report."""
    if "sfu" not in request.fixturenames:
        yield
        return
    running: RunningSfu = request.getfixturevalue("sfu")
    with log_on_failure(request, running.log, "SFU log"):
        yield


# --- the course -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveCourse:
    """teacher1's approved live course with 5학년 1반 enrolled; who is who (user id → name)."""

    course_id: int
    names: dict[str, str]  # username → display name
    ids: dict[str, str]  # username → user id, as the SFU names participants


@pytest.fixture(scope="session")
def live_course(sfu: RunningSfu, live_server: LiveServer) -> LiveCourse:
    """A two-lesson live course of teacher1's for their class, approved by admin1 and enrolled (domain services:
    requesting and approving through the pages is test_course_request_flow.py's job)."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from courses import enrolment, workflow
    from courses.models import ClassMembership, MemberRole, SchoolClass, Theme, User

    usernames = ["teacher1", "admin1", "student1", "student2"]
    engine = create_engine(live_server.database_url)
    try:
        with Session(engine, expire_on_commit=False) as s:
            users = {u.username: u for u in s.scalars(select(User).where(User.username.in_(usernames)))}
            teacher = users["teacher1"]
            cls = s.scalars(
                select(SchoolClass)
                .join(ClassMembership, ClassMembership.class_id == SchoolClass.id)
                .where(ClassMembership.user_id == teacher.id, ClassMembership.role == MemberRole.teacher)
            ).one()
            for student in ("student1", "student2"):
                assert s.scalar(
                    select(ClassMembership.id).where(
                        ClassMembership.class_id == cls.id, ClassMembership.user_id == users[student].id
                    )
                ), f"{student} is not in teacher1's class in the demo data"
            theme = s.scalars(select(Theme).where(Theme.active).order_by(Theme.position)).first()
            assert theme is not None
            start = date.today() + timedelta(days=7)
            course = workflow.submit_request(
                s,
                teacher,
                workflow.CourseInput(
                    level="class",
                    theme_id=theme.id,
                    title=f"실시간 토론 교실 {uuid.uuid4().hex[:6]}",
                    goals="서로의 생각을 듣고 말한다.",
                    delivery="live",
                    lesson_count=2,
                    hours=2,
                    start_date=start,
                    end_date=start + timedelta(days=7),
                    instructor_mode="homeroom",
                    class_id=cls.id,
                    schedule_note="매주 수 5교시",
                    recording_policy="full",  # the teacher and whoever is brought on stage
                ),
            )
            workflow.approve(s, users["admin1"], course, "좋습니다")
            enrolment.enrol_group(s, teacher, course, school_id=cls.school_id, class_id=cls.id)
            s.commit()
            return LiveCourse(
                course_id=course.id,
                names={u: users[u].name for u in usernames},
                ids={u: str(users[u].id) for u in usernames},
            )
    finally:
        engine.dispose()


def _on_now() -> tuple[str, str]:
    """A lesson's start and end for <input type=datetime-local> (Seoul time): begun 10 minutes ago, 50 to go."""
    now = datetime.now(SEOUL).replace(second=0, microsecond=0)
    starts, ends = now - timedelta(minutes=10), now + timedelta(minutes=50)
    return starts.strftime("%Y-%m-%dT%H:%M"), ends.strftime("%Y-%m-%dT%H:%M")


def _schedule_now(teacher: Any, course_id: int, number: int) -> str:
    """On the course page, the teacher sets lesson `number` to now and follows its live-room link; its URL."""
    teacher.goto(f"/courses/{course_id}")
    lesson = teacher.locator("details").filter(has=teacher.get_by_text(f"{number}차시 편집", exact=True))
    lesson.get_by_text(f"{number}차시 편집", exact=True).click()
    starts, ends = _on_now()
    lesson.get_by_label("시작", exact=True).fill(starts)
    lesson.get_by_label("종료", exact=True).fill(ends)
    with teacher.expect_navigation():
        lesson.get_by_role("button", name="저장").click()
    expect(teacher.get_by_role("status").first).to_contain_text("차시를 저장했습니다")
    with teacher.expect_navigation():
        teacher.get_by_role("link", name=f"{number}차시 실시간 수업 입장").click()
    expect(teacher).to_have_url(re.compile(r"/live/\d+$"))
    return str(teacher.url)


# --- media statistics -------------------------------------------------------------------------------------


def _inbound(page: Any, user: str, kind: str) -> dict[str, Any] | None:
    """The page's inbound RTP stream of `kind` ('audio' or 'video') from participant `user`, if any."""
    for r in page.evaluate(INBOUND_JS):
        if r["user"] == user and r["kind"] == kind:
            return dict(r)
    return None


def _wait_inbound(page: Any, user: str, kind: str, counter: str, timeout: float = 20) -> dict[str, Any]:
    """Poll getStats() until `counter` of the stream from `user` is above zero; that sample."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = _inbound(page, user, kind)
        if last and last[counter] > 0:
            return last
        page.wait_for_timeout(200)
    raise AssertionError(
        f"no {kind} from participant {user} with {counter} > 0 within {timeout}s; last: {last}; "
        f"all: {page.evaluate(INBOUND_JS)}; status: {page.locator('#live-status').text_content()!r}"
    )


def _assert_flowing(
    page: Any, who: str, user: str, kind: str, counters: list[str], seen: dict[str, Any]
) -> None:
    """Two samples of the stream from `user`, two seconds apart: every counter named has grown."""
    first = _wait_inbound(page, user, kind, counters[0])
    page.wait_for_timeout(2000)
    second = _inbound(page, user, kind)
    assert second is not None, f"{who}: the {kind} stream from {user} went away"
    for c in counters:
        assert second[c] > first[c], f"{who}: {kind} {c} did not grow in 2 s: {first[c]} → {second[c]}"
    seen[f"{who}: {kind} from {user}"] = {c: (first[c], second[c]) for c in counters}


# --- the class --------------------------------------------------------------------------------------------


def _media_page(page_as: Callable[..., Any], live_server: LiveServer, username: str) -> Any:
    page = page_as(username, locale="ko")
    page.context.grant_permissions(MEDIA, origin=live_server.url)
    return page


def _join(page: Any, room_url: str) -> None:
    page.goto(room_url)
    page.get_by_role("button", name="수업 입장").click()
    expect(page.locator("#room")).to_be_visible(timeout=20_000)


def _attendance(page: Any) -> dict[str, dict[str, str]]:
    """The attendance table as {student name: {column header: cell text}}."""
    headers = page.locator("table thead th").all_inner_texts()
    rows = {}
    for cells in page.locator("table tbody tr").evaluate_all(
        "trs => trs.map(tr => [...tr.cells].map(td => td.textContent.trim()))"
    ):
        row = dict(zip(headers, cells, strict=True))
        rows[row["이름"]] = row
    return rows


def test_live_class_video_stage_audio_chat_end_attendance(
    page_as: Callable[..., Any], live_server: LiveServer, live_course: LiveCourse, sfu: RunningSfu
) -> None:
    began = time.monotonic()
    ids, names = live_course.ids, live_course.names
    a, b = "student1", "student2"
    seen: dict[str, Any] = {}

    # The teacher puts lesson 1 on now, opens its room, checks the camera, picks one and joins.
    teacher = _media_page(page_as, live_server, "teacher1")
    room_url = _schedule_now(teacher, live_course.course_id, 1)
    expect(teacher.get_by_role("status").filter(has_text="입장 전입니다.")).to_be_visible()
    teacher.get_by_role("button", name="카메라·마이크 확인").click()
    cameras = teacher.get_by_label("카메라", exact=True)
    expect(cameras.locator("option")).not_to_have_count(1)  # the devices are listed once allowed
    cameras.select_option(index=1)
    expect(teacher.locator("#preview")).to_have_js_property("readyState", 4)
    teacher.get_by_role("button", name="수업 입장").click()
    expect(teacher.locator("#live-status")).to_have_text("수업에 참여했습니다.", timeout=20_000)
    teacher.wait_for_function(
        "() => window.ieumLive.pub && window.ieumLive.pub.connectionState === 'connected'", timeout=20_000
    )
    # The teacher sees their own camera in the main tile, as the class will.
    expect(teacher.locator("#main-tile .tile.self video")).to_have_js_property("readyState", 4)

    # Two students join and wait in the lobby.
    students = {u: _media_page(page_as, live_server, u) for u in (a, b)}
    for page in students.values():
        _join(page, room_url)
        expect(page.locator("#live-status")).to_have_text("대기실에서 기다리는 중입니다.")
    people = teacher.locator("#people")
    lobby = teacher.get_by_role("region", name=re.compile("^대기실"))
    for u in (a, b):
        expect(lobby.get_by_role("listitem").filter(has_text=names[u])).to_contain_text("대기 중")
        # Off stage, a student has no microphone or camera buttons that would do nothing.
        expect(students[u].get_by_role("button", name=re.compile("마이크|카메라"))).to_have_count(0)

    # The teacher starts the class: both students decode the teacher's camera; everyone sees it is recorded.
    teacher.get_by_role("button", name="수업 시작").click()
    expect(teacher.locator("#rec-badge")).to_be_visible()
    expect(teacher.get_by_text("수업 진행 중")).to_be_visible()
    expect(teacher.get_by_role("button", name="수업 시작")).to_be_hidden()
    expect(lobby).to_be_hidden()
    for u in (a, b):
        expect(people.get_by_role("listitem").filter(has_text=names[u])).to_be_visible()
    for u, page in students.items():
        expect(page.locator("#live-status")).to_have_text("수업이 시작되었습니다.")
        _assert_flowing(page, u, ids["teacher1"], "video", ["framesDecoded"], seen)
        expect(page.locator("#main-tile video")).to_have_count(1)
    check_accessible(teacher, "live room (teacher, class on)")
    check_accessible(students[a], "live room (student, class on)")

    # Student B shows their camera for the teacher's gallery only: the teacher opens the gallery and sees it;
    # student A never receives it.
    students[b].get_by_role("button", name="선생님께 내 카메라 보이기").click()
    expect(students[b].get_by_role("button", name="내 카메라 끄기")).to_have_attribute("aria-pressed", "true")
    expect(students[b].locator("#side-tiles .tile.self video")).to_have_js_property("readyState", 4)
    teacher.get_by_role("button", name="학생 카메라").click()
    gallery = teacher.get_by_role("region", name=re.compile("^학생 카메라"))
    expect(gallery).to_be_visible()
    expect(gallery.locator("#gallery-count")).to_have_text("(카메라 1명 / 2명)")
    expect(gallery.locator("#gallery-pageno")).to_have_text("1 / 1쪽")
    expect(gallery.get_by_role("listitem")).to_have_count(2)
    expect(gallery.get_by_role("listitem").first).to_have_accessible_name(names[b])  # cameras on come first
    expect(gallery.get_by_role("listitem", name=names[a])).to_contain_text("카메라 꺼짐")
    _assert_flowing(teacher, "teacher1 (gallery)", ids[b], "video", ["framesDecoded"], seen)
    expect(gallery.locator(f'.gcell[data-user="{ids[b]}"] video')).to_have_js_property("readyState", 4)
    check_accessible(teacher, "live room (teacher, gallery open)")
    if os.environ.get("IEUM_SCREENSHOTS"):  # a folder to look at the room in, when asked for
        teacher.screenshot(path=os.path.join(os.environ["IEUM_SCREENSHOTS"], "live-teacher-gallery.png"))
    # On a phone the gallery's tiles wrap inside the page: nothing scrolls sideways, and B's camera still plays.
    teacher.set_viewport_size(PHONE)
    sizes = teacher.evaluate(
        "() => { const g = document.getElementById('gallery-grid');"
        " return [g.scrollWidth, g.clientWidth, document.documentElement.scrollWidth, window.innerWidth]; }"
    )
    assert sizes[0] <= sizes[1] and sizes[2] <= sizes[3], f"the gallery overflows on a phone: {sizes}"
    expect(gallery.locator(f'.gcell[data-user="{ids[b]}"] video')).to_have_js_property("readyState", 4)
    if os.environ.get("IEUM_SCREENSHOTS"):
        gallery.screenshot(
            path=os.path.join(os.environ["IEUM_SCREENSHOTS"], "live-teacher-gallery-phone.png")
        )
    teacher.set_viewport_size(DESKTOP)
    students[a].wait_for_timeout(1500)
    assert _inbound(students[a], ids[b], "video") is None, (
        "a student received another student's gallery camera"
    )
    # Closing the gallery stops the camera coming to the teacher; B turns the camera off again.
    teacher.get_by_role("button", name="학생 카메라").click()
    expect(gallery).to_be_hidden()
    teacher.wait_for_function(
        f"() => !Object.values(window.ieumLive.tracks).some(t => t.user === '{ids[b]}')", timeout=10_000
    )
    students[b].get_by_role("button", name="내 카메라 끄기").click()
    expect(students[b].get_by_role("button", name="선생님께 내 카메라 보이기")).to_be_visible()
    expect(students[b].locator(".tile.self")).to_have_count(0)

    # Student A raises a hand; the teacher sees it and brings them on stage.
    students[a].get_by_role("button", name="손들기").click()
    expect(students[a].get_by_role("button", name="손 내리기")).to_have_attribute("aria-pressed", "true")
    raised = people.get_by_role("listitem").filter(has_text=names[a])
    expect(raised).to_contain_text("손 듦")
    teacher.get_by_role("button", name=f"{names[a]} 무대로").click()
    on_stage = time.monotonic()
    expect(students[a].locator("#live-status")).to_have_text(re.compile("^무대에 올랐습니다"))
    expect(students[a].get_by_role("button", name="마이크 끄기")).to_be_visible(timeout=20_000)
    expect(students[a].locator("#side-tiles .tile.self video")).to_have_js_property("readyState", 4)
    expect(raised).not_to_contain_text("손 듦")

    # The teacher and student B hear student A (and see them).
    for who, page in (("teacher1", teacher), (b, students[b])):
        _assert_flowing(
            page, who, ids[a], "audio", ["packetsReceived", "bytesReceived", "totalSamplesReceived"], seen
        )
        _assert_flowing(page, who, ids[a], "video", ["framesDecoded"], seen)
        expect(page.locator(f'#side-tiles .tile[data-user="{ids[a]}"]')).to_have_accessible_name(names[a])
        expect(page.locator(f'audio[data-user="{ids[a]}"]')).to_have_count(1)

    # Student B chats; the teacher reads it.
    text = f"질문 있어요 {uuid.uuid4().hex[:4]}"
    students[b].get_by_label("메시지").fill(text)
    students[b].get_by_role("button", name="보내기").click()
    expect(teacher.locator("#chat-log")).to_contain_text(f"{names[b]}: {text}")

    # Removing a student asks first; declining keeps them in the class.
    teacher.once("dialog", lambda d: d.dismiss())
    teacher.get_by_role("button", name=f"{names[b]} 내보내기").click()
    expect(people.get_by_role("listitem").filter(has_text=names[b])).to_be_visible()

    # Student B's connection drops (its socket dies, as on a network loss): the page rejoins by itself and the
    # teacher's video flows again on the new connection; the attendance record keeps both stretches (below).
    students[b].evaluate("() => window.ieumLive.ws.close()")
    expect(students[b].locator("#live-status")).to_have_text("수업에 참여했습니다.", timeout=20_000)
    _assert_flowing(students[b], f"{b} after rejoining", ids["teacher1"], "video", ["framesDecoded"], seen)

    # Stage time is shown in tenths of a minute: leave student A up there long enough to count.
    teacher.wait_for_timeout(max(0, 7 - (time.monotonic() - on_stage)) * 1000)

    # The teacher ends the class: the students are told and hang up; the teacher lands on the attendance page.
    ending = time.monotonic()
    teacher.get_by_role("button", name="수업 끝내기").click()  # asks first, in a dialog
    dialog = teacher.get_by_role("dialog", name="수업을 끝낼까요?")
    dialog.get_by_role("button", name="계속 수업하기").click()
    expect(dialog).to_be_hidden()
    teacher.get_by_role("button", name="수업 끝내기").click()
    with teacher.expect_navigation(url=re.compile(r"/live/\d+/attendance$"), timeout=15_000):
        dialog.get_by_role("button", name="예, 수업을 끝냅니다").click()
    seen["end_class_to_attendance_s"] = round(time.monotonic() - ending, 2)
    for page in students.values():
        expect(page.locator("#live-status")).to_have_text("수업이 끝났습니다.")
        expect(page.locator("#room")).to_be_hidden()
        ended = page.get_by_role("region", name="이 수업은 끝났습니다.")
        expect(ended.get_by_role("link", name="강좌로 돌아가기")).to_be_visible()
        page.wait_for_function(
            "() => { const s = window.ieumLive;"
            " return !s.sub && !s.pub && !s.localStream && s.ws.readyState === WebSocket.CLOSED; }",
            timeout=10_000,
        )

    # The webhooks made attendance rows: both students came and left (when told the class was over), A was
    # on stage and raised a hand, B chatted. Webhooks are delivered in the background: reload until they are in.
    deadline = time.monotonic() + 15
    while True:
        rows = _attendance(teacher)
        try:
            for u in (a, b):
                row = rows[names[u]]
                assert row["입장"] and row["퇴장"], f"{u} has no join or leave time: {row}"
                assert float(row["참석(분)"]) > 0, f"{u} was present 0 minutes: {row}"
            assert float(rows[names[a]]["무대(분)"]) > 0, f"{a} has no stage time: {rows[names[a]]}"
            assert int(rows[names[a]]["손들기"]) >= 1, f"{a} raised no hand: {rows[names[a]]}"
            assert int(rows[names[b]]["채팅"]) >= 1, f"{b} sent no chat: {rows[names[b]]}"
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            teacher.wait_for_timeout(500)
            teacher.reload()
    # The recording shows up on the page by itself once the SFU has stored it (no reload: the marker stays).
    teacher.evaluate("() => { window.__sameDocument = true; }")
    expect(teacher.locator("video.recording")).to_have_count(1, timeout=30_000)
    assert teacher.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
    expect(teacher.get_by_role("region", name="채팅 기록")).to_contain_text(text)
    # The ended room offers no way back in.
    students[a].reload()
    expect(students[a].get_by_role("heading", name="이 수업은 끝났습니다.")).to_be_visible()
    expect(students[a].get_by_role("button", name="수업 입장")).to_have_count(0)
    _assert_recording_plays(teacher, live_server, seen)
    rejoined = _attendance_row(live_server, int(room_url.rsplit("/", 1)[1]), int(ids[b]))
    assert rejoined.joins == 2, f"{b} should have joined twice (drop and rejoin): {rejoined.joins}"
    seen["rejoined_present_s"] = rejoined.present_seconds
    assert rejoined.present_seconds >= 5
    check_accessible(teacher, "attendance page after the class")
    seen["attendance"] = {u: rows[names[u]] for u in (a, b)}
    seen["duration_s"] = round(time.monotonic() - began, 1)
    print(seen)  # the numbers behind the assertions, for `pytest -s`


def _attendance_row(live_server: LiveServer, live_id: int, user_id: int) -> Any:
    """The app's attendance row for one person and session, read from its database."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from courses.models import Attendance

    engine = create_engine(live_server.database_url)
    try:
        with Session(engine) as s:
            return s.scalars(
                select(Attendance).where(Attendance.live_session_id == live_id, Attendance.user_id == user_id)
            ).one()
    finally:
        engine.dispose()


def _assert_recording_plays(teacher: Any, live_server: LiveServer, seen: dict[str, Any]) -> None:
    """The recording listed on the attendance page: the browser plays it, and ffprobe reads the stored object."""
    video = teacher.locator("video.recording")
    teacher.wait_for_function(
        "() => { const v = document.querySelector('video.recording'); return v && v.readyState >= 1"
        " && v.duration > 0 && v.videoWidth > 0; }",
        timeout=15_000,
    )
    seen["recording_in_browser"] = video.evaluate("v => ({duration: v.duration, width: v.videoWidth})")
    stored = sorted(live_server.storage_dir.rglob("recordings/live-*/*.webm"))
    assert stored, f"no recording under {live_server.storage_dir}"
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        pytest.skip("ffprobe is not installed (apt-get install ffmpeg)")
    info = json.loads(
        subprocess.run(
            [ffprobe, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(stored[-1])],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
    )
    kinds = sorted(st["codec_type"] for st in info["streams"])
    # The teacher's camera and microphone and student A's, each its own stream, never re-encoded.
    assert kinds.count("video") >= 2 and kinds.count("audio") >= 2, info["streams"]
    assert float(info["format"]["duration"]) > 5, info["format"]
    seen["recording_streams"] = [(st["codec_type"], st["codec_name"]) for st in info["streams"]]


def test_refused_camera_and_microphone_are_explained(
    page_as: Callable[..., Any], live_server: LiveServer, live_course: LiveCourse
) -> None:
    # No permissions granted: Chromium refuses getUserMedia as a user's "Block" would.
    teacher = page_as("teacher1", locale="ko")
    room_url = _schedule_now(teacher, live_course.course_id, 2)
    denied = re.compile("^카메라나 마이크 사용이 거부되었습니다")
    error = teacher.get_by_role("alert").filter(has_text=denied)

    teacher.get_by_role("button", name="카메라·마이크 확인").click()
    expect(error).to_be_visible()
    check_accessible(teacher, "live room (camera refused)")

    # Joining anyway: the class works without a camera, and the page still says why none is sent.
    teacher.goto(room_url)
    teacher.get_by_role("button", name="수업 입장").click()
    expect(teacher.locator("#live-status")).to_have_text("수업에 참여했습니다.", timeout=20_000)
    expect(error).to_be_visible()
    assert teacher.evaluate("() => window.ieumLive.pub") is None
    teacher.get_by_role("button", name="나가기").click()
    expect(teacher.locator("#live-status")).to_have_text("수업에서 나왔습니다.")


# --- completion: what a student watched and attended becomes confirmed credit hours ----------------------


def _completion_course(live_server: LiveServer) -> tuple[int, datetime, int]:
    """A two-lesson course of teacher1's class: lesson 1 live, one minute long and starting now (the class is
    held below); lesson 2 recorded, its video the demo lecture's renditions copied into storage as the worker
    would have left them. Thresholds at the office's lowest (50 %) so a short class can count. Returns
    (course id, when the live lesson ends, recorded lesson id)."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from courses import completion, enrolment, live, workflow
    from courses.db import utcnow
    from courses.models import (
        ClassMembership,
        LessonKind,
        MemberRole,
        SchoolClass,
        Theme,
        User,
        Video,
        VideoState,
    )
    from media.storage.local import LocalStorage

    engine = create_engine(live_server.database_url)
    try:
        with Session(engine, expire_on_commit=False) as s:
            users = {
                u.username: u
                for u in s.scalars(select(User).where(User.username.in_(["teacher1", "admin1"])))
            }
            teacher = users["teacher1"]
            cls = s.scalars(
                select(SchoolClass)
                .join(ClassMembership, ClassMembership.class_id == SchoolClass.id)
                .where(ClassMembership.user_id == teacher.id, ClassMembership.role == MemberRole.teacher)
            ).one()
            theme = s.scalars(select(Theme).where(Theme.code == "character")).one()
            start = date.today() + timedelta(days=1)
            course = workflow.submit_request(
                s,
                teacher,
                workflow.CourseInput(
                    level="class",
                    theme_id=theme.id,
                    title=f"마음 읽기 교실 {uuid.uuid4().hex[:6]}",
                    goals="서로의 마음을 읽는다.",
                    delivery="blended",
                    lesson_count=2,
                    hours=2,
                    start_date=start,
                    end_date=start + timedelta(days=7),
                    instructor_mode="homeroom",
                    class_id=cls.id,
                ),
            )
            workflow.approve(s, users["admin1"], course, "좋습니다")
            workflow.start(s, teacher, course)
            enrolment.enrol_group(s, teacher, course, school_id=cls.school_id, class_id=cls.id)
            live_lesson, recorded = course.lessons
            assert (live_lesson.kind, recorded.kind) == (LessonKind.live, LessonKind.recorded)
            completion.update_rules(
                s,
                teacher,
                course,
                watch_pct=50,
                attend_pct=50,
                lessons={live_lesson.id: (True, 1), recorded.id: (True, 1)},
            )
            begins = utcnow().replace(microsecond=0)
            live_lesson.starts_at, live_lesson.ends_at = begins, begins + timedelta(seconds=60)
            live.sync_live_session(s, live_lesson)
            demo = s.scalars(select(Video).where(Video.state == VideoState.ready).order_by(Video.id)).first()
            assert demo is not None, "the demo lecture is not processed yet"
            video = Video(
                lesson_id=recorded.id,
                state=VideoState.ready,
                source_key=f"videos/copy-{recorded.id}/source",
                duration_s=demo.duration_s,
                width=demo.width,
                height=demo.height,
                has_audio=demo.has_audio,
                renditions=demo.renditions,
                progress_pct=100.0,
                ready_at=utcnow(),
            )
            s.add(video)
            s.flush()
            storage = LocalStorage(live_server.storage_dir, SECRET_KEY)
            for key in storage.list(demo.hls_prefix):
                info = storage.stat(key)
                storage.put_bytes(
                    video.hls_prefix + key[len(demo.hls_prefix) :], storage.get_bytes(key), info.content_type
                )
            s.commit()
            return course.id, live_lesson.ends_at, recorded.id
    finally:
        engine.dispose()


def test_a_school_confirms_credit_hours_for_what_a_student_watched_and_attended(
    page_as: Callable[..., Any], live_server: LiveServer, sfu: RunningSfu
) -> None:
    from tests.browser.test_lecture_player import _demo_lesson

    probe = page_as("student1", locale="ko")
    _demo_lesson(probe, live_server)  # the demo lecture is processed: its renditions are copied below
    course_id, ends_at, recorded_id = _completion_course(live_server)

    # The teacher opens the room and starts the class; student1 joins and stays past the lesson's end.
    teacher = _media_page(page_as, live_server, "teacher1")
    teacher.goto(f"/courses/{course_id}")
    with teacher.expect_navigation():
        teacher.get_by_role("link", name="1차시 실시간 수업 입장").click()
    room_url = str(teacher.url)
    teacher.get_by_role("button", name="수업 입장").click()
    expect(teacher.locator("#live-status")).to_have_text("수업에 참여했습니다.", timeout=20_000)
    student = _media_page(page_as, live_server, "student1")
    student.goto(f"/courses/{course_id}")
    expect(student.get_by_role("heading", name="내 학습")).to_be_visible()
    expect(student.locator(".progress-line")).to_contain_text("0 / 2 차시 이수")
    _join(student, room_url)
    teacher.get_by_role("button", name="수업 시작").click()
    expect(student.locator("#live-status")).to_have_text("수업이 시작되었습니다.", timeout=20_000)

    # Meanwhile, in another tab, student1 watches the recorded lesson through at 2×.
    lecture = page_as("student1", locale="ko")
    lecture.goto(f"/courses/{course_id}/lessons/{recorded_id}/watch")
    lecture.wait_for_function("() => document.getElementById('video').readyState >= 2", timeout=20_000)
    lecture.select_option("#speed", "2")
    lecture.evaluate("() => { const v = document.getElementById('video'); v.muted = true; return v.play(); }")
    lecture.wait_for_function("() => document.getElementById('video').ended", timeout=60_000)
    deadline = time.monotonic() + 15
    while (own := lecture.request.get(f"/api/v1/lessons/{recorded_id}/progress").json())["percent"] < 90:
        assert time.monotonic() < deadline, own
        time.sleep(0.5)

    # The one-minute class runs out; the teacher ends it and marks the course finished.
    left = (ends_at - datetime.now(UTC)).total_seconds() + 2
    teacher.wait_for_timeout(max(0.0, left) * 1000)
    teacher.get_by_role("button", name="수업 끝내기").click()
    with teacher.expect_navigation(url=re.compile(r"/live/\d+/attendance$"), timeout=15_000):
        teacher.get_by_role("dialog").get_by_role("button", name="예, 수업을 끝냅니다").click()
    expect(student.locator("#live-status")).to_have_text("수업이 끝났습니다.")
    deadline = time.monotonic() + 15  # attendance comes by webhook, in the background
    while True:
        rows = _attendance(teacher)
        row = next(
            (r for n, r in rows.items() if n.startswith("학생") or True and r.get("이수") == "이수"), None
        )
        if row is not None:
            break
        assert time.monotonic() < deadline, rows
        teacher.wait_for_timeout(500)
        teacher.reload()
    teacher.goto(f"/courses/{course_id}/completion")
    check_accessible(teacher, "completion matrix (teacher)")
    teacher.goto(f"/courses/{course_id}")
    teacher.get_by_text("운영 완료 처리", exact=True).click()  # it says what finishing means, then asks
    with teacher.expect_navigation():
        teacher.get_by_role("button", name="운영 완료 확인").click()
    expect(teacher.get_by_role("status").first).to_contain_text("운영 완료로 처리했습니다")

    # The school admin reviews the table and its warnings, confirms, and exports it.
    admin = page_as("admin1", locale="ko")
    admin.goto("/")
    with admin.expect_navigation():
        admin.get_by_role("link", name=re.compile("마음 읽기 교실")).first.click()
    with admin.expect_navigation():
        admin.get_by_role("link", name="이수 확인하기 (학생별 결과 보기)").click()
    expect(admin.get_by_role("heading", name="확인하기 전에 살펴볼 것")).to_be_visible()
    check_accessible(admin, "completion confirmation (school admin)")
    names = admin.locator("table.matrix tbody tr")
    done_row = names.filter(has=admin.locator(".pill.ok"))
    expect(done_row).to_have_count(1)  # student1 alone watched and attended
    admin.get_by_label("위 결과를 확인했고, 잠기는 내용을 이해했습니다.").check()
    with admin.expect_navigation():
        admin.get_by_role("button", name=re.compile(r"명 이수 확인$")).click()
    expect(admin.locator(".notice.success")).to_contain_text("이 기록은 잠겨 있습니다")
    with admin.expect_download() as dl:
        admin.get_by_role("link", name="엑셀(XLSX) 내려받기").click()
    from tests.export_support import read_xlsx

    heading, header, rows_x = read_xlsx(Path(dl.value.path()).read_bytes())
    assert heading[0] == "이수 확인" and header[-1] == "인정 시수"
    assert sorted(r[-1] for r in rows_x)[-1] == 2  # 2 credit hours for the one who completed

    # The transcript shows the hours; the parent sees them on their home page's link and the course page.
    with admin.expect_navigation():
        done_row.get_by_role("link").first.click()
    expect(admin.locator(".transcript")).to_contain_text("2시수")
    check_accessible(admin, "transcript (school admin)")
    parent = page_as("parent1", locale="ko")
    with parent.expect_navigation():
        parent.get_by_role("link", name=re.compile("이수 기록")).first.click()
    expect(parent.locator(".transcript")).to_contain_text("2시수")
    expect(parent.locator(".transcript")).to_contain_text("인성")
    check_accessible(parent, "transcript (parent)")
    parent.goto(f"/courses/{course_id}")
    expect(parent.locator(".learner")).to_contain_text("이수 확인 · 2시수")
    expect(parent.locator("a[href^='/live/']")).to_have_count(0)  # no join buttons for a parent
