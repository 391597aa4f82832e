"""The demo's "later today" lesson stays on today's date in Seoul for as long as a slot is left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from courses.seed import SEOUL, first_lesson_later_today

# (now in Seoul, the lesson's start in Seoul)
CASES = [
    ("2026-12-03 09:17", "2026-12-03 11:00"),
    ("2026-12-03 21:59", "2026-12-03 23:00"),  # ends 23:40: still today
    ("2026-12-03 22:10", "2026-12-03 23:20"),  # 00:00 would be tomorrow: the last slot before midnight
    ("2026-12-03 23:05", "2026-12-03 23:20"),
    ("2026-12-03 23:06", "2026-12-04 01:00"),  # no slot left 15 minutes ahead: tomorrow
    ("2026-12-03 23:59", "2026-12-04 01:00"),
    ("2026-12-04 00:30", "2026-12-04 02:00"),
]


@pytest.mark.parametrize(("now", "start"), CASES)
def test_the_first_lesson_is_later_today_while_a_slot_is_left(now: str, start: str) -> None:
    local = datetime.strptime(now, "%Y-%m-%d %H:%M").replace(tzinfo=SEOUL)
    got = first_lesson_later_today(local.astimezone(UTC)).astimezone(SEOUL)
    assert got.strftime("%Y-%m-%d %H:%M") == start
    assert got - local >= timedelta(minutes=15)
