"""The recorder on real encoded media: aiortc's encoders and packetizers in, ffprobe and PyAV out."""

from __future__ import annotations

import asyncio
import math
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from aiortc.codecs import get_encoder
from aiortc.codecs.base import Encoder
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpParameters,
)
from aiortc.rtp import HeaderExtensionsMap, RtpPacket
from sfu_helpers import probe

from media.storage import LocalStorage
from webrtc.recorder import EmptyRecordingError, Recorder, RecordingResult
from webrtc.rtp import h264_nal_units, h264_sps_size, h264_starts_picture, unwrap, vp8_split

VIDEO_PT, AUDIO_PT = 96, 111
T0 = 5000.0  # arrival clock of the session start (any monotonic clock works)

_EXTENSIONS = HeaderExtensionsMap()
_EXTENSIONS.configure(
    RTCRtpParameters(
        headerExtensions=[
            RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level")
        ]
    )
)


# --- a publisher made of aiortc's real encoders and packetizers --------------------------------


def video_frame(index: int, width: int, height: int) -> av.VideoFrame:
    """A moving gradient with a bouncing block, so every frame carries new picture data."""
    frame = av.VideoFrame(width, height, "yuv420p")
    stride = frame.planes[0].line_size  # rows are padded for SIMD
    row = bytes((x + index * 5) & 0xFF for x in range(stride))
    luma = bytearray(row * height)
    block_x = (index * 13) % (width - 64)
    for y in range(64, 128):
        luma[y * stride + block_x : y * stride + block_x + 64] = b"\xeb" * 64
    frame.planes[0].update(bytes(luma))
    for plane, value in ((frame.planes[1], 128), (frame.planes[2], (index * 3) & 0xFF)):
        plane.update(bytes([value]) * (plane.line_size * plane.height))
    frame.pts = index * 3000
    frame.time_base = Fraction(1, 90000)
    return frame


def audio_frame(index: int) -> av.AudioFrame:
    """20 ms of a 440 Hz tone, 48 kHz mono."""
    samples = [int(8000 * math.sin(2 * math.pi * 440 * (index * 960 + n) / 48000)) for n in range(960)]
    frame = av.AudioFrame(format="s16", layout="mono", samples=960)
    frame.planes[0].update(struct.pack(f"<{len(samples)}h", *samples))
    frame.sample_rate = 48000
    frame.pts = index * 960
    frame.time_base = Fraction(1, 48000)
    return frame


@dataclass
class Publisher:
    """Encodes frames and wraps the payloads in RTP with counters that wrap around soon."""

    mime: str
    clock_rate: int
    payload_type: int
    seq: int
    ts_base: int
    parameters: dict[str, Any] = field(default_factory=dict)
    keyframe_requested: bool = False
    keyframe_requests: int = 0
    encoder: Encoder = field(init=False)

    def __post_init__(self) -> None:
        channels = 2 if self.mime == "audio/opus" else None
        codec = RTCRtpCodecParameters(
            mimeType=self.mime,
            clockRate=self.clock_rate,
            payloadType=self.payload_type,
            channels=channels,
            parameters=self.parameters,
        )
        self.encoder = get_encoder(codec)

    def request_keyframe(self, track_id: str) -> None:
        self.keyframe_requested = True
        self.keyframe_requests += 1

    def packets(self, frame: av.VideoFrame | av.AudioFrame, first: bool = False) -> list[bytes]:
        force = first or self.keyframe_requested
        self.keyframe_requested = False
        payloads, timestamp = self.encoder.encode(frame, force_keyframe=force)
        out = []
        for number, payload in enumerate(payloads):
            packet = RtpPacket(
                payload_type=self.payload_type,
                marker=int(number == len(payloads) - 1),
                sequence_number=self.seq & 0xFFFF,
                timestamp=(self.ts_base + timestamp) & 0xFFFFFFFF,
                ssrc=0x1234 + self.payload_type,
                payload=payload,
            )
            if self.mime == "audio/opus":
                packet.extensions.audio_level = (True, 30)
            out.append(packet.serialize(_EXTENSIONS))
            self.seq += 1
        return out


