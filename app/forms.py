"""Parse request input (form or JSON) into the domain's input objects; bad types become field errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from app.input import ID_MAX, INT64_MAX, INT64_MIN
from courses.errors import N_, Errors
from courses.workflow import MAX_LESSONS, CourseInput, LessonTimeInput, TargetInput, lesson_field

SEOUL = ZoneInfo("Asia/Seoul")
_ASCII_INT = re.compile(r"[+-]?[0-9]{1,20}")  # int() also takes '١٢' and '1_000'; forms and JSON do not
# What <input type="time"> sends: HH:MM, or HH:MM:SS with a step under a minute (no offset, ASCII digits).
_TIME = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?")
YEAR_MIN, YEAR_MAX = 2000, 2100  # school records: anything outside is a typo, and year 1 or 9999 overflows


def _get(data: Mapping[str, Any], key: str) -> Any:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else value


def parse_int(e: Errors, data: Mapping[str, Any], key: str, *, required: bool = True) -> int | None:
    """An integer field, or a field error."""
    value = _get(data, key)
    if value in (None, ""):
        if required:
            e.add(key, N_("값을 입력하세요."))
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        e.add(key, N_("숫자를 입력하세요."))
        return None
    if isinstance(value, str) and not _ASCII_INT.fullmatch(value):
        e.add(key, N_("숫자를 입력하세요."))
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        e.add(key, N_("숫자를 입력하세요."))
        return None
    if not INT64_MIN <= number <= INT64_MAX:
        e.add(key, N_("숫자가 너무 큽니다."))
        return None
    return number


def parse_id(e: Errors, data: Mapping[str, Any], key: str, *, required: bool = True) -> int | None:
    """A row id (a choice from a list): an integer that a 32-bit id column can hold, or a field error.

    PostgreSQL refuses a bigger number compared with an INTEGER column (an error, not "no row").
    """
    number = parse_int(e, data, key, required=required)
    if number is not None and not 1 <= number <= ID_MAX:
        e.add(key, N_("선택한 항목을 찾을 수 없습니다."))
        return None
    return number


def parse_date(e: Errors, data: Mapping[str, Any], key: str) -> date | None:
    """A YYYY-MM-DD field, or a field error."""
    value = _get(data, key)
    if value in (None, ""):
        return None
    try:
        parsed = date.fromisoformat(str(value))
    except ValueError:
        e.add(key, N_("날짜 형식(YYYY-MM-DD)이 올바르지 않습니다."))
        return None
    if not YEAR_MIN <= parsed.year <= YEAR_MAX:
        e.add(key, N_("%(min)d년~%(max)d년 사이의 날짜를 입력하세요."), min=YEAR_MIN, max=YEAR_MAX)
        return None
    return parsed


def parse_local_datetime(e: Errors, data: Mapping[str, Any], key: str) -> datetime | None:
    """A datetime-local field in Seoul time (or ISO with offset), as an aware datetime."""
    value = _get(data, key)
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        e.add(key, N_("날짜·시각 형식이 올바르지 않습니다."))
        return None
    if not YEAR_MIN <= parsed.year <= YEAR_MAX:
        e.add(key, N_("%(min)d년~%(max)d년 사이의 날짜를 입력하세요."), min=YEAR_MIN, max=YEAR_MAX)
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SEOUL)


def parse_time(e: Errors, data: Mapping[str, Any], key: str) -> time | None:
    """An HH:MM field (a time of day in Seoul), or a field error."""
    value = _get(data, key)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        e.add(key, N_("시각 형식(HH:MM)이 올바르지 않습니다."))
        return None
    return time.fromisoformat(value)


def parse_int_list(e: Errors, values: list[Any], key: str) -> list[int]:
    """A list of ids (checkboxes): the error, if any, is the field's."""
    out = []
    for value in values:
        number = parse_id(e, {key: value}, key)
        if number is not None:
            out.append(number)
    return out


def _lesson_row(
    e: Errors, data: Mapping[str, Any], number: int, keys: tuple[str, str, str]
) -> LessonTimeInput:
    date_key, start_key, end_key = keys
    row = LessonTimeInput(number)
    fields = {date_key: lesson_field("date", number), start_key: lesson_field("start", number)}
    fields[end_key] = lesson_field("end", number)
    sub = Errors()
    row.day = parse_date(sub, data, date_key)
    row.start = parse_time(sub, data, start_key)
    row.end = parse_time(sub, data, end_key)
    for key, (message, params) in sub.errors.items():
        e.add(fields[key], message, **params)
    return row


