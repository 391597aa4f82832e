"""Load test: one SFU process, one publisher (pre-encoded VP8 + Opus), N viewers that behave like browsers.

``./scripts/loadtest --viewers 200 --duration 30 [--ramp 20] [--sfu ws://host:port/ws] [--procs 2]
[--workers K] [--gallery G [--page-s S]] [--viewer-loss PCT] [--no-rtcp] [--client-nice N]``

The SFU runs in its own process (started here unless ``--sfu`` is given; then ``LMS_SFU_SECRET`` must match
it) and its CPU is read with psutil on its pid. Viewers are real aiortc peer connections (ICE, DTLS, SRTP)
spread over worker processes that compete for the CPU as real load does. Like browsers, each viewer sends an
SRTCP receiver report about once a second on its own clock and NACKs gaps in video at once; they count RTP at
the ICE layer without decrypting or decoding (a 1-in-50 sample is SRTP-decrypted to prove the stream is
valid). The publisher sends whole frames back to back, as aiortc and browsers do. In the same run the floor —
libsrtp protect plus one ``sendto`` per packet in a tight loop — is measured and the SFU's CPU per forwarded
packet reported as a multiple of it. With ``--gallery G`` the first G students also publish a small camera
(320x180, 15 fps, 150 kbps) and the teacher turns the pages of their gallery during the hold (``GalleryPager``):
the SFU forwards each camera to the teacher only while its page is shown. Prints a table, then one JSON
line last.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import math
import multiprocessing as mp
import os
import random
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from . import internals, rtp

_SEQ_SSRC = struct.Struct("!2xH4xI")
SAMPLE_DECRYPT_EVERY = 50
HELD_WITHIN_S = 3.0  # a held viewer received a packet in the last seconds of the hold
TEACHER = "teacher"  # the load test's teacher's user id
MAX_SPEAKERS = 4  # classroom.MAX_STAGE
GALLERY_FPS, GALLERY_KBPS = 15, 150  # a student's gallery camera: 320x180, as the room page sends it


# --- media -------------------------------------------------------------------------------------


def encode_media(
    out_dir: Path, *, seconds: int = 4, fps: int = 30, kbps: int = 600, width: int = 640, height: int = 360
) -> tuple[Path, Path]:
    """Encode a moving test pattern (VP8, 640x360 — a gallery camera: 320x180 —, 1 s GOP) and a tone (Opus)
    once; cached on disk."""
    import av
    from av import AudioFrame, VideoFrame

    video_path = out_dir / f"video-{width}x{height}-{seconds}s-{fps}fps-{kbps}k.bin"
    audio_path = out_dir / f"audio-{seconds}s.bin"
    if video_path.exists() and audio_path.exists():
        return video_path, audio_path
    out_dir.mkdir(parents=True, exist_ok=True)

    ctx = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = fractions.Fraction(1, fps)
    ctx.framerate = fractions.Fraction(fps, 1)
    ctx.bit_rate = kbps * 1000
    ctx.gop_size = fps
    ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "error-resilient": "1"}
    frames: list[bytes] = []
    for n in range(seconds * fps):
        frame = VideoFrame(width, height, "yuv420p")
        bar = width // 16
        x = (n * 8) % (width - bar)
        rows = bytearray()
        for y in range(height):
            shade = (y + n * 3) % 200 + 20
            rows += bytes([shade]) * x + bytes([235]) * bar + bytes([shade]) * (width - bar - x)
        frame.planes[0].update(bytes(rows))
        frame.planes[1].update(bytes([(n * 5) % 255]) * (width // 2 * height // 2))
        frame.planes[2].update(bytes([128]) * (width // 2 * height // 2))
        frame.pts = n
        frame.time_base = ctx.time_base
        if n % fps == 0:
            frame.pict_type = av.video.frame.PictureType.I
        for packet in ctx.encode(frame):
            frames.append(bytes(packet))
    for packet in ctx.encode(None):
        frames.append(bytes(packet))

    actx = av.CodecContext.create("libopus", "w")
    actx.sample_rate = 48000
    actx.layout = "stereo"
    actx.format = "s16"
    actx.bit_rate = 48000
    chunks: list[bytes] = []
    samples = 960
    for n in range(seconds * 50):
        aframe = AudioFrame(format="s16", layout="stereo", samples=samples)
        pcm = bytearray()
        for i in range(samples):
            v = (
                int(8000 * math.sin(2 * math.pi * 440 * (n * samples + i) / 48000))
                if (n // 25) % 2 == 0
                else 0
            )
            pcm += struct.pack("<hh", v, v)
        aframe.planes[0].update(bytes(pcm))
        aframe.sample_rate = 48000
        aframe.pts = n * samples
        aframe.time_base = fractions.Fraction(1, 48000)
        for packet in actx.encode(aframe):
            chunks.append(bytes(packet))

    def dump(path: Path, items: list[bytes]) -> None:
        with path.open("wb") as f:
            for item in items:
                f.write(struct.pack("!I", len(item)) + item)

    dump(video_path, frames)
    dump(audio_path, chunks)
    return video_path, audio_path


def load_packets(path: Path) -> list[bytes]:
    """Read a length-prefixed packet file written by encode_media."""
    data = path.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from("!I", data, pos)
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out


def make_packet_track(kind: str, packets: list[bytes], rate: int, step: int) -> Any:
    """A MediaStreamTrack yielding pre-encoded av.Packets in real time (aiortc packetizes, never encodes)."""
    import av
    from aiortc import MediaStreamTrack

    class PacketTrack(MediaStreamTrack):
        def __init__(self) -> None:
            super().__init__()
            self.kind = kind
            self._n = 0
            self._start: float | None = None
            self._time_base = fractions.Fraction(1, rate)

        async def recv(self) -> av.Packet:  # type: ignore[type-arg]
            if self._start is None:
                self._start = time.monotonic()
            due = self._start + self._n * step / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            packet = av.Packet(packets[self._n % len(packets)])
            packet.pts = self._n * step
            packet.time_base = self._time_base
            self._n += 1
            return packet

    return PacketTrack()


def packet_sizes(video: list[bytes], audio: list[bytes], seconds: int = 2) -> list[int]:
    """The RTP packet sizes of `seconds` of the teacher's stream (1200-byte MTU, 12-byte header + 1 byte VP8
    descriptor, Opus whole), in sending order: what the floor below protects and sends."""
    out: list[int] = []
    fps = 30
    for n in range(seconds * fps):
        frame = len(video[n % len(video)])
        parts = max(1, -(-frame // 1100))
        out += [12 + 1 + -(-frame // parts)] * parts
        if n % 3 != 2:  # 50 Opus packets a second against 30 frames
            out.append(12 + len(audio[n % len(audio)]))
    return out


def measure_floor(sizes: list[int], seconds: float = 2.0) -> float:
    """CPU µs per packet of the cheapest forward there can be: libsrtp protect plus one ``sendto`` of the
    packet, in a tight loop, on this machine now. The SFU's cost is reported as a multiple of it."""
    from pylibsrtp import Policy, Session

    policy = Policy(
        key=os.urandom(30),
        ssrc_type=Policy.SSRC_ANY_OUTBOUND,
        srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    )
    session = Session(policy)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))  # never read: once its buffer is full the kernel drops, sendto still sends
        addr = rx.getsockname()
        tx.setblocking(False)
        bodies = [os.urandom(n - 12) for n in sizes]
        header = struct.Struct("!BBHII")
        seq = sent = 0
        cpu0, wall_end = time.process_time(), time.monotonic() + seconds
        while time.monotonic() < wall_end:
            for body in bodies:
                seq += 1
                packet = header.pack(0x80, 96, seq & 0xFFFF, seq * 3000, 0x1234) + body
                with contextlib.suppress(BlockingIOError):
                    tx.sendto(session.protect(packet), addr)
                sent += 1
        return 1e6 * (time.process_time() - cpu0) / sent
    finally:
        rx.close()
        tx.close()


