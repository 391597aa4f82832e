"""iCalendar text: escaping, folding, UTC times (RFC 5545)."""

from __future__ import annotations

from datetime import UTC, datetime

from courses.calendar import Event, to_ics


def test_events_are_escaped_folded_and_in_utc() -> None:
    e = Event(
        uid="lesson-7@ieum",
        starts=datetime(2026, 12, 2, 1, 0, tzinfo=UTC),
        ends=datetime(2026, 12, 2, 1, 40),  # naive: UTC, as the database keeps it
        summary="안전, 건강; 생활\\교실",
        description="첫 줄\n둘째 줄 " + "가" * 40,
        url="https://ieum.example/courses/3",
    )
    text = to_ics([e], name="이음 · 학생", now=datetime(2026, 12, 1, tzinfo=UTC))
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and text.endswith("END:VCALENDAR\r\n")
    unfolded = text.replace("\r\n ", "")
    assert "DTSTART:20261202T010000Z" in unfolded and "DTEND:20261202T014000Z" in unfolded
    assert "SUMMARY:안전\\, 건강\\; 생활\\\\교실" in unfolded
    assert "DESCRIPTION:첫 줄\\n둘째 줄 " in unfolded
    for line in text.split("\r\n"):
        assert len(line.encode()) <= 75, line  # folded at 75 octets, never inside a character
        line.encode().decode()
