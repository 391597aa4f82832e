"""A recorded lecture in headless Chromium: the demo lesson (processed by the real worker path when the server
starts) played through hls.js at 2× with a seek forward, and the credit the server gave checked against what
the browser itself says was played (HTMLMediaElement.played, the media element's own union of played ranges).

The skipped part must not be credited, the credit must match the played ranges to within the reporter's
timeupdate granularity, and it can never exceed 2 × the wall-clock time plus the slack. axe checks the page.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.browser.support import check_accessible, login

pytestmark = pytest.mark.browser

PLAYED_JS = """() => { const v = document.getElementById('video'); const out = [];
  for (let i = 0; i < v.played.length; i++) out.push([v.played.start(i), v.played.end(i)]);
  return out; }"""


def _demo_lesson(page: Any, live_server: LiveServer) -> tuple[int, int]:
    """The demo course's recorded lesson, once its video is ready (the server processes it after start-up)."""
    deadline = time.monotonic() + 150
    while True:
        courses = page.request.get("/api/v1/courses").json()["items"]
        for c in courses:
            detail = page.request.get(f"/api/v1/courses/{c['id']}").json()
            for lesson in detail["lessons"]:
                if lesson["kind"] == "recorded" and lesson["video_state"] == "ready":
                    return c["id"], lesson["id"]
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the demo lecture never became ready:\n{live_server.log.read_text()[-3000:]}"
            )
        time.sleep(2)


def test_a_lecture_played_at_2x_with_a_seek_credits_exactly_what_was_played(new_context, live_server):
    page = new_context().new_page()
    login(page, "student1")
    course_id, lesson_id = _demo_lesson(page, live_server)
    page.goto(f"/courses/{course_id}/lessons/{lesson_id}/watch")
    video = page.locator("#video")
    page.wait_for_function("() => document.getElementById('video').readyState >= 2", timeout=20_000)
    check_accessible(page, "lecture page (student)")
    page.select_option("#speed", "2")
    started = time.monotonic()
    page.evaluate("() => { const v = document.getElementById('video'); v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.getElementById('video').currentTime >= 6", timeout=20_000)
    page.evaluate("() => { document.getElementById('video').currentTime = 14; }")  # skip 6–14 s
    # The seek shows that moment's thumbnail from the sprite sheet.
    page.wait_for_function("() => !document.getElementById('seek-preview').hidden", timeout=5_000)
    assert "sprite.jpg" in (page.locator("#seek-preview").get_attribute("style") or "")
    page.wait_for_function("() => document.getElementById('video').currentTime >= 18", timeout=20_000)
    page.evaluate("() => document.getElementById('video').pause()")
    wall = time.monotonic() - started
    played = page.evaluate(PLAYED_JS)
    assert float(page.evaluate("() => document.getElementById('video').playbackRate")) == 2.0
    # The pause beat is on its way; wait for the server to have it.
    deadline = time.monotonic() + 10
    own: dict[str, Any] = {}
    while time.monotonic() < deadline:
        own = page.request.get(f"/api/v1/lessons/{lesson_id}/progress").json()
        if own["watched_s"] >= 9:
            break
        time.sleep(0.3)
    browser_played = sum(e - s for s, e in played)
    assert 9 <= browser_played <= 13, played  # about 6 s + 4 s of media
    # What the server credits is what the browser played, to within the reporter's timeupdate steps.
    assert abs(own["watched_s"] - browser_played) <= 0.75, (own, played)
    assert own["watched_s"] <= 2 * wall + 2.0 + 0.01
    # The skipped stretch is not in the stored segments.
    for s, e in own["segments"]:
        assert e <= 6.8 or s >= 13.5, own["segments"]
    assert own["played_segments"].startswith("0.000[.]")
    # The page shows the student their percentage and the bar of watched parts.
    page.reload()
    assert page.locator("#watch-percent").inner_text() == f"{own['percent']:g}" or page.locator(
        "#watch-percent"
    ).inner_text() == str(own["percent"])
    assert page.locator("#watched-bar span").count() == len(own["segments"])
    # The teacher's report lists the student with the same watched time.
    teacher = new_context().new_page()
    login(teacher, "teacher1")
    teacher.goto(f"/courses/{course_id}/lessons/{lesson_id}/progress")
    check_accessible(teacher, "lecture progress report")
    chart = json.loads(teacher.locator("#chart-data").text_content() or "{}")
    assert chart["datasets"][0]["data"][0] >= 1
    del video
