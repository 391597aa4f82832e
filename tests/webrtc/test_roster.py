"""The roster feed: signalling that grows linearly with the room (webrtc/roster.py).

Unit level with participants that record what they are sent (no sockets, no media), so a join storm of 1,000
runs in about a second; then once through the real SFU's WebSocket.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from sfu_helpers import RunningSfu, make_token

from contracts.tokens import JoinClaims
from webrtc.client import SfuClient
from webrtc.room import Participant, Room
from webrtc.roster import RosterFeed


@dataclass(eq=False)
class Recorder(Participant):
    """A participant whose outgoing messages are kept, decoded, instead of written to a socket."""

    inbox: list[dict[str, Any]] = field(default_factory=list)

    def send_encoded(self, text: str) -> None:
        if not self.left:
            self.inbox.append(json.loads(text))

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [m for m in self.inbox if m["type"] == type_]


def _person(user: str, role: str = "student") -> Recorder:
    publish = ("audio", "video", "screen") if role == "teacher" else ()
    claims = JoinClaims("r", user, f"이름 {user}", role, publish, 0, 300, f"j-{user}")
    return Recorder(claims)


def _room(batch_s: float = 0.05, count_s: float = 0.3) -> Room:
    room = Room("r")
    room.feed = RosterFeed(room, batch_s=batch_s, count_s=count_s)
    return room


def _join(room: Room, p: Participant) -> None:
    """What signalling.websocket and Classroom.joined do."""
    room.add(p)
    p.send(room.feed.welcome(p))
    room.feed.joined(p)


def _leave(room: Room, p: Participant) -> None:
    """What Sfu.leave and Classroom.left do."""
    p.left = True
    room.discard(p)
    room.feed.left(p)


async def test_a_join_storm_of_1000_costs_each_student_a_few_messages_and_the_teacher_a_few_batches() -> None:
    room = _room(batch_s=0.05, count_s=0.3)
    teacher = _person("t", "teacher")
    _join(room, teacher)
    students = [_person(f"s{i}") for i in range(1000)]
    loop = asyncio.get_running_loop()
    began = loop.time()
    for chunk in range(20):  # 50 joins every 60 ms
        for s in students[chunk * 50 : (chunk + 1) * 50]:
            _join(room, s)
        await asyncio.sleep(0.06)
    await asyncio.sleep(0.4)  # the last batch and the last count go out
    elapsed = loop.time() - began

    # Students: their welcome, then only counts (no one else's join), at most one per count_s.
    most_counts = int(elapsed / 0.3) + 2
    for s in students:
        welcome, *rest = s.inbox
        assert welcome["type"] == "participants" and welcome["full"] is False
        assert [p["user"] for p in welcome["participants"]] == ["t", s.user]
        assert {m["type"] for m in rest} <= {"count"}, rest[:3]
        assert len(rest) <= most_counts
    total_to_students = sum(len(s.inbox) for s in students)
    assert total_to_students <= 1000 * (1 + most_counts)  # O(N); broadcasting every join would be ~500,000
    assert students[0].of_type("count")[-1] == {"type": "count", "participants": 1001, "hands": 0}
    assert students[-1].inbox[0]["count"] == 1001  # the last one in was told the whole count at once

    # The teacher: the roster once, then one delta per batch, not one message per join.
    assert teacher.inbox[0]["type"] == "participants" and teacher.inbox[0]["full"] is True
    deltas = teacher.of_type("participants_delta")
    assert len(teacher.inbox) == 1 + len(deltas)
    assert 10 <= len(deltas) <= 30, len(deltas)  # ~20 chunks, each collected into one batch
    joined = [p["user"] for d in deltas for p in d["joined"]]
    # Every student once (and the teacher's own join, which every teacher's batch carries, itself included).
    assert sorted(joined) == sorted(["t"] + [s.user for s in students])
    assert room.feed.deltas_sent == len(deltas)

    # A student raising a hand reaches the teacher within one batch; other students see the count only.
    students[5].hand_raised = True
    room.feed.updated(students[5])
    mark = len(students[6].inbox)
    await asyncio.sleep(0.12)
    (hand,) = teacher.of_type("participants_delta")[len(deltas) :]
    assert hand["updated"] == [students[5].describe()] and hand["updated"][0]["hand_raised"] is True
    await asyncio.sleep(0.35)
    assert students[6].inbox[mark:] == [{"type": "count", "participants": 1001, "hands": 1}]
    room.feed.close()


async def test_a_batch_coalesces_updates_and_cancels_a_join_then_leave() -> None:
    room = _room(batch_s=60.0)  # flushed by hand below
    teacher, other_teacher = _person("t", "teacher"), _person("t2", "teacher")
    old = {u: _person(u) for u in ("s1", "s4", "s5")}
    _join(room, teacher)
    for p in old.values():
        _join(room, p)
    room.feed.flush_batch()
    teacher.inbox.clear()
    _join(room, other_teacher)

    old["s1"].hand_raised = True
    room.feed.updated(old["s1"])
    old["s1"].muted_by = "t"
    room.feed.updated(old["s1"])  # two updates: one entry, as it is now
    s2 = _person("s2")
    _join(room, s2)
    s2.hand_raised = True
    room.feed.updated(s2)  # joined, then updated: still a join, with the hand up
    s3 = _person("s3")
    _join(room, s3)
    _leave(room, s3)  # came and went: the teachers never hear of s3
    _leave(room, old["s4"])
    again = _person("s4")
    _join(room, again)  # a reconnect within the batch: an update of the new session
    _leave(room, old["s5"])
    room.feed.flush_batch()

    (delta,) = teacher.inbox
    assert delta["type"] == "participants_delta"
    assert [p["user"] for p in delta["joined"]] == ["t2", "s2"]
    assert delta["joined"][1]["hand_raised"] is True
    assert sorted(p["user"] for p in delta["updated"]) == ["s1", "s4"]
    s1 = next(p for p in delta["updated"] if p["user"] == "s1")
    assert s1["hand_raised"] is True and s1["muted"] is True
    assert delta["left"] == ["s5"]
    assert "s3" not in json.dumps(delta)
    assert other_teacher.inbox[-1] == delta  # every teacher gets the same batch
    room.feed.flush_batch()  # nothing new: nothing sent
    assert len(teacher.inbox) == 1
    room.feed.close()


async def test_the_stage_is_announced_to_students_and_other_students_are_not() -> None:
    room = _room(batch_s=60.0, count_s=60.0)
    teacher, a, b = _person("t", "teacher"), _person("a"), _person("b")
    for p in (teacher, a, b):
        _join(room, p)
    b_welcome = b.inbox[0]
    assert [p["user"] for p in b_welcome["participants"]] == ["t", "b"]  # not student a
    assert (b_welcome["count"], b_welcome["hands"]) == (3, 0)
    mark = len(b.inbox)

    a.hand_raised = True
    room.feed.updated(a)
    assert b.inbox[mark:] == []  # a's hand is the teacher's business (and the count's)

    a.hand_raised, a.on_stage = False, True
    room.feed.updated(a)
    (on,) = b.inbox[mark:]
    assert on["type"] == "participant" and on["event"] == "updated"
    assert on["participant"]["user"] == "a" and on["participant"]["on_stage"] is True

    late = _person("late")
    _join(room, late)
    assert [p["user"] for p in late.inbox[0]["participants"]] == ["t", "a", "late"]  # the stage, at once

    a.on_stage = False
    room.feed.updated(a)
    off = b.inbox[-1]
    assert (
        off["event"] == "updated"
        and off["participant"] == a.describe()
        and not off["participant"]["on_stage"]
    )
    mark = len(b.inbox)
    a.hand_raised = True
    room.feed.updated(a)  # off stage again: students hear nothing more of a
    assert b.inbox[mark:] == []

    # A teacher joining or leaving is announced to the students at once.
    t2 = _person("t2", "teacher")
    _join(room, t2)
    _leave(room, t2)
    assert [(m["event"], m["participant"]["user"]) for m in b.inbox[mark:]] == [
        ("joined", "t2"),
        ("left", "t2"),
    ]
    room.feed.close()


async def test_counts_are_coalesced_and_only_sent_when_they_change() -> None:
    room = _room(batch_s=60.0, count_s=0.2)
    teacher, watcher = _person("t", "teacher"), _person("w")
    _join(room, teacher)
    _join(room, watcher)
    await asyncio.sleep(0.05)
    first = watcher.of_type("count")
    assert first == [{"type": "count", "participants": 2, "hands": 0}]
    for i in range(30):
        _join(room, _person(f"x{i}"))
    await asyncio.sleep(0.05)
    assert len(watcher.of_type("count")) == 1  # still inside the 0.2 s window
    await asyncio.sleep(0.25)
    assert watcher.of_type("count")[1:] == [{"type": "count", "participants": 32, "hands": 0}]
    room.feed.updated(watcher)  # nothing changed in the numbers
    await asyncio.sleep(0.3)
    assert len(watcher.of_type("count")) == 2
    assert teacher.of_type("count") == []  # teachers count their own roster
    room.feed.close()


async def test_through_the_sfu_a_teacher_gets_the_raised_hand_in_a_delta(sfu: RunningSfu) -> None:
    async with aiohttp.ClientSession() as session:
        teacher = SfuClient(sfu.url, make_token("t1", "teacher"), session=session)
        s1 = SfuClient(sfu.url, make_token("s1"), session=session)
        s2 = SfuClient(sfu.url, make_token("s2"), session=session)
        try:
            await teacher.connect()
            roster = await teacher.wait_type("participants")
            assert roster["full"] is True and [p["user"] for p in roster["participants"]] == ["t1"]
            await s1.connect()
            await s2.connect()
            welcome = await s2.wait_type("participants")
            assert [p["user"] for p in welcome["participants"]] == ["t1", "s2"]
            assert welcome["count"] == 3 and welcome["full"] is False
            await s1.send({"type": "raise_hand"})
            delta = await teacher.wait_for(
                lambda m: (
                    m["type"] == "participants_delta"
                    and any(p["user"] == "s1" and p["hand_raised"] for p in m["joined"] + m["updated"])
                )
            )
            assert delta["left"] == []
            count = await s2.wait_for(lambda m: m["type"] == "count" and m["hands"] == 1, timeout=5)
            assert count == {"type": "count", "participants": 3, "hands": 1}
            assert not [m for m in s2.messages if m["type"] == "participant"]  # s1 is no concern of s2's

            await teacher.send({"type": "stage", "user": "s1", "on": True})
            on = await s2.wait_for(lambda m: m["type"] == "participant" and m["participant"]["user"] == "s1")
            assert on["participant"]["on_stage"] is True and on["participant"]["hand_raised"] is False
            await s2.wait_for(lambda m: m == {"type": "stage", "user": "s1", "on": True})
            await s2.close()
            gone = await teacher.wait_for(lambda m: m["type"] == "participants_delta" and m["left"] == ["s2"])
            assert gone["joined"] == []
        finally:
            for c in (s2, s1, teacher):
                await c.close()
