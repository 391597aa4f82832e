"""Who receives which track: the SFU's one fan-out decision, and keeping every subscriber in line with it.

The policy today: every published track goes to everyone in the room who is out of the lobby, except its
owner — but a gallery camera (a student's camera off stage, ``SourceTrack.gallery``) goes only to the teachers
who have that student on their gallery page (the ``gallery`` message, at most :data:`GALLERY_PAGE` students,
:meth:`Router.look`), so a class of 1,000 costs each student's camera one stream per looking teacher, not 999.
(Who may publish at all — the teacher, students on stage, students' cameras off stage — is a classroom rule,
``room.Participant.may_publish``; the router forwards whatever is published.) :func:`wanted_by` is that
decision and nothing else in ``webrtc/`` decides it; :class:`Router` applies it. Whatever changes what the
policy reads (a track published or dropped, someone joining, leaving, leaving the lobby, going on or off
stage) calls :meth:`Router.resync_room`; :meth:`Router.sync` brings one subscriber's forwarded set in line
through its subscriber peer (``peers.Subscriber``), which binds and unbinds tracks and renegotiates. One
renegotiation is in flight per subscriber at a time; a change meanwhile is applied once it is answered.

Audio has a second, per-packet decision, also here: :func:`audible` picks whose microphone is forwarded at
all — the teachers', and of the other unmuted speakers (students on stage) the :data:`LOUDEST` loudest by
their RFC 6464 levels, with a margin so two similar voices do not flap. A muted speaker is never audible.
:meth:`Router.update_audio` writes the answer onto each audio track (``SourceTrack.muted``), which the
forwarding path only obeys; it is called when someone is muted or unmuted, publishes, or their level moves.

Where the next changes go:

* simulcast layers: :func:`wanted_by`'s answer per track becomes a (track, layer) choice, made here from
  what the subscriber can take; the subscriber peer then binds the chosen layer's SSRC.
* remote subscribers (another SFU node relaying a room): the policy reads a subscriber only through
  :class:`Viewer`, which a relay can implement as well as a local participant does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .forward import SourceTrack
    from .room import Participant, Room
    from .sfu import Sfu


LOUDEST = 3  # students' microphones forwarded at once (the teachers' always are)
SWAP_MARGIN = 0.1  # a quieter speaker replaces a heard one only when this much louder (smoothed, 0..1)
RERANK_S = 0.2  # levels arrive per packet; the loudest are re-chosen at most this often per room
GALLERY_PAGE = 25  # students' cameras a teacher's gallery shows (and receives) at once
GALLERY_BPS = 150_000  # the REMB cap sent to a gallery camera's publisher: a small tile needs no more


class Viewer(Protocol):
    """What the fan-out policy reads about a subscriber."""

    @property
    def user(self) -> str:
        """The subscriber's user id: nobody receives their own tracks."""
        ...

    @property
    def in_lobby(self) -> bool:
        """Students waiting for the class to start receive nothing."""
        ...

    @property
    def left(self) -> bool:
        """Gone: receives nothing."""
        ...

    @property
    def is_teacher(self) -> bool:
        """Only teachers (and admins) are sent gallery cameras."""
        ...

    @property
    def looking(self) -> frozenset[str]:
        """The users whose gallery cameras this subscriber has on screen."""
        ...


def wanted_by(room: Room, viewer: Viewer) -> dict[str, SourceTrack]:
    """The tracks forwarded to a subscriber, by track id: every published track but its own, once out of the
    lobby (the teacher and on-stage speakers go to everyone), gallery cameras only of whom it looks at."""
    if viewer.in_lobby or viewer.left:
        return {}
    looking = viewer.looking if viewer.is_teacher else frozenset()
    return {
        t.id: t for t in room.tracks() if t.owner != viewer.user and (not t.gallery or t.owner in looking)
    }


def audible(room: Room, heard: set[str] | None = None) -> set[str]:
    """The ids of the audio tracks forwarded: every teacher's, and the :data:`LOUDEST` loudest of the other
    unmuted speakers' (``heard``: the ones forwarded until now, kept unless clearly out-shouted)."""
    heard = heard or set()
    chosen: set[str] = set()
    others: list[tuple[float, str]] = []
    for p in room.participants.values():
        if p.left or p.muted_by is not None:
            continue
        for t in p.tracks.values():
            if t.kind != "audio":
                continue
            if p.is_teacher:
                chosen.add(t.id)
            else:
                bonus = SWAP_MARGIN if t.id in heard else 0.0
                others.append((p.speaking.loudness + bonus, t.id))
    others.sort(reverse=True)
    chosen.update(track_id for _, track_id in others[:LOUDEST])
    return chosen


class Router:
    """Applies :func:`wanted_by` to the subscribers of every room of one SFU process."""

    def __init__(self, sfu: Sfu) -> None:
        self.sfu = sfu

    def update_audio(self, room: Room) -> None:
        """Forward the microphones :func:`audible` picks and hold back the rest (no renegotiation: the
        subscriber keeps its m-line and just receives nothing on it)."""
        tracks = [t for t in room.tracks() if t.kind == "audio"]
        heard = {t.id for t in tracks if not t.muted}
        keep = audible(room, heard)
        for t in tracks:
            t.muted = t.id not in keep

    def levels_moved(self, room: Room, now: float) -> None:
        """A student's audio level arrived: re-choose the loudest, at most every :data:`RERANK_S`."""
        if now - room.audio_ranked_at >= RERANK_S:
            room.audio_ranked_at = now
            self.update_audio(room)

    def look(self, room: Room, p: Participant, users: list[str]) -> None:
        """A teacher's gallery page now shows these students (the first :data:`GALLERY_PAGE` that are students
        in the room): forward their cameras to it, and stop those it no longer shows."""
        students = room.participants
        shown = [u for u in dict.fromkeys(users) if u in students and not students[u].is_teacher]
        looking = frozenset(shown[:GALLERY_PAGE])
        if looking != p.looking:
            p.looking = looking
            self.sfu.spawn(self.sync(room, p))

    def resync_room(self, room: Room) -> None:
        """Bring every participant's subscriptions in line with the room's tracks (in the background)."""
        for p in list(room.participants.values()):
            self.sfu.spawn(self.sync(room, p))

    async def sync(self, room: Room, p: Participant) -> None:
        """Forward to one subscriber what the policy wants it to receive; re-offer if anything changed."""
        if p.left:
            return
        if p.negotiating:
            p.resync = True  # re-offer once the pending offer is answered
            return
        await self.sfu.subscriber.apply(room, p, wanted_by(room, p))
