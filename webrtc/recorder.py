"""Records a live class from the SFU's decrypted RTP packets without decoding or re-encoding.

Flow: ``on_rtp`` (event loop, cheap) parses the RTP header, puts the packet back in sequence order
within a small window, and depacketizes complete frames (VP8 per RFC 7741, H.264 per RFC 6184 into
Annex B access units, Opus one packet per frame); the parsing itself is ``rtp.py``'s, shared with the
forwarding path. Finished frames go through a queue to a writer
thread that appends them to one spool file per track, so the forwarding loop never waits on the
disk and a two-hour class never sits in memory. ``close`` muxes the spools with PyAV into one
Matroska file: WebM when every track is VP8/Opus (plays in browsers), plain Matroska when H.264 is
present.

Every track becomes its own stream: one video stream per video track and one audio stream per
speaker. Mixing speakers into one audio stream would need decoding, which the SFU never does; the
media worker can mix (``amix``) when it transcodes the recording for HLS.

Tracks are placed on one timeline by packet arrival: a track's first packet lands at its arrival
time after the session start, and later frames follow its RTP clock. That is exact enough for a
class recording (the error is the first packet's network jitter); RTCP sender reports would give
lip-sync to the millisecond and can be added without changing this API.

Loss policy: a frame with a missing packet is dropped. Video after a drop would decode with
artefacts, so video frames are dropped until the next key frame, and ``on_keyframe_needed`` asks
the publisher for one (at most once a second). Audio just has a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import os
import queue
import shutil
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final, Literal

from . import rtp

if TYPE_CHECKING:
    from media.storage import Storage

__all__ = [
    "EmptyRecordingError",
    "Recorder",
    "RecordingError",
    "RecordingResult",
    "TrackStats",
]

log = logging.getLogger(__name__)

Kind = Literal["audio", "video"]

_CODECS: Final[dict[str, Kind]] = {"vp8": "video", "h264": "video", "opus": "audio"}
_SPOOL_HEADER: Final = struct.Struct("<qBI")  # pts, flags (1 = key frame), frame length
_ANNEX_B: Final = b"\x00\x00\x00\x01"
_MAX_SEQ_JUMP: Final = 3000  # a bigger jump is a publisher restart, not loss
_MAX_TS_SLIP_S: Final = 5.0  # an RTP clock further off the wall clock than this was reset
_KEYFRAME_REQUEST_INTERVAL_S: Final = 1.0


class RecordingError(Exception):
    """The recording could not be written."""


class EmptyRecordingError(RecordingError):
    """No complete frame was received, so there is nothing to write."""


@dataclass(frozen=True, slots=True)
class TrackStats:
    """What happened to one track during the recording."""

    track_id: str
    kind: Kind
    codec: str
    frames: int
    dropped_frames: int
    lost_packets: int
    late_packets: int
    start_s: float | None


@dataclass(frozen=True, slots=True)
class RecordingResult:
    """The finished file, ready to upload."""

    path: Path
    duration_s: float
    size: int
    content_type: str
    tracks: tuple[TrackStats, ...] = ()


# --- RTP ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Packet:
    seq: int  # extended (no wrap-around)
    timestamp: int  # extended
    marker: bool
    payload: bytes


def _parse(packet: bytes) -> tuple[rtp.RtpHeader, bytes] | None:
    """The header and the payload (without padding), or None for a packet no sender could have produced."""
    try:
        header = rtp.parse_rtp_header(packet)
    except ValueError:
        return None
    payload = rtp.payload(packet, header)
    return None if payload is None else (header, payload)


# --- tracks -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Frame:
    timestamp: int
    payloads: list[bytes]
    broken: bool


@dataclass(eq=False)
class _Track:
    index: int
    track_id: str
    kind: Kind
    codec: str  # "vp8" | "h264" | "opus"
    clock_rate: int
    payload_type: int
    channels: int
    # reordering
    highest_seq: int | None = None
    next_seq: int | None = None
    pending: dict[int, _Packet] = field(default_factory=dict)
    hole_since: float | None = None
    gap: bool = False
    highest_ts: int | None = None
    last_arrival: float = 0.0
    # timeline
    base_ts: int = 0
    offset_ticks: int = 0
    # frame assembly
    current: _Frame | None = None
    waiting_for_keyframe: bool = True
    last_keyframe_request: float | None = None
    last_pts: int | None = None
    # codec parameters learnt from the stream
    width: int = 0
    height: int = 0
    sps: bytes | None = None
    pps: bytes | None = None
    # statistics
    frames: int = 0
    dropped_frames: int = 0
    lost_packets: int = 0
    late_packets: int = 0
    first_pts: int | None = None
    end_pts: int = 0  # end of the last frame, in clock ticks
    last_duration: int = 0
    spool_path: Path | None = None


_SpoolItem = tuple[_Track, int, bool, bytes] | None


class Recorder:
    """Writes the encoded media of a session's tracks into one Matroska/WebM file.

    ``start_time`` is the session start on the clock that ``on_rtp``'s ``arrival_time`` uses
    (default: the first packet's arrival). ``on_keyframe_needed(track_id)`` is called, at most
    once a second per track, when loss has broken a video track's decoding chain. Use it from
    one event loop; only ``close`` does work in another thread.
    """

    def __init__(
        self,
        out_path: str | os.PathLike[str],
        *,
        start_time: float | None = None,
        reorder_window: int = 256,
        max_reorder_delay_s: float = 0.3,
        on_keyframe_needed: Callable[[str], None] | None = None,
    ) -> None:
        self.out_path = Path(out_path)
        self._start_time = start_time
        # Long enough for a retransmission to arrive (one round trip), short enough to keep
        # a few hundred packets at most per track.
        self._reorder_window = reorder_window
        self._max_reorder_delay_s = max_reorder_delay_s
        self._on_keyframe_needed = on_keyframe_needed
        self._tracks: dict[str, _Track] = {}
        self._queue: queue.SimpleQueue[_SpoolItem] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_error: BaseException | None = None
        self._spool_dir = self.out_path.with_name(f".{self.out_path.name}.spool")
        self._closed = False
        self._finishing: asyncio.Future[RecordingResult] | None = None
        self.ignored_packets = 0

    # --- building up ---

    def add_track(
        self,
        track_id: str,
        kind: Kind,
        codec_name: str,
        clock_rate: int,
        payload_type: int,
        *,
        channels: int = 2,
    ) -> None:
        """Register a published track; its packets are recorded from then on."""
        codec = codec_name.lower()
        if codec not in _CODECS:
            raise ValueError(f"cannot record codec {codec_name!r}; supported: VP8, H264, opus")
        if _CODECS[codec] != kind:
            raise ValueError(f"{codec_name} is a {_CODECS[codec]} codec, not {kind}")
        if track_id in self._tracks:
            raise ValueError(f"track {track_id!r} is already being recorded")
        if self._closed:
            raise RecordingError("the recorder is closed")
        if codec == "opus" and clock_rate != 48000:
            raise ValueError("Opus over RTP always uses a 48000 Hz clock")
        self._tracks[track_id] = _Track(
            index=len(self._tracks),
            track_id=track_id,
            kind=kind,
            codec=codec,
            clock_rate=clock_rate,
            payload_type=payload_type,
            channels=channels,
            waiting_for_keyframe=kind == "video",
        )

    def on_rtp(self, track_id: str, packet: bytes, arrival_time: float) -> None:
        """Take one decrypted RTP packet; cheap, never blocks (frames go to a writer thread)."""
        track = self._tracks.get(track_id)
        parsed = _parse(packet) if track is not None and not self._closed else None
        if track is None or parsed is None or parsed[0].payload_type != track.payload_type:
            # Unknown tracks, RTX/FEC payload types and garbage are not media for the file.
            self.ignored_packets += 1
            return
        header, payload = parsed
        seq16, ts32, marker = header.sequence, header.timestamp, header.marker

        if self._start_time is None:
            self._start_time = arrival_time
        if track.highest_seq is None or track.highest_ts is None:
            track.highest_seq = track.next_seq = seq16
            track.highest_ts = track.base_ts = ts32
            # A track that starts late starts late in the file too.
            track.offset_ticks = max(0, round((arrival_time - self._start_time) * track.clock_rate))
        seq = rtp.unwrap(seq16, track.highest_seq, 16)
        assert track.next_seq is not None
        if abs(seq - track.next_seq) > _MAX_SEQ_JUMP:
            # Far outside any reorder window: the publisher restarted (or a long outage).
            self._resync(track, seq16, ts32, arrival_time)
            seq = seq16
        timestamp = rtp.unwrap(ts32, track.highest_ts, 32)
        track.highest_seq = max(track.highest_seq, seq)
        track.highest_ts = max(track.highest_ts, timestamp)
        track.last_arrival = arrival_time

        if seq < track.next_seq or seq in track.pending:
            track.late_packets += 1  # too late (already given up on) or a duplicate
            return
        track.pending[seq] = _Packet(seq, timestamp, marker, payload)
        self._drain(track, arrival_time, force=False)

    def _resync(self, track: _Track, seq16: int, ts32: int, arrival_time: float) -> None:
        """Start the track's counters afresh after a jump no reordering can explain."""
        self._drain(track, arrival_time, force=True)  # what arrived before the jump is still good
        if track.current is not None:
            track.current = None
            self._drop(track, arrival_time)
        track.highest_seq = track.next_seq = seq16
        track.gap = True
        assert track.highest_ts is not None
        timestamp = rtp.unwrap(ts32, track.highest_ts, 32)
        expected = (arrival_time - track.last_arrival) * track.clock_rate
        if abs(timestamp - track.highest_ts - expected) <= _MAX_TS_SLIP_S * track.clock_rate:
            track.highest_ts = timestamp  # the RTP clock ran on (an outage): keep the timeline
            return
        # A new RTP clock: place it by arrival time, after everything already written.
        start = self._start_time if self._start_time is not None else arrival_time
        track.highest_ts = track.base_ts = ts32
        track.offset_ticks = max(track.end_pts, round((arrival_time - start) * track.clock_rate))

    def _drain(self, track: _Track, now: float, *, force: bool) -> None:
        assert track.next_seq is not None
        while track.pending:
            packet = track.pending.pop(track.next_seq, None)
            if packet is not None:
                track.hole_since = None
                track.next_seq += 1
                self._on_ordered(track, packet, now)
                continue
            # A hole: wait for the packet (late or retransmitted) unless it has been too long.
            if track.hole_since is None:
                track.hole_since = now
            if (
                not force
                and len(track.pending) < self._reorder_window
                and now - track.hole_since < self._max_reorder_delay_s
            ):
                return
            resume = min(track.pending)
            track.lost_packets += resume - track.next_seq
            track.next_seq = resume
            track.gap = True
            track.hole_since = None

    def _on_ordered(self, track: _Track, packet: _Packet, now: float) -> None:
        gap, track.gap = track.gap, False
        if not packet.payload:
            return  # padding-only packet (bandwidth probing): no media, and no loss either
        if track.codec == "opus":
            if gap and track.last_pts is not None:
                track.dropped_frames += 1  # at least one lost; Opus frames stand alone
            self._emit(track, packet.timestamp, True, packet.payload, now)
            return

        current = track.current
        if current is not None and current.timestamp != packet.timestamp:
            # The next frame began before the marker bit closed this one: the marker packet
            # was lost unless the packets are contiguous (some senders omit the marker).
            track.current = None
            if gap or current.broken:
                self._drop(track, now)
            else:
                self._finish_frame(track, current, now)
            current = None
        if gap and current is not None:
            current.broken = True
        if current is None:
            starts = self._starts_frame(track, packet.payload)
            current = track.current = _Frame(packet.timestamp, [], broken=not starts)
            if gap:
                # Whole frames may have vanished in the hole; the next ones would not decode.
                self._drop(track, now, count=False)
        current.payloads.append(packet.payload)
        if packet.marker:
            track.current = None
            if current.broken:
                self._drop(track, now)
            else:
                self._finish_frame(track, current, now)

    @staticmethod
    def _starts_frame(track: _Track, payload: bytes) -> bool:
        if track.codec == "vp8":
            try:
                return rtp.vp8_descriptor(payload)[0]
            except ValueError:
                return False
        return rtp.h264_starts_picture(payload)

    def _drop(self, track: _Track, now: float, *, count: bool = True) -> None:
        if count:
            track.dropped_frames += 1
        if track.kind == "video":
            track.waiting_for_keyframe = True
            self._request_keyframe(track, now)

    def _request_keyframe(self, track: _Track, now: float) -> None:
        if self._on_keyframe_needed is None:
            return
        last = track.last_keyframe_request
        if last is not None and now - last < _KEYFRAME_REQUEST_INTERVAL_S:
            return
        track.last_keyframe_request = now
        try:
            self._on_keyframe_needed(track.track_id)
        except Exception:  # a failing callback must not stop the recording
            log.exception("keyframe request for track %s failed", track.track_id)

    def _finish_frame(self, track: _Track, frame: _Frame, now: float) -> None:
        try:
            data, keyframe = self._depacketize(track, frame.payloads)
        except (ValueError, IndexError, struct.error):
            self._drop(track, now)
            return
        if track.waiting_for_keyframe:
            if not keyframe:
                track.dropped_frames += 1
                self._request_keyframe(track, now)
                return
            track.waiting_for_keyframe = False
        self._emit(track, frame.timestamp, keyframe, data, now)

    def _depacketize(self, track: _Track, payloads: list[bytes]) -> tuple[bytes, bool]:
        if track.codec == "vp8":
            data = b"".join(rtp.vp8_split(p)[1] for p in payloads)
            keyframe, width, height = rtp.vp8_keyframe_size(data)
            if keyframe and not track.width:
                track.width, track.height = width, height
            return data, keyframe

        units = rtp.h264_nal_units(payloads)
        types = {unit[0] & 0x1F for unit in units}
        for unit in units:
            if unit[0] & 0x1F == rtp.H264_SPS:
                track.sps = unit
                if not track.width:
                    with contextlib.suppress(ValueError, IndexError):
                        track.width, track.height = rtp.h264_sps_size(unit)
            elif unit[0] & 0x1F == rtp.H264_PPS:
                track.pps = unit
        keyframe = rtp.H264_IDR in types
        if keyframe and not {rtp.H264_SPS, rtp.H264_PPS} <= types and track.sps and track.pps:
            # Decoders (and the muxer's avcC) need the parameter sets in front of an IDR.
            units = [track.sps, track.pps, *units]
        if keyframe and (track.sps is None or track.pps is None):
            raise ValueError("IDR access unit before any SPS/PPS")
        return b"".join(_ANNEX_B + unit for unit in units), keyframe

    def _emit(self, track: _Track, timestamp: int, keyframe: bool, data: bytes, now: float) -> None:
        pts = timestamp - track.base_ts + track.offset_ticks
        if pts < 0 or (track.last_pts is not None and pts <= track.last_pts):
            track.dropped_frames += 1  # a timestamp going backwards cannot be muxed
            return
        if track.last_pts is not None:
            track.last_duration = pts - track.last_pts
        if track.first_pts is None:
            track.first_pts = pts
        track.last_pts = pts
        track.end_pts = pts + (track.last_duration or self._default_duration(track))
        track.frames += 1
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_spools, name="recorder-spool", daemon=True)
            self._writer.start()
        self._queue.put((track, pts, keyframe, data))

    @staticmethod
    def _default_duration(track: _Track) -> int:
        # Before a second frame shows the real spacing: 20 ms audio, 1/30 s video.
        return track.clock_rate // 50 if track.kind == "audio" else track.clock_rate // 30

    # --- writer thread ---

    def _write_spools(self) -> None:
        files: dict[int, BinaryIO] = {}
        try:
            while (item := self._queue.get()) is not None:
                if self._writer_error is not None:
                    continue  # keep draining so close() does not hang
                track, pts, keyframe, data = item
                try:
                    out = files.get(track.index)
                    if out is None:
                        self._spool_dir.mkdir(parents=True, exist_ok=True)
                        track.spool_path = self._spool_dir / f"{track.index}.spool"
                        out = files[track.index] = open(track.spool_path, "wb")  # noqa: SIM115
                    out.write(_SPOOL_HEADER.pack(pts, int(keyframe), len(data)))
                    out.write(data)
                except OSError as exc:  # disk full: remember it, report it from close()
                    self._writer_error = exc
        finally:
            for out in files.values():
                out.close()

    # --- finishing ---

    async def close(self) -> RecordingResult:
        """Flush what is buffered, mux the file and return it; later calls return the same."""
        if self._finishing is None:
            self._closed = True
            for track in self._tracks.values():
                self._flush_track(track)
            self._queue.put(None)
            # Muxing reads and writes the whole recording: keep it off the event loop.
            self._finishing = asyncio.ensure_future(asyncio.to_thread(self._finish))
        return await asyncio.shield(self._finishing)

    def _flush_track(self, track: _Track) -> None:
        if track.next_seq is not None:
            self._drain(track, float("inf"), force=True)
        if track.current is not None:
            # The last frame never saw its marker: it is incomplete.
            track.current = None
            track.dropped_frames += 1

    def _finish(self) -> RecordingResult:
        if self._writer is not None:
            self._writer.join()
        try:
            if self._writer_error is not None:
                raise RecordingError(f"could not spool the recording: {self._writer_error}")
            recorded = [t for t in self._tracks.values() if t.frames and t.spool_path is not None]
            if not recorded:
                raise EmptyRecordingError("no complete frame was received")
            h264 = any(t.codec == "h264" for t in recorded)
            container_format = "matroska" if h264 else "webm"
            has_video = any(t.kind == "video" for t in recorded)
            content_type = "video/x-matroska" if h264 else ("video/webm" if has_video else "audio/webm")
            tmp_path = self.out_path.with_name(f".{self.out_path.name}.part")
            self.out_path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._mux(recorded, tmp_path, container_format)
                os.replace(tmp_path, self.out_path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp_path.unlink()
        finally:
            shutil.rmtree(self._spool_dir, ignore_errors=True)
        duration = max(t.end_pts / t.clock_rate for t in recorded)
        return RecordingResult(
            path=self.out_path,
            duration_s=round(duration, 3),
            size=self.out_path.stat().st_size,
            content_type=content_type,
            tracks=tuple(self._stats(t) for t in self._tracks.values()),
        )

    @staticmethod
    def _stats(track: _Track) -> TrackStats:
        return TrackStats(
            track_id=track.track_id,
            kind=track.kind,
            codec=track.codec,
            frames=track.frames,
            dropped_frames=track.dropped_frames,
            lost_packets=track.lost_packets,
            late_packets=track.late_packets,
            start_s=None if track.first_pts is None else track.first_pts / track.clock_rate,
        )

    @staticmethod
    def _read_spool(track: _Track) -> Iterator[tuple[int, bool, bytes]]:
        assert track.spool_path is not None
        with open(track.spool_path, "rb") as spool:
            while header := spool.read(_SPOOL_HEADER.size):
                pts, flags, length = _SPOOL_HEADER.unpack(header)
                yield pts, bool(flags & 1), spool.read(length)

    def _mux(self, tracks: list[_Track], path: Path, container_format: str) -> None:
        import av

        # Video first: players pick the first video and the first audio stream by default.
        ordered = sorted(tracks, key=lambda t: (t.kind != "video", t.index))
        with av.open(str(path), "w", format=container_format) as container:
            streams: dict[int, av.stream.Stream] = {}
            for track in ordered:
                if track.codec == "opus":
                    # An opened (never used) encoder context writes the OpusHead header that
                    # Matroska requires; packets still pass through untouched.
                    audio = container.add_stream("libopus", rate=48000)
                    audio.codec_context.layout = "stereo" if track.channels == 2 else "mono"
                    streams[track.index] = audio
                else:
                    # Mux-only stream: no codec context; PyAV takes H.264's avcC from the first
                    # packet's in-band SPS/PPS.
                    streams[track.index] = container.add_mux_stream(
                        track.codec, width=track.width, height=track.height
                    )
                streams[track.index].time_base = Fraction(1, track.clock_rate)
                streams[track.index].metadata["title"] = track.track_id

            rates = {t.index: t.clock_rate for t in ordered}

            def mux(index: int, pts: int, duration: int, keyframe: bool, data: bytes) -> None:
                packet = av.Packet(data)
                packet.stream = streams[index]
                packet.time_base = Fraction(1, rates[index])
                packet.pts = packet.dts = pts
                packet.duration = duration
                packet.is_keyframe = keyframe
                container.mux(packet)

            def packets(track: _Track) -> Iterator[tuple[float, int, int, int, bool, bytes]]:
                # One frame of look-ahead gives each frame its duration, so that the file's
                # duration covers the last frame too.
                previous: tuple[int, bool, bytes] | None = None
                duration = self._default_duration(track)
                for frame in self._read_spool(track):
                    if previous is not None:
                        duration = frame[0] - previous[0]
                        yield (
                            previous[0] / track.clock_rate,
                            track.index,
                            previous[0],
                            duration,
                            *previous[1:],
                        )
                    previous = frame
                if previous is not None:
                    yield previous[0] / track.clock_rate, track.index, previous[0], duration, *previous[1:]

            sources = [packets(t) for t in ordered]
            # PyAV holds back every packet until each H.264 stream has shown its parameter sets;
            # mux those first so a camera that starts late does not pile up audio in memory.
            # (FFmpeg's interleaver still writes the file in time order.)
            for track, source in zip(ordered, sources, strict=True):
                if track.codec == "h264":
                    mux(*next(source)[1:])
            for _, index, pts, duration, keyframe, data in heapq.merge(*sources):
                mux(index, pts, duration, keyframe, data)

    async def upload(self, storage: Storage, key: str) -> str:
        """Close if needed, store the file under ``key`` and return the object key."""
        result = await self.close()
        await asyncio.to_thread(storage.put_file, key, result.path, result.content_type)
        return key
