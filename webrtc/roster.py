"""Who sees whom in a room's participant list, told at a cost linear in the room's size.

A class of 1,000 students must not cost a million messages when everyone joins at once, as it does when every
join is broadcast to everyone and every joiner gets the whole roster. :class:`RosterFeed` is the one place that
decides what each participant hears about the others:

* **Teachers and admins** get the full roster when they join (``participants``, ``"full": true``), then
  roster deltas *batched*: changes are collected for ``batch_s`` (0.3 s) and sent as one
  ``{"type":"participants_delta","joined":[...],"left":[user,...],"updated":[...]}``. Several updates of one
  user in a batch become one entry, an update after a join stays a join (both describe the participant as it
  is when the batch goes out), a join then a leave cancels out, a leave then a join (a reconnect) is an update.
  A raised hand reaches the teacher within one batch.
* **Students** get, when they join, the participants they need to see — teachers and admins, whoever is on
  stage, and themselves (``"full": false``) — with the room's participant and raised-hand counts. Afterwards
  they hear at once (``participant`` deltas) about those people only: a teacher joining, leaving or changing,
  a student going on stage (``updated``, ``on_stage`` true) or coming off it (``updated``, ``on_stage`` false:
  the page drops them from its list). Everything else reaches them as a coalesced
  ``{"type":"count","participants":N,"hands":H}``, at most once every ``count_s`` (2 s) and only when a
  number changed.

Each message is encoded once however many receive it. The join itself is O(1) for a student (teachers and
stage are few) and O(N) for a teacher (there are few of those too); the counts go out as one small message per
student per ``count_s``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .room import Participant, Room

BATCH_S = 0.3
COUNT_S = 2.0

# What a teacher's pending batch holds for one user (the participant object is read when the batch goes out).
_JOINED, _UPDATED, _LEFT = "joined", "updated", "left"


def encode(message: dict[str, Any]) -> str:
    """A message as the text frame sent for it (one encoding, however many receive it)."""
    return json.dumps(message, ensure_ascii=False)


def shown_to_students(p: Participant) -> bool:
    """Whether students see this participant in their list: teachers and admins, and whoever is on stage."""
    return p.is_teacher or p.on_stage


class RosterFeed:
    """One room's participant list as each participant is told it (see the module docstring)."""

    def __init__(self, room: Room, *, batch_s: float = BATCH_S, count_s: float = COUNT_S) -> None:
        self.room = room
        self.batch_s = batch_s
        self.count_s = count_s
        self._shown: dict[str, Participant] = {}  # teachers and on-stage participants, by user
        self._hands: set[str] = set()  # users with a raised hand
        self._pending: dict[str, tuple[str, Participant]] = {}  # the teachers' next batch, by user
        self._batch_timer: asyncio.TimerHandle | None = None
        self._count_timer: asyncio.TimerHandle | None = None
        self._count_sent: tuple[int, int] | None = None
        self._count_sent_at = float("-inf")
        self.deltas_sent = 0  # participants_delta messages (each to every teacher)
        self.counts_sent = 0  # count messages (each to every student)

    # --- what a newcomer is told ----------------------------------------------------------------

    def counts(self) -> tuple[int, int]:
        """(participants in the room, raised hands)."""
        return len(self.room.participants), len(self._hands)

    def welcome(self, p: Participant) -> dict[str, Any]:
        """The ``participants`` message for someone who just joined (after ``Room.add``)."""
        n, hands = self.counts()
        if p.is_teacher:
            people = [q.describe() for q in self.room.participants.values()]
        else:
            people = [q.describe() for q in self._shown.values() if q is not p]
            people.append(p.describe())
        return {
            "type": "participants",
            "participants": people,
            "full": p.is_teacher,
            "count": n,
            "hands": hands,
        }

    # --- changes, as the classroom reports them --------------------------------------------------

    def joined(self, p: Participant) -> None:
        """Someone came in (already in ``room.participants``; already welcomed)."""
        self._note_hand(p)
        self._queue(p, _JOINED)
        if shown_to_students(p):
            self._shown[p.user] = p
            self._to_students({"type": "participant", "event": "joined", "participant": p.describe()}, skip=p)
        self._count_changed()

    def left(self, p: Participant) -> None:
        """Someone left (already gone from ``room.participants``)."""
        if self.room.participants.get(p.user) is None:
            self._hands.discard(p.user)
        self._queue(p, _LEFT)
        if self._shown.get(p.user) is p:
            del self._shown[p.user]
            self._to_students({"type": "participant", "event": "left", "participant": p.describe()})
        self._count_changed()

    def updated(self, p: Participant) -> None:
        """Something about a participant changed (hand, stage, lobby, mute, what they publish)."""
        if p.left or self.room.participants.get(p.user) is not p:
            return
        self._note_hand(p)
        self._queue(p, _UPDATED)
        was, now = p.user in self._shown, shown_to_students(p)
        if now:
            self._shown[p.user] = p
        else:
            self._shown.pop(p.user, None)
        if was or now:
            self._to_students({"type": "participant", "event": "updated", "participant": p.describe()})
        self._count_changed()

    def close(self) -> None:
        """Stop the timers (the room is gone); nothing more is sent."""
        for timer in (self._batch_timer, self._count_timer):
            if timer is not None:
                timer.cancel()
        self._batch_timer = self._count_timer = None
        self._pending.clear()

    # --- teachers: batched deltas ----------------------------------------------------------------

    def _queue(self, p: Participant, event: str) -> None:
        before = self._pending.get(p.user)
        kind = before[0] if before is not None else None
        if event == _LEFT:
            if kind == _JOINED:
                del self._pending[p.user]  # came and went within one batch: the teachers never knew
                return
            self._pending[p.user] = (_LEFT, p)
        elif event == _JOINED:
            # A leave then a join in one batch is a reconnect: the teachers had them and still do.
            self._pending[p.user] = (_UPDATED if kind in (_LEFT, _UPDATED) else _JOINED, p)
        else:
            self._pending[p.user] = (kind if kind == _JOINED else _UPDATED, p)
        if self._batch_timer is None:
            self._batch_timer = asyncio.get_running_loop().call_later(self.batch_s, self.flush_batch)

    def flush_batch(self) -> None:
        """Send the teachers the changes collected so far, as one ``participants_delta`` (if any)."""
        self._batch_timer = None
        pending, self._pending = self._pending, {}
        joined: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        left: list[str] = []
        for user, (kind, p) in pending.items():
            if kind == _LEFT:
                left.append(user)
            elif self.room.participants.get(user) is p:
                (joined if kind == _JOINED else updated).append(p.describe())
        if not (joined or updated or left):
            return
        teachers = [q for q in self._shown.values() if q.is_teacher]
        if not teachers:
            return
        text = encode({"type": "participants_delta", "joined": joined, "left": left, "updated": updated})
        for q in teachers:
            q.send_encoded(text)
        self.deltas_sent += 1

    # --- students: a few people at once, the rest as a coalesced count -----------------------------

    def _to_students(self, message: dict[str, Any], *, skip: Participant | None = None) -> None:
        text = encode(message)
        for q in self.room.participants.values():
            if q is not skip and not q.is_teacher:
                q.send_encoded(text)

    def _note_hand(self, p: Participant) -> None:
        if p.hand_raised:
            self._hands.add(p.user)
        else:
            self._hands.discard(p.user)

    def _count_changed(self) -> None:
        if self._count_timer is not None:
            return
        delay = max(0.0, self._count_sent_at + self.count_s - time.monotonic())
        self._count_timer = asyncio.get_running_loop().call_later(delay, self.flush_count)

    def flush_count(self) -> None:
        """Send the students the participant and raised-hand counts, if they changed since the last time."""
        self._count_timer = None
        counts = self.counts()
        if counts == self._count_sent:
            return
        self._count_sent, self._count_sent_at = counts, time.monotonic()
        self._to_students({"type": "count", "participants": counts[0], "hands": counts[1]})
        self.counts_sent += 1