def vp8_publisher() -> Publisher:
    # Sequence numbers wrap after a few frames, timestamps after one second.
    return Publisher("video/VP8", 90000, VIDEO_PT, seq=65_500, ts_base=2**32 - 90_000)


def h264_publisher() -> Publisher:
    return Publisher(
        "video/H264",
        90000,
        VIDEO_PT,
        seq=65_520,
        ts_base=2**32 - 45_000,
        parameters={"packetization-mode": "1", "level-asymmetry-allowed": "1", "profile-level-id": "42e01f"},
    )


def opus_publisher() -> Publisher:
    return Publisher("audio/opus", 48000, AUDIO_PT, seq=65_530, ts_base=2**32 - 20_000)


@dataclass
class Network:
    """Delivers packets to the recorder with the trouble a real network adds."""

    recorder: Recorder
    swap_every: int = 0  # swap each n-th packet with the one after it
    lose: set[tuple[str, int]] = field(default_factory=set)  # (track, n-th packet) never delivered
    counts: dict[str, int] = field(default_factory=dict)
    held: dict[str, bytes] = field(default_factory=dict)
    last: dict[str, bytes] = field(default_factory=dict)

    def send(self, track_id: str, packets: list[bytes], arrival: float) -> None:
        for packet in packets:
            self.last[track_id] = packet
            index = self.counts.get(track_id, 0)
            self.counts[track_id] = index + 1
            if (track_id, index) in self.lose:
                continue
            if self.swap_every and index % self.swap_every == self.swap_every - 1:
                self.held[track_id] = packet  # overtaken by the next packet
                continue
            self.recorder.on_rtp(track_id, packet, arrival)
            if track_id in self.held:
                self.recorder.on_rtp(track_id, self.held.pop(track_id), arrival + 0.001)

    def flush(self, arrival: float) -> None:
        for track_id, packet in self.held.items():
            self.recorder.on_rtp(track_id, packet, arrival)
        self.held.clear()


def run_session(
    recorder: Recorder,
    network: Network,
    video: Publisher,
    audio: Publisher,
    *,
    video_frames: int,
    audio_start_s: float,
    audio_frames: int,
    size: tuple[int, int],
) -> None:
    """Interleave a camera at 30 fps and a microphone (20 ms packets) by capture time."""
    events: list[tuple[float, str, int]] = [(i / 30, "cam", i) for i in range(video_frames)]
    events += [(audio_start_s + k * 0.02, "mic", k) for k in range(audio_frames)]
    for at, track_id, index in sorted(events):
        if track_id == "cam":
            packets = video.packets(video_frame(index, *size), first=index == 0)
        else:
            packets = audio.packets(audio_frame(index))
        network.send(track_id, packets, T0 + at)
    network.flush(T0 + max(at for at, _, _ in events))


def decode_all(path: Path) -> tuple[list[av.VideoFrame], int, float | None]:
    """Decode every frame; return video frames, audio samples and the first audio time."""
    video_frames: list[av.VideoFrame] = []
    audio_samples = 0
    first_audio: float | None = None
    with av.open(str(path)) as container:
        for frame in container.decode(*container.streams):
            if isinstance(frame, av.VideoFrame):
                video_frames.append(frame)
            elif isinstance(frame, av.AudioFrame):
                audio_samples += frame.samples
                if first_audio is None and frame.time is not None:
                    first_audio = frame.time
    return video_frames, audio_samples, first_audio


