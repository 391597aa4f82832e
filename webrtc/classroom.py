"""The class rules: who may come in, the lobby, the stage, hands, mute, removal, chat, starting and ending the
class, recording — and the webhooks they send the app (``contracts.webhooks``: attendance, stage and camera
time, hands, chat and recordings come from these).

:class:`Classroom` changes the class state held by ``room.Room`` / ``room.Participant`` (what a participant
may publish is read off that state, ``Participant.may_publish``), tells the room (roster deltas and the
``stage``, ``muted``, ``removed``, ``chat``, ``speaking``, ``recording``, ``class_started``, ``class_ended``
messages) and the app (webhooks), and asks the router to re-decide the fan-out whenever that changes who
sees what. Who hears of a roster change, and when, is decided by the room's ``roster.RosterFeed`` (teachers get
batched deltas, students only teachers, the stage and a coalesced count). It is also told when a track is
published or dropped (by ``peers.Publisher``), which is where a muted speaker stays muted, speaking is detected
and a recording picks the track up. A recording runs from the class start until the class ends or the SFU
forgets the room (``Sfu.drop_room``: empty past its grace), so a teacher who reconnects goes on in the same
file; at most :data:`MAX_STAGE` students are on stage.

The messages' fields are checked by ``signalling.py`` before they get here, with teacher-only messages
refused there; the rules here then decide (a rate limit, an already-raised hand, removing oneself).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any

from contracts.tokens import JoinClaims
from contracts.webhooks import MAX_CHAT_CHARS, EventType

from .recording import RoomRecording
from .room import Participant, Room, error

if TYPE_CHECKING:
    from .forward import SourceTrack
    from .sfu import Sfu

log = logging.getLogger(__name__)

ENDED_ROOM_MEMORY_S = 900.0  # longer than a join token lives (contracts.tokens.MAX_TTL_S)
MAX_STAGE = 4  # students on stage at once: each one's camera and microphone go to everyone in the room


class Classroom:
    """The class rules of every room of one SFU process."""

    def __init__(self, sfu: Sfu) -> None:
        self.sfu = sfu
        # Rooms whose class was ended, by monotonic time: join tokens live 5 minutes, so a token fetched just
        # before the end must not reopen the room once everyone has left and the Room object is gone.
        self.ended_rooms: dict[str, float] = {}
        self._recordings: set[asyncio.Task[None]] = set()

    # --- telling the room and the app ---------------------------------------------------------

    def emit(self, event_type: EventType, p: Participant, data: dict[str, Any] | None = None) -> None:
        """Queue a webhook about a participant."""
        self.sfu.webhooks.emit(event_type, p.claims.room, p.user, data)

    def announce(self, room: Room, p: Participant, event: str) -> None:
        """Report a roster change (``joined``, ``left`` or ``updated``); the room's ``roster.RosterFeed``
        decides who hears of it and when (teachers in batches, students only about teachers and the stage)."""
        if event == "joined":
            room.feed.joined(p)
        elif event == "left":
            room.feed.left(p)
        else:
            room.feed.updated(p)

    # --- coming and going ---------------------------------------------------------------------

    def refusal(self, claims: JoinClaims) -> tuple[str, str, int] | None:
        """Why a valid token may not join now, as (error code, message, WebSocket close code), or None."""
        ended_at = self.ended_rooms.get(claims.room)
        if ended_at is not None and time.monotonic() - ended_at < ENDED_ROOM_MEMORY_S:
            return "class_ended", "this class has ended", 4004
        room = self.sfu.rooms.get(claims.room)
        if room is not None and room.ended:
            return "class_ended", "this class has ended", 4004
        if room is not None and claims.user_id in room.removed:
            return "removed", "you were removed from this class", 4003
        return None

    def joined(self, room: Room, p: Participant) -> None:
        """Tell the others and the app that someone came in (the newcomer was welcomed already)."""
        self.announce(room, p, "joined")
        self.emit(EventType.participant_joined, p, {"name": p.claims.name, "role": p.claims.role})

    def left(self, room: Room | None, p: Participant, reason: str, *, published: bool = True) -> None:
        """Tell the app and the room that someone left (a recording goes on: the room may be rejoined). Only
        someone who ``published`` changes what the others receive (a student leaving the audience re-offers
        nobody)."""
        self.emit(EventType.participant_left, p, {"reason": reason})
        if room is None:
            return
        room.discard(p)
        self.announce(room, p, "left")
        if published:
            self.sfu.router.resync_room(room)

    def closed(self, room: Room) -> None:
        """The SFU forgets the room (empty past its grace, or ended): its recording is handed over."""
        self.stop_recording(room)
        room.feed.close()

    # --- what participants do -----------------------------------------------------------------

    def hand(self, room: Room, p: Participant, raised: bool) -> None:
        """Raise or lower a hand (rate-limited)."""
        if not p.hand_limit.take():
            p.send(error("rate_limited", "too many hand raises; wait a moment"))
            return
        if p.hand_raised == raised:
            return
        p.hand_raised = raised
        self.emit(EventType.hand_raised if raised else EventType.hand_lowered, p)
        self.announce(room, p, "updated")

    def chat(self, room: Room, p: Participant, text: str) -> None:
        """Send a chat message to the room (rate-limited, cut to the contract's length)."""
        if not p.chat_limit.take():
            p.send(error("rate_limited", "too many chat messages; wait a moment"))
            return
        text = text[:MAX_CHAT_CHARS]
        at = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
        room.broadcast({"type": "chat", "from": p.user, "name": p.claims.name, "text": text, "at": at})
        self.emit(EventType.chat_message, p, {"text": text})

    def unmute(self, room: Room, p: Participant) -> None:
        """A participant unmutes themself after a teacher's mute."""
        p.muted_by = None
        self.sfu.router.update_audio(room)
        self.announce(room, p, "updated")

    # --- what teachers do ---------------------------------------------------------------------

    def start_class(self, room: Room, teacher: Participant) -> None:
        """Let everyone out of the lobby, and start recording as the teacher's token says."""
        room.started = True
        for p in room.participants.values():
            if p.in_lobby:
                p.in_lobby = False
                self.announce(room, p, "updated")
        room.broadcast({"type": "class_started"})
        self.sfu.router.resync_room(room)
        self.start_recording(room, teacher)

    def end_class(self, room: Room, grace_s: float = 2.0) -> None:
        """The teacher ends the class: the recording is closed, everyone is told, and after a short grace (for the
        pages to hang up themselves) whoever is still connected is disconnected: no media flows after the end."""
        if room.ended:
            return
        room.ended = True
        now = time.monotonic()
        self.ended_rooms = {k: t for k, t in self.ended_rooms.items() if now - t < ENDED_ROOM_MEMORY_S}
        self.ended_rooms[room.name] = now
        self.stop_recording(room)
        room.broadcast({"type": "class_ended"})

        async def disconnect_the_rest() -> None:
            await asyncio.sleep(grace_s)
            for p in list(room.participants.values()):
                await self.sfu.leave(p, "ended")

        self.sfu.spawn(disconnect_the_rest())

    async def set_stage(self, room: Room, by: Participant, p: Participant, on: bool) -> None:
        """Bring a student on stage (may publish audio/video; at most :data:`MAX_STAGE` at once, else the
        teacher ``by`` is told ``stage_full``) or take them off (stop their media)."""
        if p.on_stage == on:
            return
        if on and not p.is_teacher:
            speakers = sum(1 for q in room.participants.values() if q.on_stage and not q.is_teacher)
            if speakers >= MAX_STAGE:
                by.send(
                    error("stage_full", f"at most {MAX_STAGE} students can be on stage; take one off first")
                )
                return
        p.on_stage = on
        if not p.is_teacher:
            # Off stage a student publishes their gallery camera only, on stage their microphone and camera to
            # everyone: either way what they sent stops, and their page publishes again for the new place.
            await self.sfu.publisher.reset(p)
        if on:
            if p.hand_raised:
                p.hand_raised = False
                self.emit(EventType.hand_lowered, p)
            self.emit(EventType.stage_on, p)
        else:
            self.emit(EventType.stage_off, p)
        room.broadcast({"type": "stage", "user": p.user, "on": on})
        self.announce(room, p, "updated")
        self.sfu.router.resync_room(room)

    def mute(self, room: Room, by: Participant, target: Participant) -> None:
        """A teacher mutes someone: their audio is not forwarded until they unmute."""
        target.muted_by = by.user
        self.sfu.router.update_audio(room)
        target.send({"type": "muted", "by": by.user})
        self.announce(room, target, "updated")

    async def remove(self, room: Room, by: Participant, target: Participant) -> None:
        """A teacher removes someone (not themself) for the rest of the class."""
        if target is by:
            return
        room.removed.add(target.user)
        target.send({"type": "removed"})
        await self.sfu.leave(target, "kicked")

    # --- tracks -------------------------------------------------------------------------------

    def track_added(self, room: Room, p: Participant, track: SourceTrack) -> None:
        """A track was negotiated and is about to be forwarded: muted if its owner is, speaking, recording."""
        if track.kind == "audio":
            track.on_level = lambda level: self._on_level(room, p, level)
            track.muted = p.muted_by is not None  # until the router decides with it in the room
        # A gallery camera is for the teachers' eyes only: never in a recording.
        if room.recording is not None and room.recording.wants(p.is_teacher) and not track.gallery:
            room.recording.add(track)

    def track_published(self, room: Room, p: Participant, track: SourceTrack) -> None:
        """A track is forwarded from now on: tell the app and the room, and let the router pass it on."""
        self.emit(EventType.publish_started, p, {"kind": track.source})
        self.announce(room, p, "updated")
        self.sfu.router.update_audio(room)
        self.sfu.router.resync_room(room)

    def track_unpublished(self, p: Participant, track: SourceTrack) -> None:
        """A track is no longer published."""
        self.emit(EventType.publish_stopped, p, {"kind": track.source})

    def _on_level(self, room: Room, p: Participant, level: int) -> None:
        change = p.speaking.update(level)
        if not p.is_teacher:
            self.sfu.router.levels_moved(room, time.monotonic())  # who is among the loudest may have changed
        if change is None:
            return
        room.broadcast({"type": "speaking", "user": p.user, "speaking": change})
        self.emit(EventType.speaking_started if change else EventType.speaking_stopped, p)

    # --- recording ----------------------------------------------------------------------------

    def start_recording(self, room: Room, teacher: Participant) -> None:
        """Start recording if the teacher's token carries the course's recording policy and storage is set."""
        config = self.sfu.config
        mode = teacher.claims.record
        if not mode or room.recording is not None or room.ended:
            return
        if config.storage is None:
            teacher.send(error("recording_unavailable", "this SFU has no storage configured: not recording"))
            return
        recording = room.recording = RoomRecording(
            room.name, mode, config.recording_dir, started_by=teacher.user
        )
        for owner in room.participants.values():
            if recording.wants(owner.is_teacher):
                for track in owner.tracks.values():
                    recording.add(track)
        room.broadcast({"type": "recording", "on": True, "mode": mode})

    def stop_recording(self, room: Room) -> None:
        """Stop the room's recording (if any) and hand it over in the background; idempotent."""
        recording, room.recording = room.recording, None
        if recording is None:
            return
        room.broadcast({"type": "recording", "on": False})
        task = asyncio.get_running_loop().create_task(self._hand_over(recording))
        self._recordings.add(task)
        task.add_done_callback(self._recordings.discard)

    async def finish_recordings(self, timeout_s: float) -> None:
        """Wait (at most ``timeout_s``) for recordings being handed over: a class cut short keeps its file."""
        if self._recordings:
            await asyncio.wait(list(self._recordings), timeout=timeout_s)

    async def _hand_over(self, recording: RoomRecording) -> None:
        storage = self.sfu.config.storage
        assert storage is not None
        try:
            data = await recording.finish(storage)
        except Exception:
            log.exception("recording of %s could not be finished", recording.room)
            return
        if data is not None:
            self.sfu.webhooks.emit(EventType.recording_finished, recording.room, recording.started_by, data)
