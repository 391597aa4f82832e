"""Room and participant state, and the class rules read off it (lobby, stage, hands, who may publish).

Kept free of aiortc so the rules can be read and tested on their own; the media objects a participant
owns (its publisher and subscriber connections, tracks and bindings) are attached and changed by
``peers.py``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from contracts.roles import STAGE_KINDS, PublishKind
from contracts.tokens import JoinClaims

from .guards import TokenBucket, chat_bucket, hand_bucket
from .roster import RosterFeed, encode

if TYPE_CHECKING:
    from aiohttp import web
    from aiortc import RTCPeerConnection

    from .forward import Binding, OutSlot, PublisherDemux, SourceTrack, SubscriberDemux, Transport
    from .recording import RoomRecording
    from .workers import WorkerLink

log = logging.getLogger(__name__)


def error(code: str, message: str) -> dict[str, Any]:
    """An ``error`` message for the client that caused it: a fixed text, never exception text."""
    return {"type": "error", "code": code, "message": message}


class SpeakingDetector:
    """Turns RFC 6464 levels (0 loud … 127 silent) into speaking started/stopped with hysteresis."""

    __slots__ = ("speaking", "_score", "on_threshold", "off_threshold", "loud_level")

    def __init__(self, loud_level: int = 50, on_threshold: float = 0.6, off_threshold: float = 0.2) -> None:
        self.speaking = False
        self._score = 0.0
        self.loud_level = loud_level
        self.on_threshold = on_threshold
        self.off_threshold = off_threshold

    @property
    def loudness(self) -> float:
        """How loud, smoothed (0 silent … 1 speaking all the time): what ranks speakers."""
        return self._score

    def update(self, level: int) -> bool | None:
        """Feed one packet's level; return the new state when it changes, else None."""
        # ~20 ms packets: a 0.1 smoothing factor reacts within a few hundred milliseconds.
        self._score += ((1.0 if level <= self.loud_level else 0.0) - self._score) * 0.1
        if not self.speaking and self._score >= self.on_threshold:
            self.speaking = True
            return True
        if self.speaking and self._score <= self.off_threshold:
            self.speaking = False
            return False
        return None


