"""The dashboards' SQL agrees with courses.completion on the same rows (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from courses import completion, dashboards, enrolment, workflow
from courses.errors import Forbidden
from tests.completion_support import activity_course, attend, watch


def _students(session, world, course):  # type: ignore[no-untyped-def]
    return [row[0] for row in enrolment.list_enrolled(session, world["teacher"], course)]


def test_behind_and_completed_match_the_completion_rules(session, world) -> None:
    w = world
    course, parts = activity_course(session, w)
    s = _students(session, w, course)
    watch(session, s[0], parts["recorded"], 95)
    attend(session, s[0], parts["live"], 36)  # done with both held lessons
    watch(session, s[1], parts["recorded"], 95)  # the live one missing
    attend(session, s[2], parts["live"], 10)  # too little
    m = completion.build_matrix(session, course)
    d = dashboards.completion_dashboard(session, w["school_admin"])
    assert d.level == "class" and d.totals["enrolments"] == 5
    assert d.totals["behind"] == len(m.behind()) == 4
    assert {b[2] for b in d.behind} == {r.name for r in m.behind()}
    assert d.distribution == [3, 0, 1, 1]  # nothing (2 of them tried too little), under half, half, all
    workflow.complete(session, w["teacher"], course)
    completion.confirm(session, w["school_admin"], course)
    d = dashboards.completion_dashboard(session, w["office_admin"])
    assert d.level == "school"
    row = next(r for r in d.rows if r[0] == "가람초")
    # school, students, enrolments, completed, not completed, rate, behind, hours
    assert row[1:] == [5, 5, 1, 4, 20.0, 0, 4]
    assert (
        dashboards.completion_dashboard(
            session, w["office_admin"], dashboards.Filters(school_id=w.school.id)
        ).level
        == "class"
    )
    assert dashboards.completion_dashboard(session, w["teacher"]).totals["completed"] == 1
    assert dashboards.completion_dashboard(session, w["teacher_b"]).totals["enrolments"] == 0
    assert dashboards.completion_dashboard(session, w["other_office_admin"]).totals["enrolments"] == 0


@pytest.mark.parametrize("who", ["student", "parent", "instructor"])
def test_dashboards_are_for_schools_and_offices(session, world, who) -> None:
    with pytest.raises(Forbidden):
        dashboards.completion_dashboard(session, world[who])
