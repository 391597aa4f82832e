"""``python -m webrtc.worker``: a relay worker, started by an SFU coordinator (``workers.py``), never by hand.

A worker holds subscribe connections only. The coordinator tells it, over its stdin (``relay.py``), which
tracks exist and which of them each of its subscribers is to receive — the router decides, in the
coordinator — and relays those tracks' packets to it over loopback UDP. The worker does the rest as one
SFU process does (``peers.Subscriber``: slots, bindings, offers, answers; ``forward.SourceTrack``: the NACK
buffer, the per-subscriber rewrite and the C fan-out), and sends the subscribers' signalling messages back
over its stdout for the coordinator to pass to their browsers. Key-frame requests and the NACKs for relayed
packets it lost go back to the coordinator as ``FEEDBACK`` datagrams (:class:`RelayUplink`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import sys
from dataclasses import dataclass, field
from typing import Any

from contracts.roles import Role
from contracts.tokens import JoinClaims

from . import consent, ice, relay, rtp
from .__main__ import raise_file_limit
from .config import SfuConfig
from .forward import SourceTrack
from .metrics import snapshot
from .peers import add_candidate, close_peer_connections
from .room import Participant, Room, error
from .router import Router
from .sfu import Sfu

log = logging.getLogger("webrtc.worker")

RELAY_BATCH = 256  # relayed datagrams read per readiness of the relay socket


class RelayUplink:
    """A relayed track's way back to its source: RTCP feedback to the coordinator."""

    def __init__(self, sock: socket.socket, coordinator: tuple[str, int], number: int) -> None:
        self.sock = sock
        self.coordinator = coordinator
        self.prefix = relay.HEADER.pack(relay.FEEDBACK, 0, number)

    def send_rtcp(self, packet: bytes) -> None:
        """Send a NACK or PLI for the track to the coordinator."""
        with contextlib.suppress(BlockingIOError, InterruptedError, OSError):
            self.sock.sendto(self.prefix + packet, self.coordinator)


@dataclass(eq=False)
class RelayedViewer(Participant):
    """A subscriber held here for the coordinator: its messages go to the coordinator's control channel."""

    sid: int = 0
    # What the coordinator's router decided this subscriber receives, by track id.
    assigned: dict[str, SourceTrack] = field(default_factory=dict)
    out: Any = None

    def send_encoded(self, text: str) -> None:
        """Hand a signalling message to the coordinator, which passes it to the browser."""
        if not self.left and self.out is not None:
            self.out({"op": "send", "sid": self.sid, "text": text})


class RelayRouter(Router):
    """Applies the coordinator's decision (``RelayedViewer.assigned``): a worker decides nothing itself."""

    async def sync(self, room: Room, p: Participant) -> None:
        """Bring one subscriber's forwarded set in line with what the coordinator assigned."""
        if p.left or not isinstance(p, RelayedViewer):
            return
        if p.negotiating:
            p.resync = True
            return
        await self.sfu.subscriber.apply(room, p, dict(p.assigned))


