"""The coordinator's side of a multi-process SFU: relay workers that hold subscribers.

With ``--workers K`` (``LMS_SFU_WORKERS``) the SFU process started is the **coordinator**: it keeps every
WebSocket, the classroom, the roster, the router and every publisher, as with one process, and starts K-1
**relay workers** (``python -m webrtc.worker``, ``worker.py``). Each joining participant's subscribe
connection is placed on the least loaded of the K processes (:meth:`WorkerPool.attach`); the router's
decision for a participant placed on a worker is sent there (``want``), the worker offers, and its offer,
the browser's answer and candidates pass through the coordinator's signalling. Each published track that a
worker's subscriber wants is relayed to that worker once, decrypted, over loopback UDP (``relay.py``), so the
per-subscriber cost — rewrite, SRTP protect, send — is spread over the processes, one per core.

A worker that dies takes its subscribers' media with it: they are dropped as timed out (their pages
reconnect and are placed on the processes left). What the coordinator learns from workers — their
``/metrics`` documents — is in its own ``/metrics`` under ``workers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import sys
from typing import TYPE_CHECKING, Any

from . import relay, rtp
from .rtp import RTP_HEADER

if TYPE_CHECKING:
    from .forward import SourceTrack
    from .room import Participant, Room
    from .sfu import Sfu

log = logging.getLogger(__name__)

START_TIMEOUT_S = 20.0


class WorkerLink:
    """One relay worker process, as the coordinator sees it."""

    def __init__(self, pool: WorkerPool, index: int, proc: asyncio.subprocess.Process, port: int) -> None:
        self.pool = pool
        self.index = index
        self.proc = proc
        self.addr = ("127.0.0.1", port)
        self.alive = True
        self.viewers: dict[int, Participant] = {}  # by session number
        self.sids: dict[int, int] = {}  # id(participant) → session number
        self.tracks: set[str] = set()  # ids of the tracks announced to this worker
        self.snapshot: dict[str, Any] = {}
        self.lag_max_ms = 0.0  # the worst loop lag the worker reported since the coordinator's last scrape
        self.reader: asyncio.Task[None] | None = None

    def send(self, message: dict[str, Any]) -> None:
        """Queue one control message (the pipe is written in order, never awaited on the media path)."""
        if self.alive and self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.write(relay.line(message))

    # --- what peers.Subscriber hands over -------------------------------------------------------

    def join(self, room: Room, p: Participant) -> None:
        """Hold this participant's subscribe connection here."""
        sid = next(self.pool.sessions)
        self.viewers[sid] = p
        self.sids[id(p)] = sid
        self.send({"op": "join", "sid": sid, "room": room.name, "user": p.user, "name": p.claims.name})

    def want(self, room: Room, p: Participant, wanted: dict[str, SourceTrack]) -> None:
        """The router's decision for the participant: relay what it needs, then tell the worker."""
        sid = self.sids.get(id(p))
        if sid is None:
            return
        numbers = []
        for track in wanted.values():
            numbers.append(self.pool.relay_to(self, track))
        self.send({"op": "want", "sid": sid, "tracks": numbers})

    def answer(self, p: Participant, sdp: str) -> None:
        """The browser's answer to the worker's subscribe offer."""
        sid = self.sids.get(id(p))
        if sid is not None:
            self.send({"op": "answer", "sid": sid, "sdp": sdp})

    def candidate(self, p: Participant, candidate: dict[str, Any]) -> None:
        """A trickled ICE candidate for the worker's subscribe connection."""
        sid = self.sids.get(id(p))
        if sid is not None:
            self.send({"op": "candidate", "sid": sid, "candidate": candidate})

    def leave(self, p: Participant) -> None:
        """The participant left: the worker closes its subscribe connection."""
        sid = self.sids.pop(id(p), None)
        if sid is not None:
            self.viewers.pop(sid, None)
            self.send({"op": "leave", "sid": sid})

    # --- what the worker says --------------------------------------------------------------------

    async def read(self) -> None:
        """Read the worker's control lines until it exits."""
        assert self.proc.stdout is not None
        sfu = self.pool.sfu
        while True:
            try:
                raw = await self.proc.stdout.readline()
            except (ValueError, asyncio.LimitOverrunError):
                log.error("relay worker %d sent an over-long line", self.index)
                continue
            if not raw:
                break
            message = relay.parse_line(raw)
            if message is None:
                log.warning("relay worker %d sent an unreadable line", self.index)
                continue
            op = message["op"]
            p = self.viewers.get(message.get("sid", -1))
            if op == "send" and p is not None:
                p.send_encoded(str(message.get("text", "")))
            elif op == "lost" and p is not None:
                log.warning("subscribe pc of %s (relay worker %d) failed", p.user, self.index)
                sfu.spawn(sfu.leave(p, "timeout"))  # the worker counts the timeout in its own metrics
            elif op == "metrics" and isinstance(message.get("snapshot"), dict):
                self.snapshot = message["snapshot"]
                self.lag_max_ms = max(self.lag_max_ms, float(self.snapshot.get("loop_lag_max_ms") or 0.0))
        self.alive = False
        if not self.pool.stopping:
            code = await self.proc.wait()
            log.error(
                "relay worker %d exited (code %s): its %d subscribers are dropped",
                self.index,
                code,
                len(self.viewers),
            )
            for viewer in list(self.viewers.values()):
                sfu.spawn(sfu.leave(viewer, "timeout"))

    def take_snapshot(self) -> dict[str, Any]:
        """The worker's latest ``/metrics`` document, with the worst lag since the previous call."""
        out = dict(self.snapshot, alive=self.alive, worker=self.index)
        if self.snapshot:
            out["loop_lag_max_ms"] = self.lag_max_ms
        self.lag_max_ms = 0.0
        return out


