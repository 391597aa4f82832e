"""The stage holds at most ``MAX_STAGE`` students: a fifth is refused to the teacher, and nothing changes."""

from __future__ import annotations

from sfu_helpers import RunningSfu, make_token

from webrtc.classroom import MAX_STAGE
from webrtc.client import SfuClient

# (student, on, accepted): four go up, a fifth is refused, one comes down, then a new one fits again.
STAGE_STEPS = [
    ("s1", True, True),
    ("s2", True, True),
    ("s3", True, True),
    ("s4", True, True),
    ("s5", True, False),
    ("s2", False, True),
    ("s5", True, True),
    ("s6", True, False),
    ("s2", True, False),
]


async def test_the_stage_holds_four_students(sfu: RunningSfu) -> None:
    assert MAX_STAGE == 4
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"))
    students = {f"s{i}": SfuClient(sfu.url, make_token(f"s{i}")) for i in range(1, 7)}
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        for s in students.values():
            await s.connect()
        room = sfu.sfu.rooms["live-42"]
        expected: set[str] = set()
        for user, on, accepted in STAGE_STEPS:
            start = len(teacher.messages)
            await teacher.send({"type": "stage", "user": user, "on": on})
            reply = await teacher.wait_for(
                lambda m, u=user: (m["type"] == "stage" and m["user"] == u) or m["type"] == "error",
                start=start,
            )
            if accepted:
                assert reply == {"type": "stage", "user": user, "on": on}, (user, on)
                expected = expected | {user} if on else expected - {user}
            else:
                assert reply == {
                    "type": "error",
                    "code": "stage_full",
                    "message": "at most 4 students can be on stage; take one off first",
                }, (user, on)
            assert {u for u, p in room.participants.items() if p.on_stage} == expected, (user, on)
        assert len(expected) == MAX_STAGE
        # Nobody else heard about the refused ones.
        stage_news = [(m["user"], m["on"]) for m in students["s1"].messages if m["type"] == "stage"]
        assert ("s6", True) not in stage_news and stage_news.count(("s5", True)) == 1
        assert [m for m in students["s6"].messages if m["type"] == "error"] == []
    finally:
        for c in (*students.values(), teacher):
            await c.close()