# --- viewers (worker processes) ----------------------------------------------------------------


@dataclass
class StreamCount:
    """Packets seen on one SSRC, with the extended highest sequence number, and what a browser keeps to
    report on it: the interval counters of its receiver reports and the sequence numbers it NACKed."""

    received: int = 0
    first: int = -1
    max_ext: int = -1
    video: bool = False
    expected_prior: int = 0
    received_prior: int = 0
    nacked: set[int] = field(default_factory=set)
    recovered: int = 0
    duplicates: int = 0

    def report_block(self, ssrc: int) -> bytes:
        """An RFC 3550 report block (fraction and cumulative loss, highest sequence); resets the interval."""
        expected = self.max_ext - self.first + 1
        lost = max(0, min(expected - self.received, 0x7FFFFF))
        expected_interval = expected - self.expected_prior
        lost_interval = expected_interval - (self.received - self.received_prior)
        self.expected_prior, self.received_prior = expected, self.received
        fraction = (
            min(255, (lost_interval << 8) // expected_interval)
            if expected_interval > 0 < lost_interval
            else 0
        )
        return struct.pack("!IIIIII", ssrc, (fraction << 24) | lost, self.max_ext & 0xFFFFFFFF, 0, 0, 0)


@dataclass
class Viewer:
    """One load-test subscriber."""

    index: int
    started: float = 0.0
    first_media: float | None = None
    all_media: float | None = None  # when the last of the streams (video waits for a key frame) arrived
    streams: dict[int, StreamCount] = field(default_factory=dict)
    failed: bool = False
    error: str | None = None
    srtp_ok: int = 0
    srtp_errors: int = 0
    client: Any = None
    rtcp_sent: int = 0
    nacks_sent: int = 0
    send_rtcp: Any = None  # protect and send one compound RTCP packet on the subscribe connection
    own_ssrc: int = 0
    loss: float = 0.0  # share of incoming video packets dropped on arrival, as a lossy network would
    last_rx: float = 0.0  # when the last RTP packet arrived (a viewer still held receives until the end)
    # The teacher's SSRCs in the subscribe offers (msid = the owner): loss is measured on these; on-stage
    # speakers' audio (``--speakers``) is counted apart.
    teacher_ssrcs: set[int] = field(default_factory=set)
    stage_task: asyncio.Task[None] | None = None  # a speaker waiting to be called on stage (``--speakers``)

    def snapshot(self) -> dict[int, tuple[int, int]]:
        return {ssrc: (s.received, s.max_ext) for ssrc, s in self.streams.items()}


def _count_rtp(viewer: Viewer, pc: Any) -> None:
    """Before answering: keep aiortc's receivers idle (no decoder threads, no receiver RTCP tasks)."""

    async def no_receive(*args: object, **kwargs: object) -> None:
        return None

    for t in pc.getTransceivers():
        t.receiver.receive = no_receive
    if getattr(pc, "_load_hooked", False):
        return
    pc._load_hooked = True

    def on_state() -> None:
        if pc.connectionState in ("failed", "closed") and not viewer.failed:
            viewer.failed = True

    pc.on("connectionstatechange", on_state)


def _hook_sockets(viewer: Viewer, pc: Any) -> None:
    """After answering (sockets exist): count RTP as it comes off the socket, before STUN parsing."""
    transceivers = pc.getTransceivers()
    if not transceivers:
        return
    dtls = transceivers[0].receiver.transport
    conn = dtls.transport._connection
    streams = viewer.streams
    unpack = _SEQ_SSRC.unpack_from
    counter = [0]
    video_ssrcs = _video_ssrcs(pc.remoteDescription.sdp if pc.remoteDescription else "")
    owners = _ssrc_owners(pc.remoteDescription.sdp if pc.remoteDescription else "")
    viewer.teacher_ssrcs.update(ssrc for ssrc, owner in owners.items() if owner == TEACHER)
    loop = asyncio.get_running_loop()

    def send_rtcp(packet: bytes) -> None:
        # As a browser's RTCP: SRTCP-protected on the same bundled transport (aiortc protects it).
        if dtls.state == "connected":
            loop.create_task(dtls._send_rtp(packet)).add_done_callback(_ignore_result)
            viewer.rtcp_sent += 1

    viewer.send_rtcp = send_rtcp
    lossy = viewer.loss > 0
    viewer.own_ssrc = viewer.own_ssrc or secrets.randbits(32) or 1

    def count(data: bytes) -> None:
        seq, ssrc = unpack(data)
        s = streams.get(ssrc)
        if s is None:
            s = streams[ssrc] = StreamCount(first=seq, max_ext=seq, video=ssrc in video_ssrcs)
            now = time.monotonic()
            if viewer.first_media is None:
                viewer.first_media = now
            viewer.all_media = now
        else:
            ext = s.max_ext
            d = (seq - ext) & 0xFFFF
            if d < 0x8000:
                s.max_ext = ext + d
                if d > 1 and s.video:
                    # A gap: a browser NACKs the missing video packets at once (RFC 4585 generic NACK).
                    missing = [ext + i for i in range(1, min(d, 33))]
                    s.nacked.update(missing)
                    rr = rtp.build_rr(viewer.own_ssrc, [s.report_block(ssrc)])
                    send_rtcp(rr + rtp.build_nack(viewer.own_ssrc, ssrc, [m & 0xFFFF for m in missing]))
                    viewer.nacks_sent += 1
            elif d:
                # An old sequence number: a retransmission we asked for, else a duplicate (not counted).
                ext_seq = ext - ((ext - seq) & 0xFFFF)
                if ext_seq in s.nacked:
                    s.nacked.discard(ext_seq)
                    s.recovered += 1
                else:
                    s.duplicates += 1
                    return
            else:
                s.duplicates += 1
                return
        s.received += 1
        viewer.last_rx = time.monotonic()
        counter[0] += 1
        if counter[0] % SAMPLE_DECRYPT_EVERY == 0 and dtls._rx_srtp is not None:
            try:
                dtls._rx_srtp.unprotect(data)
                viewer.srtp_ok += 1
            except Exception:
                viewer.srtp_errors += 1

    for protocol in conn._protocols:
        if getattr(protocol, "_load_hooked", False):
            continue
        protocol._load_hooked = True
        original = protocol.datagram_received

        # aioice tries to parse every datagram as STUN first (an exception per RTP packet); RTP is
        # recognisable by its first two bytes, so count it and skip the rest of the stack.
        def datagram_received(data: bytes, addr: Any, _original: Any = original) -> None:
            if len(data) >= 12 and 127 < data[0] < 192 and not 191 < data[1] < 224:
                if lossy and random.random() < viewer.loss and unpack(data)[1] in video_ssrcs:
                    return  # lost on the way (--viewer-loss): the gap is NACKed when the next one comes
                count(data)
                return
            _original(data, addr)

        protocol.datagram_received = datagram_received
        sock = protocol.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        # A browser reads its socket dry; asyncio reads one datagram per socket per loop iteration, which
        # with 500 viewers a process is about the stream's own rate: the viewers' kernel queues grew until
        # they overflowed and dropped the SFU's consent checks with the media, and the SFU was blamed.
        with contextlib.suppress(AttributeError):  # internals.InternalsChanged: one datagram per wake-up
            internals.drain_reads(protocol.transport, 64)


class LagWatch:
    """The worst event-loop lag of this process (a 100 ms sleep that took longer), from now until stopped."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.1)
            self.worst = max(self.worst, time.monotonic() - t - 0.1)

    def take(self) -> float:
        """The worst lag since the last take (seconds, rounded), and start again."""
        worst, self.worst = self.worst, 0.0
        return round(worst, 3)

    def stop(self) -> None:
        self._task.cancel()


def _ignore_result(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # a send on a closing transport: the viewer's state says so elsewhere


def _ssrc_owners(sdp: str) -> dict[int, str]:
    """SSRC → owner (the msid's stream id, which the SFU sets to the publisher's user id) of an offer."""
    out: dict[int, str] = {}
    owner = ""
    for line in sdp.splitlines():
        if line.startswith("m="):
            owner = ""
        elif line.startswith("a=msid:"):
            owner = line[7:].split(" ", 1)[0]
        elif line.startswith("a=ssrc:") and owner:
            with contextlib.suppress(ValueError):
                out[int(line[7:].split(" ", 1)[0])] = owner
    return out


def _video_ssrcs(sdp: str) -> set[int]:
    """SSRCs the SFU announced in video m-sections of its subscribe offer (only video is NACKed)."""
    out: set[int] = set()
    video = False
    for line in sdp.splitlines():
        if line.startswith("m="):
            video = line.startswith("m=video")
        elif video and line.startswith("a=ssrc:"):
            with contextlib.suppress(ValueError):
                out.add(int(line[7:].split(" ", 1)[0]))
    return out


async def _receiver_reports(viewers: list[Viewer]) -> None:
    """Every viewer sends a receiver report about once a second on its own clock, as browsers do."""
    # Each viewer at its own phase, 0.5–1.5 s apart (RFC 3550's randomised interval around 1 s).
    due = {v.index: time.monotonic() + secrets.randbelow(1000) / 1000 for v in viewers}
    while True:
        now = time.monotonic()
        for v in viewers:
            if due[v.index] > now:
                continue
            due[v.index] = now + 0.5 + secrets.randbelow(1000) / 1000
            if v.send_rtcp is None or v.failed or not v.streams:
                continue
            blocks = [s.report_block(ssrc) for ssrc, s in list(v.streams.items())]
            v.send_rtcp(rtp.build_rr(v.own_ssrc, blocks))
        await asyncio.sleep(0.05)


async def _run_viewer(
    viewer: Viewer,
    url: str,
    token: str,
    session: Any,
    camera: list[bytes] | None = None,
    microphone: list[bytes] | None = None,
) -> None:
    """Join as a student; with ``camera`` (a pre-encoded 15 fps clip) publish it too: a gallery camera; with
    ``microphone`` (Opus packets) publish it once the teacher brings this student on stage."""
    from .client import SfuClient

    viewer.started = time.monotonic()
    client = SfuClient(
        url,
        token,
        session=session,
        on_subscribe_pc=lambda pc: _count_rtp(viewer, pc),
        on_subscribe_answered=lambda pc: _hook_sockets(viewer, pc),
    )
    viewer.client = client
    try:
        await client.connect(timeout=60)
        if camera is not None:
            await client.publish(
                [make_packet_track("video", camera, 90000, 90000 // GALLERY_FPS)], timeout=60
            )
        if microphone is not None:
            # In the background: the joins are over (and the teacher calls the speakers) only once this returns.
            viewer.stage_task = asyncio.get_running_loop().create_task(_speak(viewer, client, microphone))
    except Exception as exc:
        viewer.failed = True
        viewer.error = repr(exc)


async def _speak(viewer: Viewer, client: Any, microphone: list[bytes]) -> None:
    """Once the teacher brings this student on stage, publish the microphone (as the room page does)."""
    me = f"viewer-{viewer.index}"
    try:
        await client.wait_for(lambda m: m["type"] == "stage" and m["user"] == me and m["on"], timeout=3600)
        await client.publish([make_packet_track("audio", microphone, 48000, 960)], timeout=60)
    except Exception as exc:
        viewer.error = f"speaker: {exc!r}"


async def _worker(
    conn: Connection,
    wid: int,
    url: str,
    secret: str,
    room: str,
    indices: list[int],
    ramp: float,
    ice_hosts: list[str],
    rtcp: bool,
    loss: float = 0.0,
    gallery_path: str | None = None,
    gallery_n: int = 0,
    audio_path: str | None = None,
    speakers: tuple[int, ...] = (),
) -> None:
    import aiohttp

    from contracts.tokens import issue_join_token

    from . import ice

    ice.restrict_host_addresses(ice_hosts)
    loop = asyncio.get_running_loop()
    viewers = [Viewer(i, loss=loss) for i in indices]
    camera = load_packets(Path(gallery_path)) if gallery_path else None
    microphone = load_packets(Path(audio_path)) if audio_path and speakers else None
    reports = loop.create_task(_receiver_reports(viewers)) if rtcp else None
    # This process's own event-loop lag: a load generator that falls behind answers ICE consent late and reads
    # its sockets late, and the figures would blame the SFU for it.
    lag = LagWatch()
    connector = aiohttp.TCPConnector(limit=0)
    session = aiohttp.ClientSession(connector=connector)
    tasks = []
    t0 = time.monotonic()
    for n, v in enumerate(viewers):
        due = t0 + n / ramp
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        token = issue_join_token(
            secret, room=room, user_id=f"viewer-{v.index}", name=f"학생 {v.index}", role="student", publish=[]
        )
        clip = camera if v.index < gallery_n else None
        mic = microphone if v.index in speakers else None
        tasks.append(loop.create_task(_run_viewer(v, url, token, session, clip, mic)))
    await asyncio.gather(*tasks)
    # Give the last viewers time to finish ICE/DTLS and receive a key frame.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(len(v.streams) < 2 and not v.failed for v in viewers):
        await asyncio.sleep(0.2)
    conn.send(
        {
            "event": "ramped",
            "wid": wid,
            "joined": sum(1 for v in viewers if v.first_media),
            "join_s": [v.first_media - v.started for v in viewers if v.first_media],
            "join_all_s": [v.all_media - v.started for v in viewers if v.all_media and len(v.streams) >= 2],
            "errors": [v.error for v in viewers if v.error][:5],
            "loop_lag_max_s": lag.take(),
        }
    )

    snapshots: dict[int, dict[int, tuple[int, int]]] = {}
    failed_before: set[int] = set()
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "start_hold":
            lag.take()
            snapshots = {v.index: v.snapshot() for v in viewers}
            failed_before = {v.index for v in viewers if v.failed}
            conn.send({"event": "hold_started"})
        elif command == "end_hold":
            received = expected = held = speaker_rx = 0
            per_viewer: list[tuple[float, int, int, int]] = []
            for v in viewers:
                before = snapshots.get(v.index, {})
                got = exp = 0
                for ssrc, s in v.streams.items():
                    r0, m0 = before.get(ssrc, (0, s.first - 1))
                    if v.teacher_ssrcs and ssrc not in v.teacher_ssrcs:
                        speaker_rx += s.received - r0  # a speaker's microphone: not what loss is measured on
                        continue
                    got += s.received - r0
                    exp += s.max_ext - m0
                expected += exp
                received += got
                per_viewer.append((round(1 - got / exp, 4) if exp else 0.0, v.index, exp, len(v.streams)))
                # Held: still connected and still receiving (a viewer whose class stalled is not held).
                if got > 0 and not v.failed and time.monotonic() - v.last_rx < HELD_WITHIN_S:
                    held += 1
            conn.send(
                {
                    "event": "hold_ended",
                    "received": received,
                    "expected": expected,
                    "held": held,
                    "consent_failures": sum(1 for v in viewers if v.failed and v.index not in failed_before),
                    "srtp_ok": sum(v.srtp_ok for v in viewers),
                    "srtp_errors": sum(v.srtp_errors for v in viewers),
                    "rtcp_sent": sum(v.rtcp_sent for v in viewers),
                    "nacks_sent": sum(v.nacks_sent for v in viewers),
                    "recovered": sum(s.recovered for v in viewers for s in v.streams.values()),
                    "worst": sorted(per_viewer, reverse=True)[:3],
                    "loop_lag_max_s": lag.take(),
                    "speaker_rx": speaker_rx,
                }
            )
        elif command == "stop":
            break
    if reports is not None:
        reports.cancel()
    lag.stop()
    for v in viewers:
        if v.stage_task is not None:
            v.stage_task.cancel()
    await asyncio.gather(*(v.client.close() for v in viewers if v.client is not None), return_exceptions=True)
    await session.close()
    conn.send({"event": "stopped"})


def worker_main(
    conn: Connection,
    wid: int,
    url: str,
    secret: str,
    room: str,
    indices: list[int],
    ramp: float,
    ice_hosts: list[str],
    rtcp: bool,
    nice: int,
    loss: float,
    gallery_path: str | None = None,
    gallery_n: int = 0,
    audio_path: str | None = None,
    speakers: tuple[int, ...] = (),
) -> None:
    """Entry point of a viewer process."""
    # By default the viewers compete for the CPU as real load does (nice 0): a load generator that yields
    # to the SFU flatters it. --client-nice lowers their priority to isolate the SFU's own cost.
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)
    # Browsers keep ICE consent as RFC 7675 says (30 s without an answer), not as aioice does (six 0.5 s
    # misses); the viewers and the publisher do the same.
    from .__main__ import raise_file_limit

    raise_file_limit()  # hundreds of viewers a process: more sockets than the usual 1,024
    if os.environ.get("IEUM_LT_VIEWER_CONSENT", "1") == "1":
        from . import consent

        consent.install()
    asyncio.run(
        _worker(
            conn,
            wid,
            url,
            secret,
            room,
            indices,
            ramp,
            ice_hosts,
            rtcp,
            loss,
            gallery_path,
            gallery_n,
            audio_path,
            speakers,
        )
    )


# --- controller --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _packets_sent(pc: Any) -> int:
    """RTP packets the publisher has sent so far, from its own statistics (outbound-rtp packetsSent)."""
    report = await pc.getStats()
    return sum(int(getattr(s, "packetsSent", 0) or 0) for s in report.values() if s.type == "outbound-rtp")


async def _aget_json(url: str) -> dict[str, Any]:
    """``_get_json`` off the event loop: the publisher shares this loop, and a slow answer from a busy SFU
    must not stall the publisher (a stalled publisher then sends seconds of media at once, which no browser
    does)."""
    return await asyncio.get_running_loop().run_in_executor(None, _get_json, url)


def _get_json(url: str) -> dict[str, Any]:
    # /metrics wants the SFU's metrics token when one is configured (LMS_SFU_METRICS_TOKEN).
    token = os.environ.get("LMS_SFU_METRICS_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as resp:
        return dict(json.loads(resp.read()))


async def _recv(conn: Connection) -> dict[str, Any]:
    return dict(await asyncio.get_running_loop().run_in_executor(None, conn.recv))


def _udp_rcvbuf_errors() -> int | None:
    """Kernel-wide UDP datagrams dropped for a full receive buffer (Linux), to tell where loss happens."""
    try:
        lines = [
            line.split()
            for line in Path("/proc/net/snmp").read_text().splitlines()
            if line.startswith("Udp:")
        ]
        return int(lines[1][lines[0].index("RcvbufErrors")])
    except (OSError, ValueError, IndexError):
        return None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the whole load test and return the summary."""
    import psutil

    from contracts.tokens import issue_join_token

    from . import consent, ice
    from .client import SfuClient

    ice.restrict_host_addresses(args.ice_host)
    consent.install()  # the publisher keeps ICE consent as a browser does (RFC 7675), as the viewers do
    video_path, audio_path = encode_media(Path(args.media_dir), kbps=args.video_kbps)
    sizes = packet_sizes(load_packets(video_path), load_packets(audio_path))
    floor_before = measure_floor(sizes)  # before anything else runs: the machine as it is now
    secret = os.environ.get("LMS_SFU_SECRET") or secrets.token_hex(32)
    sfu_proc: subprocess.Popen[bytes] | None = None
    if args.sfu:
        url = args.sfu
        http = url.replace("ws://", "http://").replace("wss://", "https://").rsplit("/ws", 1)[0]
    else:
        port = _free_port()
        env = dict(os.environ, LMS_SFU_SECRET=secret)
        env.pop("LMS_SFU_WEBHOOK_URL", None)
        sfu_proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "webrtc",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--ice-host",
                "127.0.0.1",
                "--log-level",
                args.sfu_log_level,
                "--workers",
                str(args.workers),
                "--udp-port",
                str(getattr(args, "udp_port", 0)),
            ],
            env=env,
        )
        url, http = f"ws://127.0.0.1:{port}/ws", f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                _get_json(http + "/healthz")
                break
            except OSError:
                await asyncio.sleep(0.1)
        first = await _await_workers(http, args.workers)
        sfu_pid = int(first["pid"])
        # A local SFU is measured with psutil on its pids (the coordinator's and its relay workers'); a remote
        # one reports its own CPU seconds.
        local = urllib.parse.urlparse(http).hostname in ("127.0.0.1", "localhost", "::1")
        sfu_procs = [psutil.Process(pid) for pid in _pids(first)] if local else []
        sfu = sfu_procs[0] if sfu_procs else None

        def sfu_cpu() -> tuple[float, float]:
            if sfu_procs:
                times = [proc.cpu_times() for proc in sfu_procs]
                return sum(t.user for t in times), sum(t.system for t in times)
            return _total(_get_json(http + "/metrics"), "cpu_seconds"), 0.0

        video = make_packet_track("video", load_packets(video_path), 90000, 3000)
        audio = make_packet_track("audio", load_packets(audio_path), 48000, 960)
        room = f"load-{secrets.token_hex(3)}"
        # --gallery G: the first G students publish a small camera; the teacher pages through them (below).
        gallery_n = max(0, min(args.gallery, args.viewers))
        # --speakers S: the last S students are brought on stage after the joins and publish a microphone.
        speakers_n = max(0, min(getattr(args, "speakers", 0), MAX_SPEAKERS, args.viewers - gallery_n))
        speakers = tuple(range(args.viewers - speakers_n, args.viewers))
        gallery_path = (
            str(
                encode_media(Path(args.media_dir), fps=GALLERY_FPS, kbps=GALLERY_KBPS, width=320, height=180)[
                    0
                ]
            )
            if gallery_n
            else None
        )
        # The teacher's subscribe side counts what comes (the gallery) as a viewer does, without decoding.
        looker = Viewer(-1)
        teacher = SfuClient(
            url,
            issue_join_token(
                secret,
                room=room,
                user_id=TEACHER,
                name="부하 선생님",
                role="teacher",
                publish=["audio", "video", "screen"],
            ),
            on_subscribe_pc=lambda pc: _count_rtp(looker, pc),
            on_subscribe_answered=lambda pc: _hook_sockets(looker, pc),
        )
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        await teacher.publish([video, audio])
        publish_pc = teacher.publish_pc
        assert publish_pc is not None

        publisher_lost: list[str] = []
        closing = [False]  # our own close at the end is not a loss

        def on_publisher_state() -> None:
            if publish_pc.connectionState in ("failed", "closed") and not closing[0]:
                publisher_lost.append(time.strftime("%X"))
            print(
                f"[publisher] connection {publish_pc.connectionState} at {time.strftime('%X')}",
                file=sys.stderr,
                flush=True,
            )

        publish_pc.on("connectionstatechange", on_publisher_state)
        # The publisher shares this event loop; a stalled loop would starve its ICE consent answers.
        lag = LagWatch()

        ctx = mp.get_context("spawn")
        procs = max(1, min(args.procs, args.viewers))
        workers = []
        for wid in range(procs):
            parent, child = ctx.Pipe()
            indices = list(range(wid, args.viewers, procs))
            p = ctx.Process(
                target=worker_main,
                args=(
                    child,
                    wid,
                    url,
                    secret,
                    room,
                    indices,
                    args.ramp / procs,
                    args.ice_host,
                    not args.no_rtcp,
                    args.client_nice,
                    args.viewer_loss / 100.0,
                    gallery_path,
                    gallery_n,
                    str(audio_path),
                    speakers,
                ),
                daemon=True,
            )
            p.start()
            workers.append((p, parent))
        ramp_started = time.monotonic()
        ramped = [await _recv(conn) for _, conn in workers]
        ramp_s = time.monotonic() - ramp_started
        for i in speakers:
            await teacher.send({"type": "stage", "user": f"viewer-{i}", "on": True})
        join_s = [t for r in ramped for t in r["join_s"]]
        join_all_s = [t for r in ramped for t in r["join_all_s"]]

        await asyncio.sleep(args.settle)
        m0 = await _aget_json(http + "/metrics")
        ours = [psutil.Process()] + [psutil.Process(p.pid) for p, _ in workers if p.pid is not None]
        ours.extend(sfu_procs)

        def busy() -> tuple[float, float]:
            # (machine-wide busy CPU seconds, CPU seconds of this test's own processes)
            t = psutil.cpu_times()
            total = sum(t) - t.idle - getattr(t, "iowait", 0.0)
            own = 0.0
            for proc in ours:
                with contextlib.suppress(psutil.Error):
                    c = proc.cpu_times()
                    own += c.user + c.system
            return total, own

        busy0 = busy()
        drops0 = _udp_rcvbuf_errors()
        load_1m = os.getloadavg()[0]
        cpu0 = sfu_cpu()
        t0 = time.monotonic()
        if args.profile:
            # py-spy samples the SFU process during the hold (native frames show libsrtp/syscalls).
            profiler = subprocess.Popen(
                [
                    shutil.which("py-spy", path=os.path.dirname(sys.executable)) or "py-spy",
                    "record",
                    "--native",
                    "-o",
                    args.profile,
                    "-d",
                    str(int(args.duration)),
                    "-p",
                    str(sfu_pid),
                    "-f",
                    "speedscope" if args.profile.endswith(".json") else "flamegraph",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        sent0 = await _packets_sent(publish_pc)
        for _, conn in workers:
            conn.send("start_hold")
        for _, conn in workers:
            await _recv(conn)
        gallery = GalleryPager(teacher, looker, gallery_n, args.page_s, not args.no_rtcp, args.gallery_page)
        gallery.start()
        hold_end = time.monotonic() + args.duration
        while (left := hold_end - time.monotonic()) > 0:
            await asyncio.sleep(min(5.0, left))
            m = await _aget_json(http + "/metrics")
            per_worker = " ".join(
                f"w{w.get('worker')}:out={w.get('packets_out')},lag={w.get('loop_lag_max_ms')}ms"
                for w in m.get("workers", [])
            )
            print(
                f"[hold] {per_worker} participants={m['participants']} in={m['packets_in']} in_expected={m['packets_in_expected']} "
                f"in_received={m['packets_in_received']} dropped_in={m['dropped_in']} out={m['packets_out']} cpu={m['cpu']} "
                f"publisher_loop_lag_max={lag.worst:.3f}s sfu_loop_lag_max={m['loop_lag_max_ms']}ms "
                f"gc_pause_max={m.get('gc_pause_max_ms')}ms",
                file=sys.stderr,
                flush=True,
            )
        sent1 = await _packets_sent(publish_pc)
        gallery_summary = await gallery.stop()
        for _, conn in workers:
            conn.send("end_hold")
        ended = [await _recv(conn) for _, conn in workers]
        t1 = time.monotonic()
        cpu1 = sfu_cpu()
        busy1 = busy()
        drops1 = _udp_rcvbuf_errors()
        m1 = await _aget_json(http + "/metrics")
        rss_mb = (
            sum(proc.memory_info().rss for proc in sfu_procs) if sfu_procs else _total(m1, "rss")
        ) / 2**20

        if args.profile:
            with contextlib.suppress(subprocess.TimeoutExpired):
                profiler.wait(30)
        for _, conn in workers:
            conn.send("stop")
        for p, conn in workers:
            with contextlib.suppress(EOFError, OSError):
                await asyncio.wait_for(_recv(conn), 30)
            p.join(10)
        lag.stop()
        closing[0] = True
        await teacher.close()

        # The floor again, now the viewers are gone: the lower of the two is the machine's.
        floor = min(floor_before, measure_floor(sizes))
        cpu_s = sum(cpu1) - sum(cpu0)
        forwarded = _total(m1, "packets_out") - _total(m0, "packets_out")
        received = sum(e["received"] for e in ended)
        expected = sum(e["expected"] for e in ended)
        # What every viewer should have got: all the publisher sent during the hold. Packets still queued at
        # the SFU at the end (a backlog), or never forwarded because the publisher was lost, count as lost.
        publisher_sent = sent1 - sent0
        if publisher_lost:
            # The teacher's connection dropped: viewers were owed the whole hold at the stream's nominal rate.
            publisher_sent = max(publisher_sent, round(len(sizes) / 2 * (t1 - t0)))
        owed = publisher_sent * args.viewers
        wall = t1 - t0
        us_per_packet = 1e6 * cpu_s / forwarded if forwarded else None
        summary = {
            "viewers": args.viewers,
            "workers": args.workers,
            "viewers_held": sum(e["held"] for e in ended),
            "join_p50_s": _round(_percentile(join_s, 0.5)),
            "join_p95_s": _round(_percentile(join_s, 0.95)),
            "join_video_p50_s": _round(_percentile(join_all_s, 0.5)),
            "join_video_p95_s": _round(_percentile(join_all_s, 0.95)),
            "loss_pct": _round(100.0 * max(0, owed - received) / owed if owed else None),
            "loss_seen_pct": _round(100.0 * (expected - received) / expected if expected else None),
            "publisher_sent": publisher_sent,
            "sfu_cpu_pct": _round(100.0 * cpu_s / wall),
            "sfu_cpu_us_per_packet": _round(us_per_packet),
            "floor_us_per_packet": _round(floor),
            "sfu_cost_over_floor": _round(us_per_packet / floor if us_per_packet else None),
            "sfu_rss_mb": _round(rss_mb),
            "sfu_user_pct": _round(100.0 * (cpu1[0] - cpu0[0]) / wall) if sfu is not None else None,
            "sfu_sys_pct": _round(100.0 * (cpu1[1] - cpu0[1]) / wall) if sfu is not None else None,
            "consent_failures": sum(e["consent_failures"] for e in ended)
            + (_total(m1, "timeouts") - _total(m0, "timeouts"))
            + len(publisher_lost),
            "publisher_lost_at": publisher_lost,
            "forwarded_pps": _round(forwarded / wall),
            "packets_in_pps": _round((m1["packets_in"] - m0["packets_in"]) / wall),
            "srtp_sample_ok": sum(e["srtp_ok"] for e in ended),
            "srtp_sample_errors": sum(e["srtp_errors"] for e in ended),
            "viewer_rtcp_sent": sum(e["rtcp_sent"] for e in ended),
            "viewer_nacks_sent": sum(e["nacks_sent"] for e in ended),
            "viewer_recovered": sum(e["recovered"] for e in ended),
            "sfu_rtcp_in": _total(m1, "rtcp_in") - _total(m0, "rtcp_in"),
            "sfu_nacks_in": _total(m1, "nacks") - _total(m0, "nacks"),
            "sfu_retransmits": _total(m1, "retransmits") - _total(m0, "retransmits"),
            # Per SFU process (0: the coordinator, with the publisher): subscribers held and packets forwarded.
            "per_worker": _per_worker(m0, m1, wall),
            "hold_s": _round(wall),
            # Context: the machine is shared; CPU used by processes outside this test during the hold
            # (percent of one core) and the 1-minute load average when the hold began.
            "host_other_cpu_pct": _round(100.0 * ((busy1[0] - busy0[0]) - (busy1[1] - busy0[1])) / wall),
            "host_load_1m": _round(load_1m),
            "host_udp_rcvbuf_drops": drops1 - drops0 if drops0 is not None and drops1 is not None else None,
            "ramp_s": _round(ramp_s),
            "client_procs": procs,
            "errors": [err for r in ramped for err in r["errors"]][:5],
            "worst_viewers": [w for e in ended for w in e["worst"]][:4],
            **gallery_summary,
            # Where the packets were at the end of the hold: the SFU's forwarded share of what it received
            # times the viewers (1.0: it kept up; loss_pct counts whatever had not reached a viewer by then,
            # wherever it waited), and the CPU of the load generator's own processes (percent of one core).
            "sfu_forwarded_share": _round(
                forwarded / ((m1["packets_in"] - m0["packets_in"]) * args.viewers)
                if m1["packets_in"] > m0["packets_in"]
                and not gallery_n  # gallery cameras go to the teacher only
                else None
            ),
            "load_generator_cpu_pct": _round(100.0 * ((busy1[1] - busy0[1]) - cpu_s) / wall),
            # The worst event-loop lag of any viewer process while viewers joined, and during the hold.
            "client_loop_lag_ramp_max_s": max(r["loop_lag_max_s"] for r in ramped),
            "client_loop_lag_hold_max_s": max(e["loop_lag_max_s"] for e in ended),
            # --speakers: on-stage students' audio as each viewer received it (packets/s; the router forwards
            # the three loudest), beside the teacher's stream the loss is measured on.
            "speakers": speakers_n,
            "speaker_pps_per_viewer": _round(sum(e["speaker_rx"] for e in ended) / args.viewers / wall),
        }
        return summary
    finally:
        if sfu_proc is not None:
            sfu_proc.terminate()
            try:
                sfu_proc.wait(15)
            except subprocess.TimeoutExpired:
                sfu_proc.kill()


async def _await_workers(http: str, workers: int, timeout_s: float = 30.0) -> dict[str, Any]:
    """The SFU's /metrics once each of its relay workers has reported (their first report is within 1 s)."""
    deadline = time.monotonic() + timeout_s
    while True:
        m = await _aget_json(http + "/metrics")
        reported = [w for w in m.get("workers", []) if w.get("pid")]
        if len(reported) >= workers - 1 or time.monotonic() > deadline:
            return m
        await asyncio.sleep(0.2)


class GalleryPager:
    """The teacher's gallery during the hold (``--gallery G``): shows the G gallery cameras a page of
    ``router.GALLERY_PAGE`` at a time, turning the page every ``page_s`` seconds as a teacher looking around
    the class would, and measures how long each turn takes the SFU (the ``gallery`` message → the ``tracks``
    message listing exactly the new page) and what reaches the teacher (packets/s, counted like a viewer's)."""

    def __init__(
        self, teacher: Any, looker: Viewer, cameras: int, page_s: float, rtcp: bool, per_page: int = 0
    ) -> None:
        from .router import GALLERY_PAGE

        per_page = min(per_page or GALLERY_PAGE, GALLERY_PAGE)
        users = [f"viewer-{i}" for i in range(cameras)]
        self.pages = [users[i : i + per_page] for i in range(0, len(users), per_page)]
        self.teacher, self.looker, self.page_s, self.rtcp = teacher, looker, page_s, rtcp
        self.switch_s: list[float] = []
        self.timeouts = 0
        self.tasks: list[asyncio.Task[None]] = []
        self.started = 0.0
        self.received0 = 0

    def _received(self) -> int:
        return sum(s.received for s in self.looker.streams.values())

    def start(self) -> None:
        if not self.pages:
            return
        loop = asyncio.get_running_loop()
        self.started, self.received0 = time.monotonic(), self._received()
        self.tasks.append(loop.create_task(self._turn_pages()))
        if self.rtcp:
            self.tasks.append(loop.create_task(_receiver_reports([self.looker])))

    async def _turn_pages(self) -> None:
        for n in range(1_000_000):
            if n and len(self.pages) == 1:
                return  # one page: nothing to turn to
            page = self.pages[n % len(self.pages)]
            began = time.monotonic()
            start = len(self.teacher.messages)
            await self.teacher.send({"type": "gallery", "users": page})
            want = sorted(page)
            try:
                await self.teacher.wait_for(
                    lambda m, want=want: (
                        m["type"] == "tracks"
                        and sorted(t["user"] for t in m["tracks"] if t["kind"] == "gallery") == want
                    ),
                    timeout=max(self.page_s, 10.0),
                    start=start,
                )
                self.switch_s.append(time.monotonic() - began)
            except TimeoutError:
                self.timeouts += 1
            await asyncio.sleep(max(0.0, self.page_s - (time.monotonic() - began)))

    async def stop(self) -> dict[str, Any]:
        """Stop paging; the summary's gallery keys (``{}`` without ``--gallery``)."""
        if not self.pages:
            return {}
        wall = time.monotonic() - self.started
        received = self._received() - self.received0
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        return {
            "gallery_cameras": sum(len(p) for p in self.pages),
            "gallery_pages_turned": len(self.switch_s) + self.timeouts,
            "gallery_switch_p50_s": _round(_percentile(self.switch_s, 0.5)),
            "gallery_switch_p95_s": _round(_percentile(self.switch_s, 0.95)),
            "gallery_switch_timeouts": self.timeouts,
            "gallery_rx_pps": _round(received / wall if wall > 0 else None),
        }


def _pids(m: dict[str, Any]) -> list[int]:
    """The coordinator's pid and its relay workers'."""
    return [int(m["pid"])] + [int(w["pid"]) for w in m.get("workers", []) if w.get("pid")]


def _total(m: dict[str, Any], key: str) -> float:
    """A counter summed over the coordinator and its relay workers."""
    return float(m[key]) + sum(float(w.get(key) or 0) for w in m.get("workers", []))


def _per_worker(m0: dict[str, Any], m1: dict[str, Any], wall: float) -> list[dict[str, Any]]:
    rows = [(m0, m1)] + list(zip(m0.get("workers", []), m1.get("workers", []), strict=False))
    out = []
    for index, (a, b) in enumerate(rows):
        out.append(
            {
                "worker": index,
                "participants": b.get("participants"),
                "out_pps": _round(
                    (float(b.get("packets_out") or 0) - float(a.get("packets_out") or 0)) / wall
                ),
                "cpu_pct": _round(
                    100.0 * (float(b.get("cpu_seconds") or 0) - float(a.get("cpu_seconds") or 0)) / wall
                ),
                "loop_lag_max_ms": b.get("loop_lag_max_ms"),
            }
        )
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def print_table(summary: dict[str, Any]) -> None:
    """Human-readable table (the JSON line follows it)."""
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        print(f"{key:<{width}}  {value}")
    if summary.get("join_p50_s") is not None:
        print(
            "(join = WebSocket connect → first RTP packet; join_video = → every stream, video from a key frame)"
        )
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="scripts/loadtest", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds to hold all viewers")
    parser.add_argument("--ramp", type=float, default=20.0, help="viewer joins per second")
    parser.add_argument("--sfu", default=None, help="ws:// URL of a running SFU (LMS_SFU_SECRET must match)")
    parser.add_argument("--procs", type=int, default=2, help="viewer worker processes")
    parser.add_argument(
        "--workers", type=int, default=1, help="SFU processes to start (the SFU's --workers; 1: one process)"
    )
    parser.add_argument(
        "--udp-port", type=int, default=0, help="the SFU's one UDP port per process (--udp-port; 0: off)"
    )
    parser.add_argument("--video-kbps", type=int, default=600)
    parser.add_argument("--sfu-log-level", default="WARNING", help="log level of the SFU process this starts")
    parser.add_argument(
        "--ice-host", action="append", default=None, help="client ICE host address (default 127.0.0.1)"
    )
    parser.add_argument(
        "--profile", default=None, help="py-spy output file (flamegraph .svg or speedscope .json)"
    )
    parser.add_argument(
        "--no-rtcp", action="store_true", help="viewers send no receiver reports or NACKs (browsers do)"
    )
    parser.add_argument(
        "--client-nice",
        type=int,
        default=0,
        help="nice value of the viewer processes (0: compete as real load)",
    )
    parser.add_argument(
        "--viewer-loss", type=float, default=0.0, help="percent of video packets each viewer loses (NACKed)"
    )
    parser.add_argument(
        "--gallery",
        type=int,
        default=0,
        help="students who publish a gallery camera (320x180, 15 fps); the teacher pages through them",
    )
    parser.add_argument(
        "--page-s", type=float, default=5.0, help="seconds the teacher looks at a gallery page"
    )
    parser.add_argument("--gallery-page", type=int, default=25, help="cameras on a gallery page (at most 25)")
    parser.add_argument(
        "--speakers",
        type=int,
        default=0,
        help="students brought on stage after the joins, each with a microphone",
    )
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after the ramp before measuring")
    parser.add_argument("--media-dir", default=os.path.join(tempfile.gettempdir(), "ieum-loadtest-media"))
    args = parser.parse_args(argv)
    args.ice_host = args.ice_host or ["127.0.0.1"]
    summary = asyncio.run(run(args))
    print_table(summary)
    print(json.dumps(summary, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
