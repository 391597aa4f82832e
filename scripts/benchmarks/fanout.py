"""Fan-out benchmark: the SFU's per-subscriber send loop in Python and in C, against the floor, in one run.

One publisher track fans out to N subscribers, each with its own libsrtp session and UDP socket (real
sockets on loopback; the receivers are never read, so the kernel drops once their buffers are full — the
sending work is the same). The packets are the load test's: 640x360 VP8 at 600 kbps split at 1,100 bytes,
and Opus. Measured, in one process and one run, as CPU µs per forwarded packet:

* ``floor_us_per_packet``: pylibsrtp protect + one ``sendto`` per packet in a tight Python loop (the load
  test's floor);
* ``floor_c_us_per_packet``: the same from C (``fanout.c`` ``ieum_floor``);
* ``protect_c_us_per_packet``: libsrtp protect alone, from C (what is left is the kernel's ``sendto``);
* ``python_us_per_packet``: ``forward.SourceTrack.on_rtp`` with the Python loop (``LMS_SFU_FASTPATH=0``);
* ``c_us_per_packet``: the same with the C fan-out table;

and the ratios ``python_over_floor``, ``c_over_floor``, ``speedup``. Prints a table, then one JSON line.

Usage: ./scripts/bench fanout [--subscribers 400] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pylibsrtp import Policy, Session  # noqa: E402

from webrtc import fastpath, forward, rtp  # noqa: E402
from webrtc.forward import Binding, Codec, Counters, OutSlot, SourceTrack, Transport  # noqa: E402
from webrtc.loadtest import measure_floor, packet_sizes  # noqa: E402

VP8 = Codec("video/VP8", 90000, None, (), 96)


class _Sub:
    """A subscriber transport: real session and sockets, the Python forwarder and the C target."""

    def __init__(self, fast: fastpath.FastPath | None, counters: Counters) -> None:
        self.session = Session(Policy(key=os.urandom(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND))
        self.sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sink.bind(("127.0.0.1", 0))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.addr = self.sink.getsockname()
        self.ready = True
        self.forward = forward._make_forwarder(self.session, self.sock, cast(Any, self), self.addr, counters)
        self.c_target = fastpath.CTarget(fast, self.session, self.sock, self.addr) if fast else None

    def sendto(self, data: bytes, addr: Any) -> None:  # the asyncio fallback when the socket is full
        return None

    def send_rtcp(self, data: bytes) -> None:
        return None

    def close(self) -> None:
        if self.c_target is not None:
            self.c_target.close()
        self.sock.close()
        self.sink.close()


class _Slot:
    def __init__(self, ssrc: int) -> None:
        self.ssrc = ssrc
        self.payload_type = 96
        self.last_seq: int | None = None
        self.last_ts: int | None = None
        self.cname = "c"


def _packets(sizes: list[int]) -> list[bytes]:
    key = b"\x10\x00\x9d\x01\x2a"
    out = []
    for i, n in enumerate(sizes):
        payload = (key if i == 0 else b"\x10\x01\x00\x00") + os.urandom(max(0, n - 12 - 5))
        out.append(struct.pack("!BBHII", 0x80, 96, i & 0xFFFF, i * 3000, 1234) + payload)
    return out


def run_loop(n: int, seconds: float, use_c: bool, packets: list[bytes]) -> float:
    """CPU µs per forwarded packet through ``SourceTrack.on_rtp`` to n subscribers."""
    fastpath.load.cache_clear()
    os.environ["LMS_SFU_FASTPATH"] = "1" if use_c else "0"
    fast = fastpath.load()
    if use_c and fast is None:
        raise SystemExit("the C fan-out is not built: python -m webrtc.fastpath build")
    counters = Counters()
    pub = _Sub(None, counters)
    track = SourceTrack(
        track_id="t:0", owner="t", kind="video", source="video", codec=VP8, ssrc=1234, mid="0",
        publisher=cast(Transport, pub), counters=counters,
    )  # fmt: skip
    subs = [_Sub(fast, counters) for _ in range(n)]
    for i, s in enumerate(subs):
        track.add_binding(Binding(track, cast(Transport, s), cast(OutSlot, _Slot(0xC000 + i))))
    seq = 0
    parsed = []
    for p in packets:
        parsed.append((p, rtp.parse_rtp_header(p)))
    track.on_rtp(*parsed[0])  # the key frame: every binding starts (and, with C, moves to the table)
    counters.packets_out = 0
    cpu0, end = time.process_time(), time.monotonic() + seconds
    while time.monotonic() < end:
        for data, _ in parsed[1:]:
            seq += 1
            data = data[:2] + struct.pack("!H", seq & 0xFFFF) + data[4:]
            track.on_rtp(data, rtp.parse_rtp_header(data))
    cpu = time.process_time() - cpu0
    sent = counters.packets_out
    for s in [pub, *subs]:
        s.close()
    return 1e6 * cpu / max(1, sent)


def main() -> None:
    """Run the four measurements and print the table and the JSON line."""
    parser = argparse.ArgumentParser(prog="./scripts/bench fanout")
    parser.add_argument("--subscribers", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    fastpath.build()
    fast = fastpath.FastPath(fastpath.library_path())
    video = [bytes(2500)] * 4  # ~600 kbps at 30 fps: three packets a frame
    audio = [bytes(90)] * 4
    sizes = packet_sizes(video, audio, seconds=1)
    packets = _packets(sizes)
    floor = measure_floor(sizes, seconds=args.seconds)
    floor_c = fastpath.measure_floor(fast, sizes, seconds=args.seconds)
    protect_c = fastpath.measure_floor(fast, sizes, seconds=args.seconds, send=False)
    py = run_loop(args.subscribers, args.seconds, False, packets)
    c = run_loop(args.subscribers, args.seconds, True, packets)
    result = {
        "subscribers": args.subscribers,
        "floor_us_per_packet": round(floor, 2),
        "floor_c_us_per_packet": round(floor_c, 2),
        "protect_c_us_per_packet": round(protect_c, 2),
        "python_us_per_packet": round(py, 2),
        "c_us_per_packet": round(c, 2),
        "python_over_floor": round(py / floor, 2),
        "c_over_floor": round(c / floor, 2),
        "speedup": round(py / c, 2),
        "load_1m": round(os.getloadavg()[0], 2),
    }
    for k, v in result.items():
        print(f"{k:24s} {v}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
