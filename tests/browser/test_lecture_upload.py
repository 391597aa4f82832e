"""A teacher's upload in headless Chromium, through upload.js: add a recorded lesson from the course page, pick
a file, lose the connection for one part and close the tab, pick the same file again in a new tab — only the
missing part is sent — and the processed video then plays for an enrolled student.

The file is a real generated clip padded with zeros to three 8 MiB parts (MP4 readers ignore what follows
the last box), so the resumed upload is also a playable lecture."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from media.ffmpeg import lavfi_clip_args
from media.tools import ffmpeg_binary
from tests.browser.conftest import LiveServer
from tests.browser.support import check_accessible, login

pytestmark = pytest.mark.browser
PART = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def padded_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("upload") / "강의 녹화.mp4"
    subprocess.run(
        lavfi_clip_args(ffmpeg_binary(), str(path), seconds=4, width=640, height=360), check=True, timeout=120
    )
    with path.open("ab") as f:
        f.write(b"\0" * (2 * PART + PART // 2 - path.stat().st_size))
    return path


def _demo_course(page: Any) -> int:
    for c in page.request.get("/api/v1/courses").json()["items"]:
        if "실시간" in c["title"]:
            return int(c["id"])
    raise AssertionError("no demo course")


def test_a_teachers_upload_resumes_after_a_closed_tab_and_plays_for_a_student(
    new_context: Any, live_server: LiveServer, padded_clip: Path
) -> None:
    ctx = new_context()
    page = ctx.new_page()
    login(page, "teacher1")
    course_id = _demo_course(page)
    page.goto(f"/courses/{course_id}")
    page.get_by_text("녹화 강의 차시 추가").click()
    page.fill("#new-lesson-title", "업로드 시험 강의")
    page.get_by_role("button", name="차시 추가").click()
    page.wait_for_url(re.compile(r"/lessons/\d+/watch$"))
    lesson_url = page.url
    check_accessible(page, "lesson page (teacher, no video yet)")

    # First tab: part 3 cannot get through (the connection drops for it); parts 1 and 2 are stored.
    puts: list[str] = []

    def drop_part_3(route: Any) -> None:
        url = route.request.url
        if route.request.method == "PUT":
            puts.append(url)
            if "partNumber=3" in url:
                route.abort()
                return
        route.continue_()

    page.route("**/media/**", drop_part_3)
    page.set_input_files("#upload-file", str(padded_clip))
    page.get_by_role("button", name="올리기", exact=True).click()
    page.wait_for_function(
        "() => /다시 시도/.test(document.getElementById('upload-text').textContent)", timeout=20_000
    )
    lesson_id = re.search(r"/lessons/(\d+)/watch", lesson_url).group(1)  # type: ignore[union-attr]
    video_id = page.evaluate(f"() => JSON.parse(localStorage.getItem('ieum-upload-{lesson_id}')).videoId")
    deadline = time.monotonic() + 20
    stored: list[int] = []
    while time.monotonic() < deadline:
        stored = [
            p["part_number"]
            for p in page.request.get(f"/api/v1/videos/{video_id}/upload").json()["uploaded_parts"]
        ]
        if stored == [1, 2]:
            break
        page.wait_for_timeout(200)
    assert stored == [1, 2] and any("partNumber=3" in u for u in puts)
    page.close()  # the tab is closed mid-upload

    # A new tab: the page remembers the unfinished upload; the same file resumes with part 3 only.
    page = ctx.new_page()
    page.goto(lesson_url)
    assert "이어서" in page.locator("#upload-text").inner_text()
    resumed_puts: list[str] = []
    page.route(
        "**/media/**",
        lambda route: (
            resumed_puts.append(route.request.url) if route.request.method == "PUT" else None,
            route.continue_(),
        ),
    )
    page.set_input_files("#upload-file", str(padded_clip))
    page.get_by_role("button", name="올리기", exact=True).click()
    page.wait_for_function(
        "() => /변환|완료/.test(document.getElementById('upload-text').textContent)", timeout=30_000
    )
    assert [re.search(r"partNumber=(\d+)", u).group(1) for u in resumed_puts] == ["3"]  # type: ignore[union-attr]
    # The page reloads into the processing state, then to the player once the worker is done.
    page.wait_for_selector("#video", timeout=90_000)
    check_accessible(page, "lesson page (teacher, ready)")

    student = new_context().new_page()
    login(student, "student1")
    student.goto(lesson_url)
    student.wait_for_function("() => document.getElementById('video').readyState >= 2", timeout=20_000)
    student.evaluate("() => { const v = document.getElementById('video'); v.muted = true; return v.play(); }")
    student.wait_for_function("() => document.getElementById('video').currentTime >= 1", timeout=20_000)