@dataclass(eq=False)
class Participant:
    """One joined user: their signalling socket, class state and media."""

    claims: JoinClaims
    ws: web.WebSocketResponse | None = None
    on_stage: bool = False
    hand_raised: bool = False
    in_lobby: bool = False
    muted_by: str | None = None
    left: bool = False
    # media, owned by peers.py (Publisher: publish_*, screen_mids, tracks; Subscriber: subscribe_*, the rest)
    publish_pc: RTCPeerConnection | None = None
    publish_transport: Transport | None = None
    publish_demux: PublisherDemux | None = None
    screen_mids: set[str] = field(default_factory=set)
    tracks: dict[str, SourceTrack] = field(default_factory=dict)  # by publisher mid
    subscribe_pc: RTCPeerConnection | None = None
    subscribe_transport: Transport | None = None
    subscribe_demux: SubscriberDemux | None = None
    slots: list[OutSlot] = field(default_factory=list)
    bindings: dict[str, Binding] = field(default_factory=dict)  # by source track id
    negotiating: bool = False
    resync: bool = False
    # The bindings changed since the last subscribe offer that went out (e.g. creating it failed): the next
    # sync offers even when the router's wanted set matches the bindings.
    offer_stale: bool = False
    # The relay worker that holds this participant's subscribe connection (``workers.py``); None: this process.
    worker: WorkerLink | None = None
    # The students on this teacher's gallery page (the ``gallery`` message): their cameras come to it.
    looking: frozenset[str] = frozenset()
    speaking: SpeakingDetector = field(default_factory=SpeakingDetector)
    chat_limit: TokenBucket = field(default_factory=chat_bucket)
    hand_limit: TokenBucket = field(default_factory=hand_bucket)
    _outbox: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    _writer: asyncio.Task[None] | None = None

    @property
    def user(self) -> str:
        """The user id (token ``sub``)."""
        return self.claims.user_id

    @property
    def is_teacher(self) -> bool:
        """Teachers and admins run the class."""
        return self.claims.is_teacher

    def may_publish(self, kind: str) -> bool:
        """Teachers publish what their token allows; students audio/video while on stage, and off stage their
        camera alone, for the teachers' gallery (:meth:`in_gallery`)."""
        if self.is_teacher:
            return kind in self.claims.publish
        return kind in STAGE_KINDS if self.on_stage else self.in_gallery(kind)

    def in_gallery(self, kind: str) -> bool:
        """Whether a track of this kind published now is a gallery camera: a student's camera off stage,
        forwarded only to whoever has the student on their gallery page (``router.wanted_by``)."""
        return not self.is_teacher and not self.on_stage and kind == PublishKind.video

    def publishing(self) -> list[str]:
        """Kinds this participant currently publishes."""
        return sorted({t.source for t in self.tracks.values()})

    def describe(self) -> dict[str, Any]:
        """The participant as shown to other participants."""
        return {
            "user": self.user,
            "name": self.claims.name,
            "role": self.claims.role,
            "on_stage": self.on_stage,
            "hand_raised": self.hand_raised,
            "in_lobby": self.in_lobby,
            "muted": self.muted_by is not None,
            "publishing": self.publishing(),
        }

    # --- outgoing signalling -------------------------------------------------------------------

    def start_writer(self) -> None:
        """Start the task that writes queued messages to the socket in order."""
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    def send(self, message: dict[str, Any]) -> None:
        """Queue a JSON message; never blocks, so it is safe from the media path."""
        self.send_encoded(encode(message))

    def send_encoded(self, text: str) -> None:
        """Queue a message already encoded (``roster.encode``): one encoding for many receivers."""
        if not self.left:
            self._outbox.put_nowait(text)

    async def _write_loop(self) -> None:
        while True:
            text = await self._outbox.get()
            if text is None or self.ws is None or self.ws.closed:
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError) as exc:
                log.debug("send to %s failed: %s", self.user, exc)
                return

    async def stop_writer(self, flush_s: float = 1.0) -> None:
        """Let queued messages go out (briefly), then stop the writer."""
        self._outbox.put_nowait(None)
        if self._writer is not None:
            try:
                await asyncio.wait_for(self._writer, flush_s)
            except (TimeoutError, asyncio.CancelledError):
                self._writer.cancel()


@dataclass(eq=False)
class Room:
    """A live class: participants, whether the teacher has started it, who was removed."""

    name: str
    participants: dict[str, Participant] = field(default_factory=dict)
    started: bool = False
    ended: bool = False
    removed: set[str] = field(default_factory=set)
    recording: RoomRecording | None = None
    audio_ranked_at: float = 0.0  # when the router last chose the loudest speakers (monotonic)
    feed: RosterFeed = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.feed = RosterFeed(self)

    def add(self, participant: Participant) -> None:
        """Admit a participant; students wait in the lobby until the class starts."""
        participant.in_lobby = not participant.is_teacher and not self.started
        self.participants[participant.user] = participant

    def discard(self, participant: Participant) -> None:
        """Forget a participant (only if it is still the current session for that user)."""
        if self.participants.get(participant.user) is participant:
            del self.participants[participant.user]

    def broadcast(self, message: dict[str, Any], *, exclude: Participant | None = None) -> None:
        """Send a message to everyone in the room (optionally but one), encoded once."""
        text = encode(message)
        for p in self.participants.values():
            if p is not exclude:
                p.send_encoded(text)

    def tracks(self) -> list[SourceTrack]:
        """Every published track in the room."""
        return [t for p in self.participants.values() for t in p.tracks.values()]

    def roster(self) -> list[dict[str, Any]]:
        """Everyone in the room as teachers see them (``RosterFeed.welcome`` decides who is told what)."""
        return [p.describe() for p in self.participants.values()]
