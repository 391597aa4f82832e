"""A room's recording: which tracks go into the file, and the hand-over to object storage and the app.

``recorder.Recorder`` turns decrypted RTP into a WebM/Matroska file without decoding. This module decides
what it gets (the teacher only, or the teacher and everyone brought on stage, as the course's recording
policy says on the teacher's join token), taps those tracks' packets as they are forwarded, and when the
class ends uploads the file through the project's storage interface (``media.storage``: a local folder or
MinIO / any S3) and tells the app with a signed ``recording.finished`` webhook carrying
``{object_key, content_type, duration_s, size}``. The app lists it with the live session
(``courses.live.apply_sfu_event``); turning it into an on-demand HLS lesson starts from that object key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from contracts.roles import RecordMode
from contracts.rooms import recording_key

from .recorder import EmptyRecordingError, Recorder

if TYPE_CHECKING:
    from media.storage import Storage

    from .forward import SourceTrack

log = logging.getLogger(__name__)


class RoomRecording:
    """One recording of one room, from the class start to its end."""

    def __init__(self, room: str, mode: RecordMode, work_dir: Path, *, started_by: str = "") -> None:
        mode = RecordMode(mode)
        if mode is RecordMode.none:
            raise ValueError("a recording needs a mode")
        self.room = room
        self.started_by = started_by
        self.mode = mode
        self.started_at = datetime.now(UTC)
        self.nonce = uuid.uuid4().hex[:8]
        self.name = f"{self.started_at:%Y%m%dT%H%M%SZ}-{self.nonce}"
        work_dir.mkdir(parents=True, exist_ok=True)
        self.recorder = Recorder(
            work_dir / f"{room}-{self.name}.rec",
            start_time=time.monotonic(),
            on_keyframe_needed=self._keyframe_needed,
        )
        self._tracks: dict[str, tuple[SourceTrack, Callable[[bytes], None]]] = {}
        self._count = 0

    def wants(self, is_teacher: bool) -> bool:
        """Whether a publisher's tracks belong in this recording."""
        return self.mode.records(is_teacher)

    def add(self, track: SourceTrack) -> None:
        """Record a track from now on (a re-published track is a new stream in the file)."""
        self._count += 1
        rid = f"{track.id}#{self._count}"
        codec = track.codec
        if track.kind not in ("audio", "video"):
            log.warning("not recording %s in %s: unknown kind %r", track.id, self.room, track.kind)
            return
        kind: Literal["audio", "video"] = "audio" if track.kind == "audio" else "video"
        try:
            self.recorder.add_track(
                rid,
                kind,
                codec.name,
                codec.clock_rate,
                codec.payload_type,
                channels=codec.channels or 2,
            )
        except ValueError as exc:  # e.g. a codec the recorder cannot mux; the class goes on
            log.warning("not recording %s in %s: %s", track.id, self.room, exc)
            return
        on_rtp = self.recorder.on_rtp

        def tap(data: bytes, rid: str = rid) -> None:
            on_rtp(rid, data, time.monotonic())

        track.taps.append(tap)
        self._tracks[rid] = (track, tap)
        if track.kind == "video":
            track.request_keyframe()  # the file starts at a key frame

    def _keyframe_needed(self, rid: str) -> None:
        entry = self._tracks.get(rid)
        if entry is not None:
            entry[0].request_keyframe()

    def _untap(self) -> None:
        for track, tap in self._tracks.values():
            with contextlib.suppress(ValueError):
                track.taps.remove(tap)

    async def finish(self, storage: Storage) -> dict[str, Any] | None:
        """Stop tapping, mux, upload; return the webhook data, or None when nothing was recorded."""
        self._untap()
        try:
            result = await self.recorder.close()
        except EmptyRecordingError:
            log.info("recording of %s is empty: nothing uploaded", self.room)
            return None
        key = recording_key(self.room, self.started_at, self.nonce, result.content_type)
        try:
            await asyncio.to_thread(storage.put_file, key, result.path, result.content_type)
        finally:
            with contextlib.suppress(FileNotFoundError):
                result.path.unlink()
        log.info(
            "recording of %s uploaded: %s (%.1f s, %d bytes)", self.room, key, result.duration_s, result.size
        )
        return {
            "object_key": key,
            "content_type": result.content_type,
            "duration_s": result.duration_s,
            "size": result.size,
            "started_at": self.started_at.isoformat().replace("+00:00", "Z"),
            "tracks": [
                {"kind": t.kind, "codec": t.codec, "frames": t.frames, "dropped_frames": t.dropped_frames}
                for t in result.tracks
            ],
        }