class WorkerPool:
    """The relay workers of one coordinator; with ``workers == 1`` it holds none and does nothing."""

    def __init__(self, sfu: Sfu, workers: int) -> None:
        self.sfu = sfu
        self.wanted = max(1, workers)
        self.links: list[WorkerLink] = []
        self.sessions = itertools.count(1)
        self.numbers: dict[str, int] = {}  # relayed track id → its number on the wire
        self.by_number: dict[int, SourceTrack] = {}
        self.targets: dict[str, list[tuple[str, int]]] = {}  # track id → the workers it is relayed to
        self._next_number = itertools.count(1)
        self.sock: socket.socket | None = None
        self.stopping = False
        self.relayed = 0  # datagrams sent to workers
        self.relay_dropped = 0  # a worker's relay socket was full

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the relay workers (K-1 processes) and wait for each one's hello."""
        if self.wanted < 2:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, relay.RELAY_RCVBUF)
        self.sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._read_feedback)
        port = sock.getsockname()[1]
        config = self.sfu.config
        # The workers' settings are the coordinator's (which may come from the command line, not the environment).
        env = dict(os.environ, LMS_SFU_SECRET=config.secret)
        env["LMS_SFU_ICE_HOSTS"] = ",".join(config.ice_hosts)
        env["LMS_STUN_URLS"] = ",".join(config.stun_urls)
        env["LMS_SFU_PUBLIC_IP"] = config.public_ip or ""
        env["LMS_SFU_UDP_PORT"] = str(config.udp_port)
        for index in range(1, self.wanted):
            env["LMS_SFU_WORKER_INDEX"] = str(config.worker_index + index)
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "webrtc.worker",
                "--coordinator-port",
                str(port),
                "--log-level",
                logging.getLevelName(logging.getLogger("webrtc").getEffectiveLevel()),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=env,
                limit=relay.LINE_LIMIT,
            )
            assert proc.stdout is not None
            try:
                hello = relay.parse_line(await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT_S))
            except TimeoutError:
                hello = None
            if hello is None or hello.get("op") != "hello" or not isinstance(hello.get("relay_port"), int):
                proc.kill()
                raise RuntimeError(f"relay worker {index} did not start")
            link = WorkerLink(self, config.worker_index + index, proc, hello["relay_port"])
            link.reader = asyncio.get_running_loop().create_task(link.read())
            self.links.append(link)
            log.info("relay worker %d started (pid %d, relay port %d)", link.index, proc.pid, link.addr[1])

    async def stop(self) -> None:
        """Stop every worker (they close their connections) and the relay socket."""
        self.stopping = True
        for link in self.links:
            link.send({"op": "stop"})
            if link.proc.stdin is not None:
                with contextlib.suppress(Exception):
                    link.proc.stdin.close()
        for link in self.links:
            try:
                await asyncio.wait_for(link.proc.wait(), 10.0)
            except TimeoutError:
                link.proc.kill()
                await link.proc.wait()
            if link.reader is not None:
                link.reader.cancel()
        self.links.clear()
        if self.sock is not None:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None

    # --- placement -----------------------------------------------------------------------------

    def attach(self, room: Room, p: Participant) -> None:
        """Place a joining participant's subscribe connection on the least loaded process (ties: here)."""
        live = [link for link in self.links if link.alive]
        if not live:
            return
        # Called right after ``room.add(p)``: p itself is among those counted here.
        here = (
            sum(1 for r in self.sfu.rooms.values() for q in r.participants.values() if q.worker is None) - 1
        )
        best = min(live, key=lambda link: len(link.viewers))
        if len(best.viewers) < here:
            p.worker = best
            best.join(room, p)

    # --- the media relay -----------------------------------------------------------------------

    def relay_to(self, link: WorkerLink, track: SourceTrack) -> int:
        """Relay a track to a worker (once), telling it first what the track is; its number on the wire."""
        number = self.numbers.get(track.id)
        if number is None:
            number = self.numbers[track.id] = next(self._next_number)
            self.by_number[number] = track
            self.targets[track.id] = []
            track.taps.append(self._rtp_tap(track, number))
            track.sr_taps.append(self._sr_tap(track, number))
        if track.id not in link.tracks:
            link.tracks.add(track.id)
            link.send(
                {
                    "op": "track",
                    "n": number,
                    "id": track.id,
                    "owner": track.owner,
                    "name": track.owner_name,
                    "kind": track.kind,
                    "source": track.source,
                    "gallery": track.gallery,
                    "codec": relay.codec_to_json(track.codec),
                    "ssrc": track.ssrc,
                }
            )
            self.targets[track.id].append(link.addr)
        return number

    def track_dropped(self, track: SourceTrack) -> None:
        """A track is no longer published: the workers forget it."""
        number = self.numbers.pop(track.id, None)
        if number is None:
            return
        self.by_number.pop(number, None)
        self.targets.pop(track.id, None)
        for link in self.links:
            if track.id in link.tracks:
                link.tracks.discard(track.id)
                link.send({"op": "untrack", "n": number})

    def _send(self, datagram: bytes, addr: tuple[str, int]) -> None:
        assert self.sock is not None
        try:
            self.sock.sendto(datagram, addr)
            self.relayed += 1
        except (BlockingIOError, InterruptedError):
            self.relay_dropped += 1
        except OSError as exc:
            log.debug("relay to %s failed: %s", addr, exc)

    def _rtp_tap(self, track: SourceTrack, number: int) -> Any:
        plain = relay.HEADER.pack(relay.RTP, 0, number)
        muted = relay.HEADER.pack(relay.RTP, relay.MUTED, number)
        targets = self.targets[track.id]
        send = self._send

        def tap(data: bytes) -> None:
            datagram = (muted if track.muted else plain) + data
            for addr in targets:
                send(datagram, addr)

        return tap

    def _sr_tap(self, track: SourceTrack, number: int) -> Any:
        prefix = relay.HEADER.pack(relay.SR, 0, number)
        targets = self.targets[track.id]

        def tap(info: rtp.SenderInfo) -> None:
            datagram = prefix + relay.SR_BODY.pack(info.ntp, info.rtp_timestamp)
            for addr in targets:
                self._send(datagram, addr)

        return tap

    def _read_feedback(self) -> None:
        """NACKs and PLIs from the workers' subscribers, for tracks relayed to them."""
        assert self.sock is not None
        for _ in range(64):
            try:
                data, addr = self.sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if len(data) < relay.HEADER.size:
                continue
            kind, _, number = relay.HEADER.unpack_from(data)
            track = self.by_number.get(number)
            if kind != relay.FEEDBACK or track is None:
                continue
            self._on_feedback(track, data[relay.HEADER.size :], addr)

    def _on_feedback(self, track: SourceTrack, packet: bytes, addr: tuple[str, int]) -> None:
        for item in rtp.iter_rtcp(packet):
            try:
                if item.packet_type == rtp.RTCP_PSFB and item.fmt == rtp.PSFB_PLI:
                    track.request_keyframe()
                elif item.packet_type == rtp.RTCP_RTPFB and item.fmt == rtp.RTPFB_NACK:
                    self._resend(track, rtp.parse_nack(item.body), addr)
            except ValueError:
                continue

    def _resend(self, track: SourceTrack, sequences: list[int], addr: tuple[str, int]) -> None:
        """A worker lost relayed packets (its socket overflowed): send them again from the packet buffer."""
        number = self.numbers.get(track.id)
        if number is None or track.ssrc is None:
            return
        prefix = relay.HEADER.pack(relay.RTP, relay.MUTED if track.muted else 0, number)
        for seq in sequences:
            entry = track.buffer.get(seq)
            if entry is None:
                continue
            b0, marker, ts, tail = entry
            packet = RTP_HEADER.pack(b0, marker | track.codec.payload_type, seq, ts, track.ssrc) + tail
            self._send(prefix + packet, addr)

    # --- metrics -------------------------------------------------------------------------------

    def snapshots(self) -> list[dict[str, Any]]:
        """Every worker's latest ``/metrics`` document (for the coordinator's own)."""
        return [link.take_snapshot() for link in self.links]