def _schedule(e: Errors, data: Mapping[str, Any]) -> list[LessonTimeInput]:
    """Lessons' dates and times. Form: lesson_date_N, lesson_start_N, lesson_end_N for N in 1..MAX_LESSONS
    (other numbers are never read); JSON: "schedule": [{"number", "date", "start", "end"}, ...]."""
    raw = data.get("schedule")
    if raw is not None:
        if not isinstance(raw, list) or len(raw) > MAX_LESSONS:
            e.add("schedule", N_("차시별 일정 형식이 올바르지 않습니다."))
            return []
        rows = []
        for item in raw:
            if not isinstance(item, Mapping):
                e.add("schedule", N_("차시별 일정 형식이 올바르지 않습니다."))
                return []
            number = parse_int(Errors(), item, "number")  # a bad number is the schedule's error
            if number is None or not 1 <= number <= MAX_LESSONS:
                e.add("schedule", N_("차시 번호가 올바르지 않습니다."))
                return []
            rows.append(_lesson_row(e, item, number, ("date", "start", "end")))
        return rows
    out = []
    for n in range(1, MAX_LESSONS + 1):
        keys = (lesson_field("date", n), lesson_field("start", n), lesson_field("end", n))
        if any(_get(data, k) not in (None, "") for k in keys):
            out.append(_lesson_row(e, data, n, keys))
    return out


def _targets(e: Errors, data: Mapping[str, Any], getlist: Any) -> list[TargetInput]:
    raw = data.get("targets")
    out: list[TargetInput] = []
    if isinstance(raw, list):  # JSON: [{"school_id": 1, "grade": 5, "class_id": null}, ...]
        for item in raw:
            if not isinstance(item, Mapping):
                e.add("targets", N_("대상 형식이 올바르지 않습니다."))
                return []
            sid = parse_id(e, item, "school_id")
            grade = parse_int(e, item, "grade", required=False)
            cid = parse_id(e, item, "class_id", required=False)
            if sid is None:
                return []
            out.append(TargetInput(sid, grade, cid))
        return out
    # Form: values "school:ID", "grade:SCHOOL:GRADE", "class:SCHOOL:CLASS" from checkboxes.
    for value in getlist("targets") if getlist else []:
        parts = str(value).split(":")
        try:
            ids = [int(p) if _ASCII_INT.fullmatch(p) else int("x") for p in parts[1:]]
            if not all(1 <= i <= ID_MAX for i in ids):  # ids (and grades) a 32-bit column can hold
                raise ValueError(value)
            if parts[0] == "school" and len(parts) == 2:
                out.append(TargetInput(ids[0]))
            elif parts[0] == "grade" and len(parts) == 3:
                out.append(TargetInput(ids[0], grade=ids[1]))
            elif parts[0] == "class" and len(parts) == 3:
                out.append(TargetInput(ids[0], class_id=ids[1]))
            else:
                raise ValueError(value)
        except ValueError:
            e.add("targets", N_("대상 형식이 올바르지 않습니다."))
            return []
    return out


def parse_course_input(data: Mapping[str, Any], getlist: Any = None) -> CourseInput:
    """Form or JSON → CourseInput; type errors raise ValidationError with every bad field named."""
    e = Errors()
    inp = CourseInput(
        level=str(_get(data, "level") or ""),
        theme_id=parse_id(e, data, "theme_id"),
        content_element_id=parse_id(e, data, "content_element_id", required=False),
        title=str(_get(data, "title") or ""),
        goals=str(_get(data, "goals") or ""),
        delivery=str(_get(data, "delivery") or ""),
        lesson_count=parse_int(e, data, "lesson_count"),
        hours=parse_int(e, data, "hours"),
        start_date=parse_date(e, data, "start_date"),
        end_date=parse_date(e, data, "end_date"),
        schedule_note=str(_get(data, "schedule_note") or ""),
        instructor_mode=str(_get(data, "instructor_mode") or ""),
        instructor_id=parse_id(e, data, "instructor_id", required=False),
        recording_policy=str(_get(data, "recording_policy") or "none"),
        class_id=parse_id(e, data, "class_id", required=False),
        completion_threshold_pct=parse_int(e, data, "completion_threshold_pct", required=False)
        or current_app.config["COMPLETION_ATTEND_PCT"],
        watch_threshold_pct=parse_int(e, data, "watch_threshold_pct", required=False)
        or current_app.config["COMPLETION_WATCH_PCT"],
        targets=_targets(e, data, getlist),
        schedule=_schedule(e, data),
    )
    e.raise_if_any()
    return inp