def streams_by_type(info: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for stream in info["streams"]:
        grouped.setdefault(stream["codec_type"], []).append(stream)
    return grouped


# --- end to end ---------------------------------------------------------------------------------


async def test_vp8_and_opus_with_reordering_loss_wraparound_and_late_audio(
    tmp_path: Path, ffprobe: str
) -> None:
    video, audio = vp8_publisher(), opus_publisher()
    recorder = Recorder(tmp_path / "class.webm", start_time=T0, on_keyframe_needed=video.request_keyframe)
    recorder.add_track("cam", "video", "VP8", 90000, VIDEO_PT)
    recorder.add_track("mic", "audio", "opus", 48000, AUDIO_PT)
    # Packet 100 is lost inside the second second; every 7th packet arrives after its successor.
    network = Network(recorder, swap_every=7, lose={("cam", 100)})

    run_session(
        recorder, network, video, audio, video_frames=90, audio_start_s=1.0, audio_frames=100, size=(640, 360)
    )
    # A duplicate and a retransmission-stream packet must change nothing.
    recorder.on_rtp("mic", network.last["mic"], T0 + 3.1)
    recorder.on_rtp("cam", b"\x80\x61\x00\x01" + bytes(20), T0 + 3.1)  # payload type 97 (RTX)
    result = await recorder.close()

    assert result.content_type == "video/webm"
    assert result.path == tmp_path / "class.webm" and result.size == result.path.stat().st_size
    assert result.duration_s == pytest.approx(3.0, abs=0.05)
    cam, mic = result.tracks
    assert cam.lost_packets == 1 and cam.dropped_frames >= 1
    assert video.keyframe_requests >= 1  # the recorder asked for a key frame after the loss
    # The broken frame and the frames up to the requested key frame are left out.
    assert cam.frames + cam.dropped_frames == 90 and cam.frames >= 60
    assert (mic.frames, mic.lost_packets, mic.late_packets) == (100, 0, 1)
    assert mic.start_s == pytest.approx(1.0, abs=0.01)
    assert recorder.ignored_packets == 1
    assert not list(tmp_path.glob(".*"))  # spool and temp files are gone

    info = probe(ffprobe, result.path)
    assert "webm" in info["format"]["format_name"]
    assert float(info["format"]["duration"]) == pytest.approx(3.0, abs=0.15)
    streams = streams_by_type(info)
    (video_stream,) = streams["video"]
    (audio_stream,) = streams["audio"]
    assert (video_stream["codec_name"], video_stream["width"], video_stream["height"]) == ("vp8", 640, 360)
    assert audio_stream["codec_name"] == "opus"
    assert audio_stream["sample_rate"] == "48000"
    assert float(audio_stream.get("start_time", 0)) == pytest.approx(1.0, abs=0.05)

    frames, samples, first_audio = decode_all(result.path)
    assert len(frames) == cam.frames
    assert all((f.width, f.height) == (640, 360) for f in frames)
    assert frames[0].key_frame
    assert samples == pytest.approx(2.0 * 48000, rel=0.05)
    assert first_audio == pytest.approx(1.0, abs=0.05)

    storage = LocalStorage(tmp_path / "store", "secret")
    key = await recorder.upload(storage, "recordings/room-1/class.webm")
    assert key == "recordings/room-1/class.webm"
    assert storage.exists(key) and storage.size(key) == result.size
    assert storage.stat(key).content_type == "video/webm"


async def test_h264_and_opus_with_a_lost_fragment(tmp_path: Path, ffprobe: str) -> None:
    video, audio = h264_publisher(), opus_publisher()
    recorder = Recorder(tmp_path / "class.mkv", start_time=T0, on_keyframe_needed=video.request_keyframe)
    recorder.add_track("cam", "video", "H264", 90000, VIDEO_PT)
    recorder.add_track("mic", "audio", "opus", 48000, AUDIO_PT)
    # At 640x360 each frame takes two or more packets, so packet 41 is a fragment of a frame.
    network = Network(recorder, swap_every=5, lose={("cam", 41), ("mic", 30)})

    run_session(
        recorder, network, video, audio, video_frames=60, audio_start_s=0.5, audio_frames=75, size=(640, 360)
    )
    result = await recorder.close()

    assert result.content_type == "video/x-matroska"
    assert result.duration_s == pytest.approx(2.0, abs=0.05)
    cam, mic = result.tracks
    assert cam.lost_packets == 1 and cam.dropped_frames >= 1
    assert cam.frames + cam.dropped_frames == 60 and cam.frames >= 30
    assert (mic.frames, mic.lost_packets) == (74, 1)

    info = probe(ffprobe, result.path)
    assert "matroska" in info["format"]["format_name"]
    assert float(info["format"]["duration"]) == pytest.approx(2.0, abs=0.15)
    streams = streams_by_type(info)
    (video_stream,) = streams["video"]
    assert (video_stream["codec_name"], video_stream["width"], video_stream["height"]) == ("h264", 640, 360)
    assert int(video_stream.get("extradata_size", 0)) > 0  # avcC written from the stream's SPS/PPS
    assert [s["codec_name"] for s in streams["audio"]] == ["opus"]

    frames, samples, _ = decode_all(result.path)
    assert len(frames) == cam.frames
    assert samples == pytest.approx(74 * 960, rel=0.05)


async def test_each_speaker_gets_an_audio_stream_and_late_video(tmp_path: Path, ffprobe: str) -> None:
    video, teacher, student = vp8_publisher(), opus_publisher(), opus_publisher()
    recorder = Recorder(tmp_path / "speakers.webm")  # session starts at the first packet
    recorder.add_track("teacher-mic", "audio", "opus", 48000, AUDIO_PT)
    recorder.add_track("student-mic", "audio", "opus", 48000, AUDIO_PT)
    recorder.add_track("cam", "video", "VP8", 90000, VIDEO_PT)

    for k in range(50):  # teacher speaks from 0 s, the student from 0.4 s, the camera from 0.6 s
        recorder.on_rtp("teacher-mic", teacher.packets(audio_frame(k))[0], T0 + k * 0.02)
        if k >= 20:
            recorder.on_rtp("student-mic", student.packets(audio_frame(k))[0], T0 + k * 0.02)
        if k >= 30 and k % 2 == 0:
            i = (k - 30) // 2
            for packet in video.packets(video_frame(i, 320, 240), first=i == 0):
                recorder.on_rtp("cam", packet, T0 + k * 0.02)
    result = await recorder.close()

    info = probe(ffprobe, result.path)
    streams = streams_by_type(info)
    assert [s["codec_name"] for s in streams["video"]] == ["vp8"]
    assert [s["codec_name"] for s in streams["audio"]] == ["opus", "opus"]
    assert [s["tags"].get("title") for s in info["streams"]] == ["cam", "teacher-mic", "student-mic"]
    starts = {s["tags"]["title"]: float(s.get("start_time", 0)) for s in info["streams"]}
    assert starts["teacher-mic"] == pytest.approx(0.0, abs=0.03)
    assert starts["student-mic"] == pytest.approx(0.4, abs=0.03)
    assert starts["cam"] == pytest.approx(0.6, abs=0.03)
    assert float(info["format"]["duration"]) == pytest.approx(1.0, abs=0.1)


# --- pieces -------------------------------------------------------------------------------------


def _opus_rtp(seq: int, timestamp: int, payload: bytes = b"\xfc\xff\xfe") -> bytes:
    packet = RtpPacket(payload_type=AUDIO_PT, sequence_number=seq & 0xFFFF, timestamp=timestamp & 0xFFFFFFFF)
    packet.payload = payload
    return packet.serialize()


async def test_reordering_across_sequence_wraparound(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "a.webm", start_time=0.0)
    recorder.add_track("mic", "audio", "opus", 48000, AUDIO_PT)
    order = [65533, 65535, 65534, 1, 0, 2, 2, 65534]  # two reorders, a duplicate, a stale packet
    for n, seq in enumerate(order):
        recorder.on_rtp("mic", _opus_rtp(seq, 2**32 - 960 * 3 + 960 * ((seq - 65533) % 65536)), n * 0.02)
    result = await recorder.close()

    (mic,) = result.tracks
    assert (mic.frames, mic.lost_packets, mic.late_packets) == (6, 0, 2)
    assert result.duration_s == pytest.approx(6 * 0.02, abs=0.001)


async def test_a_hole_is_given_up_after_the_reorder_delay(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "a.webm", start_time=0.0, max_reorder_delay_s=0.1)
    recorder.add_track("mic", "audio", "opus", 48000, AUDIO_PT)
    for seq in [10, 11, 13, 14, 15, 16, 17, 18, 19]:  # 12 never comes
        recorder.on_rtp("mic", _opus_rtp(seq, seq * 960), (seq - 10) * 0.02)
    assert recorder._tracks["mic"].next_seq == 20  # released before close, not held forever
    recorder.on_rtp("mic", _opus_rtp(12, 12 * 960), 0.2)  # now too late
    result = await recorder.close()

    (mic,) = result.tracks
    assert (mic.frames, mic.lost_packets, mic.late_packets) == (9, 1, 1)


async def test_publisher_restart_continues_the_timeline(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "a.webm", start_time=0.0)
    recorder.add_track("mic", "audio", "opus", 48000, AUDIO_PT)
    for k in range(10):  # 0.0 .. 0.18 s
        recorder.on_rtp("mic", _opus_rtp(100 + k, 777 + k * 960), k * 0.02)
    for k in range(10):  # restarted 1 s later with new random counters, seq far behind
        recorder.on_rtp("mic", _opus_rtp(50_000 + k, 123_456_789 + k * 960), 1.0 + k * 0.02)
    for k in range(10):  # a 4 s outage: sequence jumps, the RTP clock runs on
        recorder.on_rtp("mic", _opus_rtp(53_460 + k, 123_456_789 + (200 + k) * 960), 5.0 + k * 0.02)
    result = await recorder.close()

    (mic,) = result.tracks
    assert (mic.frames, mic.late_packets) == (30, 0)
    assert result.duration_s == pytest.approx(5.2, abs=0.01)
    with av.open(str(result.path)) as container:
        times = [float(p.pts * p.time_base) for p in container.demux() if p.pts is not None]
    assert times[9] == pytest.approx(0.18, abs=0.002)
    assert times[10] == pytest.approx(1.0, abs=0.002)  # placed by arrival
    assert times[20] == pytest.approx(1.0 + 200 * 0.02, abs=0.002)  # placed by its RTP clock


async def test_close_twice_returns_the_same_result(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "a.webm", start_time=0.0)
    recorder.add_track("mic", "audio", "opus", 48000, AUDIO_PT)
    recorder.on_rtp("mic", _opus_rtp(1, 960), 0.0)
    first, second = await asyncio.gather(recorder.close(), recorder.close())
    assert first is second is await recorder.close()
    recorder.on_rtp("mic", _opus_rtp(2, 1920), 0.02)  # after close: ignored
    assert recorder.ignored_packets == 1


async def test_nothing_recorded_raises(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "empty.webm")
    recorder.add_track("cam", "video", "VP8", 90000, VIDEO_PT)
    recorder.on_rtp("cam", b"not rtp", 1.0)
    recorder.on_rtp("unknown", _opus_rtp(1, 1), 1.0)
    with pytest.raises(EmptyRecordingError):
        await recorder.close()
    assert recorder.ignored_packets == 2
    assert not (tmp_path / "empty.webm").exists()


def test_add_track_validates() -> None:
    recorder = Recorder("/tmp/unused.webm")
    with pytest.raises(ValueError, match="cannot record"):
        recorder.add_track("a", "audio", "G722", 8000, 9)
    with pytest.raises(ValueError, match="video codec"):
        recorder.add_track("a", "audio", "VP8", 90000, 96)
    with pytest.raises(ValueError, match="48000"):
        recorder.add_track("a", "audio", "opus", 16000, 111)
    recorder.add_track("a", "audio", "OPUS", 48000, 111)
    with pytest.raises(ValueError, match="already"):
        recorder.add_track("a", "audio", "opus", 48000, 111)


def test_unwrap() -> None:
    assert unwrap(2, 65534, 16) == 65538
    assert unwrap(65534, 65538, 16) == 65534
    assert unwrap(5, 5, 16) == 5
    assert unwrap(100, 2**32 - 100, 32) == 2**32 + 100
    assert unwrap(2**32 - 100, 2**32 + 100, 32) == 2**32 - 100


def test_vp8_payload_descriptor() -> None:
    assert vp8_split(b"\x10abc") == (True, b"abc")  # S=1, PID=0, no extensions
    assert vp8_split(b"\x00abc") == (False, b"abc")  # continuation
    assert vp8_split(b"\x90\x80\x81\x02abc") == (True, b"abc")  # 15-bit PictureID
    assert vp8_split(b"\x90\xe0\x05\x11\x22abc") == (True, b"abc")  # PictureID, TL0PICIDX, TID
    assert vp8_split(b"\x11abc")[0] is False  # partition 1 does not start a frame
    with pytest.raises(ValueError):
        vp8_split(b"\x90\x80\x81")


def test_h264_depacketization() -> None:
    sps, pps, idr = b"\x67\x42\xc0\x1f\xaa", b"\x68\xce\x3c\x80", b"\x65" + bytes(range(200))
    stap_a = b"\x18" + struct.pack("!H", len(sps)) + sps + struct.pack("!H", len(pps)) + pps
    fu = [
        bytes([0x7C, 0x80 | 5]) + idr[1:80],
        bytes([0x7C, 5]) + idr[80:150],
        bytes([0x7C, 0x40 | 5]) + idr[150:],
    ]
    assert h264_nal_units([stap_a, *fu]) == [sps, pps, b"\x65" + idr[1:]]
    assert h264_nal_units([b"\x41\x9a\x00"]) == [b"\x41\x9a\x00"]  # single NAL unit
    with pytest.raises(ValueError):
        h264_nal_units([stap_a, fu[0], fu[1]])  # the end fragment is missing
    with pytest.raises(ValueError):
        h264_nal_units([fu[1], fu[2]])  # start fragment missing
    with pytest.raises(ValueError):
        h264_nal_units([b"\x19\x00\x00"])  # STAP-B is not used by WebRTC


def test_h264_access_unit_start() -> None:
    assert h264_starts_picture(b"\x67\x42")  # SPS
    assert h264_starts_picture(b"\x65\x88\x84")  # IDR slice with first_mb_in_slice = 0
    assert not h264_starts_picture(b"\x65\x40\x84")  # a later slice of the same picture
    assert h264_starts_picture(b"\x18\x00\x02\x67\x42")  # STAP-A beginning with an SPS
    assert h264_starts_picture(b"\x7c\x85\x88")  # FU-A start of an IDR's first slice
    assert not h264_starts_picture(b"\x7c\x05\x88")  # FU-A middle


def _encoded_sps(width: int, height: int, profile: str) -> bytes:
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, 30)
    codec.options = {"profile": profile, "tune": "zerolatency"}
    data = b"".join(bytes(p) for p in codec.encode(video_frame(0, width, height)))
    data += b"".join(bytes(p) for p in codec.encode(None))
    units = [u.lstrip(b"\x00") for u in data.split(b"\x00\x00\x01")]
    return next(u for u in units if u and u[0] & 0x1F == 7)


@pytest.mark.parametrize(
    ("width", "height", "profile"),
    [(320, 240, "baseline"), (1920, 1080, "high"), (854, 480, "main")],
)
def test_sps_size(width: int, height: int, profile: str) -> None:
    assert h264_sps_size(_encoded_sps(width, height, profile)) == (width, height)


def test_recording_result_is_plain_data() -> None:
    result = RecordingResult(Path("x.webm"), 1.0, 10, "video/webm")
    assert result.tracks == ()
