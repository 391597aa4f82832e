"""Who receives which track: the SFU's one fan-out decision, and keeping every subscriber in line with it.

The policy today: every published track goes to everyone in the room who is out of the lobby, except its
owner. (Who may publish at all — the teacher, students while on stage — is a classroom rule,
``room.Participant.may_publish``; the router forwards whatever is published.) :func:`wanted_by` is that
decision and nothing else in ``webrtc/`` decides it; :class:`Router` applies it. Whatever changes what the
policy reads (a track published or dropped, someone joining, leaving, leaving the lobby, going on or off
stage) calls :meth:`Router.resync_room`; :meth:`Router.sync` brings one subscriber's forwarded set in line
through its subscriber peer (``peers.Subscriber``), which binds and unbinds tracks and renegotiates. One
renegotiation is in flight per subscriber at a time; a change meanwhile is applied once it is answered.

Where the next changes go:

* simulcast layers: :func:`wanted_by`'s answer per track becomes a (track, layer) choice, made here from
  what the subscriber can take; the subscriber peer then binds the chosen layer's SSRC.
* remote subscribers (another SFU node relaying a room): the policy reads a subscriber only through
  :class:`Viewer`, which a relay can implement as well as a local participant does.
* forwarding students' cameras only to those who look at them: :func:`wanted_by` filters the room's tracks
  by what the viewer has on screen (a set the page reports), and the page's report calls
  :meth:`Router.sync` for that viewer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .forward import SourceTrack
    from .room import Participant, Room
    from .sfu import Sfu


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


def wanted_by(room: Room, viewer: Viewer) -> dict[str, SourceTrack]:
    """The tracks forwarded to a subscriber, by track id: every published track but its own, once out of the
    lobby (the teacher and on-stage speakers go to everyone)."""
    if viewer.in_lobby or viewer.left:
        return {}
    return {t.id: t for t in room.tracks() if t.owner != viewer.user}


class Router:
    """Applies :func:`wanted_by` to the subscribers of every room of one SFU process."""

    def __init__(self, sfu: Sfu) -> None:
        self.sfu = sfu

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
