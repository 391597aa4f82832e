"""The fan-out loop in C (``fanout.c``): build it, load it, and keep the table of subscribers it sends to.

Per packet from a publisher the SFU writes a 12-byte header, protects the packet with each subscriber's SRTP
session and sends it to that subscriber. In Python that loop cost about three times the floor (libsrtp
protect plus one ``sendto``); in C it is the floor. ``python -m webrtc.fastpath build`` compiles
``fanout.c`` with the system C compiler into ``webrtc/_fanout-<hash>.so`` (``scripts/_setup.sh`` runs it; the
library links against libc only: ``srtp_protect``'s address is taken from pylibsrtp's own compiled module).
Without a compiler, or with ``LMS_SFU_FASTPATH=0``, :func:`load` returns None and ``forward.SourceTrack``
uses the same loop in Python.

One :class:`FanoutTable` per published track holds an ``ieum_out`` per started subscriber; each
:class:`CTarget` is one subscriber transport's part of an entry: its SRTP session, a ``dup()`` of its socket
(valid however aioice closes its own) and a flag the C loop reads, cleared when the transport closes.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import logging
import os
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import internals

if TYPE_CHECKING:
    import pylibsrtp

    from .forward import Binding

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("fanout.c")

CDEF = """
typedef int (*ieum_protect_fn)(void *ctx, void *rtp, int *len);
typedef struct {
    void *srtp;
    const int *alive;
    int fd;
    uint32_t ssrc;
    uint32_t ts_off;
    uint16_t seq_off;
    uint8_t pt;
    uint8_t started;
    uint32_t addrlen;
    uint8_t addr[28];
} ieum_out;
typedef struct { int sent; int srtp_errors; int blocked; int send_errors; int skipped; } ieum_result;
int ieum_fanout(ieum_protect_fn protect, const ieum_out *outs, int n, uint8_t b0, uint8_t marker,
                uint16_t seq, uint32_t ts, const char *tail, int tail_len, ieum_result *res);
int ieum_floor(ieum_protect_fn protect, void *srtp, int fd, const uint8_t *addr, uint32_t addrlen,
               const char *packet, int packet_len, int count, uint16_t first_seq, int do_send);
