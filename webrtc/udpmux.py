"""One UDP port per SFU process for every ICE connection (``LMS_SFU_UDP_PORT``), as LiveKit's UDP mux and
mediasoup's WebRtcServer do.

Left alone, aioice opens a new UDP socket on a random port for each peer connection, so a server behind a
firewall needs a wide port range open and holds a descriptor per connection. With ``udp_port`` set, each SFU
process binds one socket per ICE host address at that port plus its worker index (worker 0: the port, relay
worker 1: the port + 1, ...) and every connection's host candidate is that socket.

Datagrams are routed to a connection by where they come from: an address becomes a connection's the first time
the connection sends to it (its connectivity checks) or a STUN binding request arrives from it whose
USERNAME starts with the connection's local ufrag (``local:remote``, RFC 8445 section 7.2.2) — the peer's
first check. Anything else from an unknown address is dropped and counted. A connection's addresses are
forgotten when it closes. The socket is drained in batches, as a busy publisher's is (``internals.drain_reads``).

aioice's private parts (its protocol class, the connection's protocol list, the gathering step) are reached
through ``internals`` only.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from typing import Any

import aioice.ice

from . import internals

log = logging.getLogger(__name__)

Address = tuple[str, int]
RECEIVE_BUFFER = 8 << 20  # every connection's traffic arrives on this one socket
DRAIN_BATCH = 64
_MAGIC = 0x2112A442
_BINDING_REQUEST = 0x0001
_USERNAME = 0x0006
_HEADER = struct.Struct("!HHI")
_ATTR = struct.Struct("!HH")


def request_ufrag(data: bytes) -> str | None:
    """The first half of a STUN binding request's USERNAME (the receiver's ufrag), or None for anything else."""
    if len(data) < 20:
        return None
    kind, length, magic = _HEADER.unpack_from(data)
    if kind != _BINDING_REQUEST or magic != _MAGIC or 20 + length > len(data):
        return None
    pos, end = 20, 20 + length
    while pos + 4 <= end:
        attr, size = _ATTR.unpack_from(data, pos)
        if attr == _USERNAME:
            value = data[pos + 4 : pos + 4 + size]
            try:
                return value.decode().split(":", 1)[0] or None
            except UnicodeDecodeError:
                return None
        pos += 4 + size + (-size % 4)
    return None


class MuxedTransport(asyncio.DatagramTransport):
    """One connection's view of the shared socket: what its aioice protocol writes to and is read from."""

    muxed = True  # ``internals.drain_reads`` leaves these alone

    def __init__(self, mux: UdpMux) -> None:
        super().__init__()
        self.mux = mux
        self.protocol: aioice.ice.StunProtocol  # set by ``UdpMux.add`` once aioice's protocol exists
        self._sock = mux.sock  # the fast send path writes to it directly (``internals.raw_socket``)
        self.addrs: set[Address] = set()
        self._closed = False

    def sendto(self, data: Any, addr: Any = None) -> None:
        if self._closed:
            return
        key = (addr[0], addr[1])
        if key not in self.addrs:
            self.mux.route(key, self)
        self.mux.transport_sendto(data, key)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            return self.mux.sock
        if name == "sockname":
            return self.mux.address
        return default

    def is_closing(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.mux.forget(self)
        asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()


class UdpMux(asyncio.DatagramProtocol):
    """The shared socket of one ICE host address, and which connection each remote address belongs to."""

    def __init__(self, address: Address) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            self.sock.bind(address)
        except OSError:
            self.sock.close()
            raise
        self.transport: asyncio.DatagramTransport | None = None
        self.by_addr: dict[Address, MuxedTransport] = {}
        self.by_ufrag: dict[str, MuxedTransport] = {}
        self.unrouted = 0  # datagrams from addresses no connection knows (dropped)

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, sock=self.sock)
        try:
            internals.drain_reads(transport, DRAIN_BATCH)
        except internals.InternalsChanged as exc:
            log.warning("UDP mux socket reads one datagram per loop iteration: %s", exc)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def transport_sendto(self, data: bytes, addr: Address) -> None:
        if self.transport is not None:
            self.transport.sendto(data, addr)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        key = (addr[0], addr[1])
        target = self.by_addr.get(key)
        if target is None:
            ufrag = request_ufrag(data)
            target = self.by_ufrag.get(ufrag) if ufrag else None
            if target is None:
                self.unrouted += 1
                return
            self.route(key, target)
        target.protocol.datagram_received(data, key)

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP mux %s: %s", self.address, exc)

    def add(self, connection: aioice.ice.Connection, component: int) -> aioice.ice.StunProtocol:
        """A host-candidate protocol for ``connection`` on this socket."""
        transport = MuxedTransport(self)
        transport.protocol = internals.host_protocol(connection, transport, component, self.address)
        self.by_ufrag[internals.local_ufrag(connection)] = transport
        return transport.protocol

    def route(self, addr: Address, transport: MuxedTransport) -> None:
        old = self.by_addr.get(addr)
        if old is not None and old is not transport:
            old.addrs.discard(addr)  # the address moved to a newer connection (a rejoin from the same port)
        self.by_addr[addr] = transport
        transport.addrs.add(addr)

    def forget(self, transport: MuxedTransport) -> None:
        for addr in transport.addrs:
            if self.by_addr.get(addr) is transport:
                del self.by_addr[addr]
        transport.addrs.clear()
        for ufrag, t in list(self.by_ufrag.items()):
            if t is transport:
                del self.by_ufrag[ufrag]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        else:
            self.sock.close()


class UdpMuxes:
    """The muxes of one SFU process (one per ICE host address), installed as aioice's host gathering."""

    def __init__(self, hosts: list[str], port: int) -> None:
        self.hosts, self.port = hosts, port
        self.muxes: dict[str, UdpMux] = {}

    async def start(self) -> None:
        for host in self.hosts:
            mux = UdpMux((host, self.port))
            await mux.open()
            self.muxes[host] = mux
            log.info("ICE over one UDP port: %s:%d", host, self.port)
        internals.replace_host_gathering(self._host_protocols)

    def _host_protocols(
        self, connection: aioice.ice.Connection, component: int, addresses: list[str]
    ) -> list[aioice.ice.StunProtocol]:
        return [self.muxes[a].add(connection, component) for a in addresses if a in self.muxes]

    @property
    def unrouted(self) -> int:
        return sum(m.unrouted for m in self.muxes.values())

    def close(self) -> None:
        internals.replace_host_gathering(None)
        for mux in self.muxes.values():
            mux.close()
        self.muxes.clear()