class RelaySfu(Sfu):
    """One worker's SFU: subscribers and relayed tracks, no classroom of its own."""

    def __init__(
        self, config: SfuConfig, out: Any, sock: socket.socket, coordinator: tuple[str, int]
    ) -> None:
        super().__init__(config)
        self.router = RelayRouter(self)
        self.out = out
        self.sock = sock
        self.coordinator = coordinator
        self.relayed: dict[int, SourceTrack] = {}  # by number on the wire
        self.viewers: dict[int, RelayedViewer] = {}  # by session number
        self.relayed_in = 0

    def tracks(self) -> list[SourceTrack]:
        """The relayed tracks (what /metrics counts)."""
        return list(self.relayed.values())

    async def leave(self, p: Participant, reason: str, *, replaced: bool = False) -> None:
        """Close a subscriber's connection; when it failed on its own, tell the coordinator."""
        if p.left:
            return
        self.subscriber.release(p)
        p.left = True
        await close_peer_connections(self, p)
        room = self.rooms.get(p.claims.room)
        if room is not None:
            room.discard(p)
            if not room.participants:
                self.rooms.pop(room.name, None)
        if isinstance(p, RelayedViewer):
            self.viewers.pop(p.sid, None)
            if reason == "timeout":
                self.out({"op": "lost", "sid": p.sid})

    # --- control messages from the coordinator -----------------------------------------------------

    def handle(self, message: dict[str, Any]) -> None:
        """One control message (see ``relay.py``); a malformed one is logged and ignored."""
        op = message["op"]
        try:
            if op == "track":
                self._track(message)
            elif op == "untrack":
                track = self.relayed.pop(int(message["n"]), None)
                if track is not None:
                    track.close()
            elif op == "join":
                self._join(message)
            elif op in ("want", "answer", "candidate", "leave"):
                p = self.viewers.get(int(message["sid"]))
                if p is not None:
                    self._viewer_op(op, p, message)
            else:
                log.warning("unknown control op %r", op)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("bad control message %r: %s", op, exc)

    def _track(self, m: dict[str, Any]) -> None:
        number = int(m["n"])
        self.relayed[number] = SourceTrack(
            track_id=str(m["id"]),
            owner=str(m["owner"]),
            owner_name=str(m.get("name") or ""),
            kind=str(m["kind"]),
            source=str(m["source"]),
            gallery=m.get("gallery") is True,
            codec=relay.codec_from_json(m["codec"]),
            ssrc=None if m.get("ssrc") is None else int(m["ssrc"]),
            mid=None,
            publisher=RelayUplink(self.sock, self.coordinator, number),
            counters=self.counters,
        )

    def _join(self, m: dict[str, Any]) -> None:
        claims = JoinClaims(
            room=str(m["room"]),
            user_id=str(m["user"]),
            name=str(m.get("name") or ""),
            role=Role.student,
            publish=(),
            issued_at=0,
            expires_at=0,
            token_id="",
        )
        p = RelayedViewer(claims=claims, sid=int(m["sid"]), out=self.out)
        self.viewers[p.sid] = p
        self.room(claims.room).participants[claims.user_id] = p

    def _viewer_op(self, op: str, p: RelayedViewer, m: dict[str, Any]) -> None:
        room = self.room(p.claims.room)
        if op == "want":
            p.assigned = {t.id: t for n in m["tracks"] if (t := self.relayed.get(int(n))) is not None}
            self.spawn(self.router.sync(room, p))
        elif op == "answer":
            if not self.subscriber.awaiting_answer(p):
                p.send(error("unexpected_answer", "no subscribe offer is pending"))
                return
            self.spawn(self.subscriber.apply_answer(room, p, str(m["sdp"])))
        elif op == "candidate":
            cand = m["candidate"]
            if p.subscribe_pc is not None and isinstance(cand, dict) and cand.get("candidate"):
                self.spawn(
                    add_candidate(
                        p, p.subscribe_pc, cand["candidate"], cand.get("sdpMid"), cand.get("sdpMLineIndex")
                    )
                )
        elif op == "leave":
            self.spawn(self.leave(p, "bye"))

    # --- relayed media -------------------------------------------------------------------------

    def read_relay(self) -> None:
        """Forward what the coordinator relayed (read in batches: this socket carries every source)."""
        for _ in range(RELAY_BATCH):
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if len(data) < relay.HEADER.size + 12:
                continue
            kind, flags, number = relay.HEADER.unpack_from(data)
            track = self.relayed.get(number)
            if track is None:
                continue
            body = data[relay.HEADER.size :]
            if kind == relay.RTP:
                try:
                    header = rtp.parse_rtp_header(body)
                except ValueError:
                    continue
                self.relayed_in += 1
                track.muted = bool(flags & relay.MUTED)
                track.on_rtp(body, header)
            elif kind == relay.SR and len(body) >= relay.SR_BODY.size and track.ssrc is not None:
                ntp, rtp_ts = relay.SR_BODY.unpack_from(body)
                track.on_sender_report(rtp.SenderInfo(track.ssrc, ntp, rtp_ts, 0, 0))


async def serve(coordinator_port: int) -> None:
    """Run the worker until the coordinator says stop or closes the control channel."""
    loop = asyncio.get_running_loop()
    # The control channel is the original stdout; anything else printing there would corrupt it.
    control_fd = os.dup(1)
    os.dup2(2, 1)
    write_transport, write_protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(control_fd, "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(write_transport, write_protocol, None, loop)

    def out(message: dict[str, Any]) -> None:
        if not writer.is_closing():
            writer.write(relay.line(message))

    reader = asyncio.StreamReader(limit=relay.LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    config = SfuConfig.from_env()
    config.webhook_url = None  # the coordinator runs the classroom and sends every webhook
    config.storage = None  # and records
    config.redis_url = None  # and admits tokens
    if config.ice_hosts:
        ice.restrict_host_addresses(config.ice_hosts)
    consent.install()

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, relay.RELAY_RCVBUF)
    sfu = RelaySfu(config, out, sock, ("127.0.0.1", coordinator_port))
    loop.add_reader(sock.fileno(), sfu.read_relay)
    await sfu.start()

    async def push_metrics() -> None:
        while True:
            await asyncio.sleep(relay.METRICS_EVERY_S)
            out({"op": "metrics", "snapshot": dict(snapshot(sfu), relayed_in=sfu.relayed_in)})

    metrics_task = loop.create_task(push_metrics())
    out({"op": "hello", "relay_port": sock.getsockname()[1], "pid": os.getpid()})
    log.info("relay worker %d ready", config.worker_index)
    try:
        while True:
            raw = await reader.readline()
            if not raw:
                break
            message = relay.parse_line(raw)
            if message is None:
                log.warning("unreadable control line")
                continue
            if message["op"] == "stop":
                break
            sfu.handle(message)
    finally:
        metrics_task.cancel()
        loop.remove_reader(sock.fileno())
        await sfu.shutdown()
        sock.close()
        writer.close()


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve the coordinator."""
    parser = argparse.ArgumentParser(prog="python -m webrtc.worker", description="이음 SFU relay worker")
    parser.add_argument("--coordinator-port", type=int, required=True)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s[w%(process)d]: %(message)s",
        stream=sys.stderr,
    )
    raise_file_limit()
    asyncio.run(serve(args.coordinator_port))


if __name__ == "__main__":
    main()