"""


def library_path() -> Path:
    """Where the compiled library for the current ``fanout.c`` lives (its name carries the source's hash)."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    return SOURCE.with_name(f"_fanout-{digest}.so")


def build(*, compiler: str | None = None) -> Path:
    """Compile ``fanout.c`` (if the current source is not built yet); returns the library's path."""
    out = library_path()
    if out.exists():
        return out
    cc = compiler or os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler (cc/gcc) found")
    for old in SOURCE.parent.glob("_fanout-*.so"):
        old.unlink(missing_ok=True)
    tmp = out.with_suffix(".tmp")
    subprocess.run(
        [cc, "-O2", "-shared", "-fPIC", "-Wall", "-Werror", "-o", str(tmp), str(SOURCE)],
        check=True,
        capture_output=True,
        text=True,
    )
    tmp.replace(out)
    return out


class FastPath:
    """The loaded library: its cffi handle and ``srtp_protect``'s address, cast once."""

    def __init__(self, path: Path) -> None:
        import cffi

        self.ffi = cffi.FFI()
        self.ffi.cdef(CDEF)
        self.lib: Any = self.ffi.dlopen(str(path))
        self.protect = self.ffi.cast("ieum_protect_fn", internals.srtp_protect_address())
        self.path = path


@functools.cache
def load() -> FastPath | None:
    """The C fan-out, or None (not built, disabled by ``LMS_SFU_FASTPATH=0``, or pylibsrtp changed)."""
    if os.environ.get("LMS_SFU_FASTPATH", "1") == "0":
        return None
    path = library_path()
    if not path.exists():
        log.warning(
            "C fan-out not built (%s): forwarding in Python; run python -m webrtc.fastpath build", path
        )
        return None
    try:
        return FastPath(path)
    except (OSError, internals.InternalsChanged) as exc:
        log.warning("C fan-out unavailable (%s): forwarding in Python", exc)
        return None


def sockaddr(addr: Any) -> bytes:
    """A ``struct sockaddr_in`` / ``sockaddr_in6`` for an (host, port[, flow, scope]) address."""
    host, port = addr[0], int(addr[1])
    if ":" in host:
        scope = int(addr[3]) if len(addr) > 3 else 0
        return (
            struct.pack("=H", socket.AF_INET6)
            + struct.pack("!HI", port, 0)
            + socket.inet_pton(socket.AF_INET6, host)
            + struct.pack("=I", scope)
        )
    return (
        struct.pack("=H", socket.AF_INET)
        + struct.pack("!H", port)
        + socket.inet_pton(socket.AF_INET, host)
        + bytes(8)
    )


class CTarget:
    """One subscriber transport as the C loop sends to it: SRTP session, own socket descriptor, address."""

    def __init__(self, fast: FastPath, session: pylibsrtp.Session, sock: socket.socket, addr: Any) -> None:
        self.session = session  # keeps libsrtp's context alive while entries point at it
        self.srtp = fast.ffi.cast("void *", internals.srtp_session_address(session))
        self.alive = fast.ffi.new("int *", 1)
        self.fd = os.dup(sock.fileno())
        self.addr = sockaddr(addr)

    def close(self) -> None:
        """Stop every entry sending here and release the descriptor; idempotent."""
        if self.alive[0]:
            self.alive[0] = 0
            os.close(self.fd)

    def __del__(self) -> None:
        with contextlib.suppress(OSError, AttributeError, TypeError):
            self.close()


class FanoutTable:
    """The started subscribers of one track, as a C array the loop walks; swap-remove keeps it dense."""

    def __init__(self, fast: FastPath) -> None:
        self.fast = fast
        self.capacity = 8
        self.entries = fast.ffi.new("ieum_out[]", self.capacity)
        self.owners: list[Binding] = []
        self.result = fast.ffi.new("ieum_result *")

    def __len__(self) -> int:
        return len(self.owners)

    def __contains__(self, binding: Binding) -> bool:
        return (
            binding.fan_index >= 0
            and binding.fan_index < len(self.owners)
            and self.owners[binding.fan_index] is binding
        )

    def add(self, binding: Binding) -> bool:
        """Send to a started binding from C from now on; False when its transport has no C target."""
        target = binding.transport.c_target
        if target is None or binding.seq_off < 0 or binding in self:
            return False
        n = len(self.owners)
        if n == self.capacity:
            self.capacity *= 2
            grown = self.fast.ffi.new("ieum_out[]", self.capacity)
            self.fast.ffi.memmove(grown, self.entries, self.fast.ffi.sizeof("ieum_out") * n)
            self.entries = grown
        e = self.entries[n]
        e.srtp = target.srtp
        e.alive = target.alive
        e.fd = target.fd
        e.ssrc = binding.ssrc
        e.ts_off = binding.ts_off
        e.seq_off = binding.seq_off
        e.pt = binding.pt
        e.started = 1
        e.addrlen = len(target.addr)
        self.fast.ffi.memmove(e.addr, target.addr, len(target.addr))
        binding.fan_index = n
        binding.fan_target = target  # the entry's pointers stay valid while the binding is in the table
        self.owners.append(binding)
        return True

    def remove(self, binding: Binding) -> None:
        """Stop sending to a binding (the last entry moves into its place)."""
        if binding not in self:
            return
        i, last = binding.fan_index, len(self.owners) - 1
        if i != last:
            self.entries[i] = self.entries[last]
            moved = self.owners[last]
            self.owners[i] = moved
            moved.fan_index = i
        self.owners.pop()
        binding.fan_index = -1
        binding.fan_target = None

    def send(self, b0: int, marker: int, seq: int, ts: int, tail: bytes) -> Any:
        """One packet to every entry; returns the ``ieum_result`` (sent, srtp_errors, blocked, ...)."""
        if (
            self.fast.lib.ieum_fanout(
                self.fast.protect,
                self.entries,
                len(self.owners),
                b0,
                marker,
                seq,
                ts,
                tail,
                len(tail),
                self.result,
            )
            < 0
        ):
            self.result.sent = 0
        return self.result


def measure_floor(fast: FastPath, sizes: list[int], seconds: float = 2.0, *, send: bool = True) -> float:
    """CPU µs per packet of libsrtp protect plus one ``sendto`` in a tight loop, from C (the C floor); with
    ``send=False`` libsrtp protect alone."""
    import time

    from pylibsrtp import Policy, Session

    session = Session(
        Policy(
            key=os.urandom(30),
            ssrc_type=Policy.SSRC_ANY_OUTBOUND,
            srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
        )
    )
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        addr = sockaddr(rx.getsockname())
        srtp = fast.ffi.cast("void *", internals.srtp_session_address(session))
        packets = [struct.pack("!BBHII", 0x80, 96, 0, 0, 0x1234) + os.urandom(n - 12) for n in sizes]
        sent = seq = 0
        cpu0, wall_end = time.process_time(), time.monotonic() + seconds
        while time.monotonic() < wall_end:
            for packet in packets:
                sent += fast.lib.ieum_floor(
                    fast.protect,
                    srtp,
                    tx.fileno(),
                    addr,
                    len(addr),
                    packet,
                    len(packet),
                    20,
                    seq & 0xFFFF,
                    int(send),
                )
                seq += 20
        return 1e6 * (time.process_time() - cpu0) / sent
    finally:
        rx.close()
        tx.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m webrtc.fastpath build``: compile the C fan-out (exit 0 with a warning without a compiler
    when ``--optional``)."""
    parser = argparse.ArgumentParser(prog="python -m webrtc.fastpath")
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--optional", action="store_true", help="only warn when it cannot be built")
    args = parser.parse_args(argv)
    try:
        print(build())
    except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        print(f"C fan-out not built: {detail}", file=sys.stderr)
        if not args.optional:
            raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
