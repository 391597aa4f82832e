"""Every use of a library's private internals, each behind one small named function.

The SFU owns the RTP path after aiortc's handshake (``forward.py``), and that reaches below aiortc's public
API: the DTLS transport's SRTP sessions and the per-packet handlers it awaits after decryption, the ICE
connection's nominated pair and its UDP socket, an RTP sender's SSRC and stream id, a transceiver's
negotiated codecs, and aiortc calling ``sender.send`` / ``receiver.receive`` through the instance (which is
how the SFU keeps aiortc from encoding, decoding or sending RTCP of its own). The in-place protect of the
forwarding loop uses pylibsrtp's C session and buffer; the test set-up's host-candidate filter replaces
aioice's host-address lookup, and the UDP mux replaces its host-candidate gathering (a protocol on a shared
socket, keyed by the connection's ufrag); asyncio's raw datagram socket and its queue counter serve the fast send path
and the webhook backlog. Nothing else in ``webrtc/`` touches a foreign object's private attribute.

An accessor whose attribute has gone raises :class:`InternalsChanged` (an ``AttributeError``, so callers that
already fell back on one still do), naming the attribute and the installed version of its package;
``tests/webrtc/test_internals.py`` exercises every accessor on real objects (an in-memory pair of peer
connections, a real SRTP session, a real datagram endpoint), so an upgrade that renames one fails there first.
Written against aiortc 1.16, aioice 0.13 and pylibsrtp 1.0.

The load test (``loadtest.py``, kept by its own owner) still reads ``RTCDtlsTransport._rx_srtp``,
``RTCIceTransport._connection`` and ``aioice.Connection._protocols`` itself; :func:`dtls_rx_srtp`,
:func:`ice_connection` and :func:`ice_protocols` are its accessors when it moves over.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import socket
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, cast

import aioice.ice
import pylibsrtp
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpReceiveParameters

Address = tuple[str, int]
_HOOKED = "_ieum_hooked"  # our own marker on a receiver whose receive() was replaced


class RtpHandler(Protocol):
    """What aiortc awaits per decrypted RTP packet; it passes ``arrival_time_ms`` by keyword."""

    def __call__(self, data: bytes, arrival_time_ms: int = 0) -> Coroutine[Any, Any, None]: ...


@functools.cache
def installed_version(package: str) -> str:
    """The installed version of a package (``python`` for the standard library)."""
    if package == "python":
        return sys.version.split()[0]
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class InternalsChanged(AttributeError):
    """A private attribute the SFU relies on is not where it was: the library changed under us."""

    def __init__(self, package: str, attribute: str, detail: str = "is missing") -> None:
        self.package = package
        self.attribute = attribute
        super().__init__(
            f"{attribute} {detail} in {package} {installed_version(package)}; "
            "webrtc/internals.py was written against aiortc 1.16, aioice 0.13 and pylibsrtp 1.0 "
            "and needs updating for this version"
        )


def _get(obj: object, name: str, package: str, owner: str) -> Any:
    try:
        return getattr(obj, name)
    except AttributeError:
        raise InternalsChanged(package, f"{owner}.{name}") from None


def _require(obj: object, name: str, package: str, owner: str) -> None:
    """Before replacing an attribute: it must exist, or the library would never call our replacement."""
    if not hasattr(obj, name):
        raise InternalsChanged(package, f"{owner}.{name}")


# --- aiortc: DTLS transport ---------------------------------------------------------------------


def dtls_tx_srtp(dtls: RTCDtlsTransport) -> pylibsrtp.Session | None:
    """The SRTP session the DTLS transport protects outgoing packets with (None until DTLS is up)."""
    return cast(pylibsrtp.Session | None, _get(dtls, "_tx_srtp", "aiortc", "RTCDtlsTransport"))


def dtls_rx_srtp(dtls: RTCDtlsTransport) -> pylibsrtp.Session | None:
    """The SRTP session the DTLS transport decrypts incoming packets with (None until DTLS is up)."""
    return cast(pylibsrtp.Session | None, _get(dtls, "_rx_srtp", "aiortc", "RTCDtlsTransport"))


def hook_srtp_handlers(
    dtls: RTCDtlsTransport,
    on_rtp: RtpHandler,
    on_rtcp: Callable[[bytes], Coroutine[Any, Any, None]],
) -> None:
    """Replace the handlers aiortc awaits for every decrypted RTP / RTCP packet on this transport.

    It is the lowest point after SRTP where packets are already separated from DTLS and STUN; aiortc's
    own handlers (which route to its receivers and senders) are no longer called.
    """
    _require(dtls, "_handle_rtp_data", "aiortc", "RTCDtlsTransport")
    _require(dtls, "_handle_rtcp_data", "aiortc", "RTCDtlsTransport")
    dtls._handle_rtp_data = on_rtp  # type: ignore[method-assign]
    dtls._handle_rtcp_data = on_rtcp  # type: ignore[method-assign,assignment]


def srtp_handlers(dtls: RTCDtlsTransport) -> tuple[Any, Any]:
    """The (RTP, RTCP) handlers the transport currently awaits per decrypted packet (for tests)."""
    return (
        _get(dtls, "_handle_rtp_data", "aiortc", "RTCDtlsTransport"),
        _get(dtls, "_handle_rtcp_data", "aiortc", "RTCDtlsTransport"),
    )


def on_dtls_state(dtls: RTCDtlsTransport, callback: Callable[[], None]) -> None:
    """Call back on every DTLS state change (aiortc emits ``statechange``; it is not in its documented API)."""
    dtls.on("statechange", callback)


# --- aiortc / aioice: ICE ------------------------------------------------------------------------


def ice_connection(dtls: RTCDtlsTransport) -> aioice.ice.Connection:
    """The aioice connection under the DTLS transport's ICE transport."""
    return cast(aioice.ice.Connection, _get(dtls.transport, "_connection", "aiortc", "RTCIceTransport"))


def nominated_pair(connection: aioice.ice.Connection, component: int = 1) -> aioice.ice.CandidatePair | None:
    """The candidate pair ICE nominated for a component (RTP is component 1), or None before nomination."""
    nominated = _get(connection, "_nominated", "aioice", "Connection")
    return cast(aioice.ice.CandidatePair | None, nominated.get(component))


def nominated_pairs(connection: aioice.ice.Connection) -> list[aioice.ice.CandidatePair]:
    """Every nominated candidate pair of a connection (what consent checks are sent on)."""
    return list(_get(connection, "_nominated", "aioice", "Connection").values())


def forget_consent_task(connection: aioice.ice.Connection) -> None:
    """Before the consent task itself closes the connection: ``close()`` would otherwise cancel and await it."""
    _require(connection, "_query_consent_task", "aioice", "Connection")
    connection._query_consent_task = None


def pair_route(pair: aioice.ice.CandidatePair) -> tuple[aioice.ice.StunProtocol, Address]:
    """(local protocol, remote address) of a candidate pair: where a packet for the peer goes."""
    protocol = _get(pair, "protocol", "aioice", "CandidatePair")
    remote = _get(pair, "remote_addr", "aioice", "CandidatePair")
    return cast(aioice.ice.StunProtocol, protocol), cast(Address, remote)


def ice_protocols(connection: aioice.ice.Connection) -> list[aioice.ice.StunProtocol]:
    """Every local socket protocol of the ICE connection (host and relayed)."""
    return cast(list[aioice.ice.StunProtocol], _get(connection, "_protocols", "aioice", "Connection"))


def is_plain_udp(protocol: object) -> bool:
    """True for aioice's plain UDP protocol: its transport can be written to directly."""
    return type(protocol) is aioice.ice.StunProtocol


def protocol_transport(protocol: object) -> asyncio.DatagramTransport | None:
    """The asyncio (or aioice TURN) transport an ICE protocol writes to; None before it is connected."""
    return cast(asyncio.DatagramTransport | None, getattr(protocol, "transport", None))


def ice_sender(protocol: aioice.ice.StunProtocol) -> Callable[[bytes, Any], None]:
    """A send function through aioice's own framing (TURN-relayed local candidates need it)."""

    def send(data: bytes, addr: Any) -> None:
        asyncio.ensure_future(protocol.send_data(data, addr))

    return send


def set_host_addresses(lookup: Callable[[bool, bool], list[str]]) -> None:
    """Replace the function aioice asks for local addresses when it gathers host candidates (process-wide)."""
    _require(aioice.ice, "get_host_addresses", "aioice", "aioice.ice")
    setattr(aioice.ice, "get_host_addresses", lookup)  # noqa: B010 (a module function, replaced)


HostGathering = Callable[[aioice.ice.Connection, int, list[str]], list[aioice.ice.StunProtocol]]
_ORIGINAL_GATHER = aioice.ice.Connection.get_component_candidates


def replace_host_gathering(host_protocols: HostGathering | None) -> None:
    """Gather every ICE connection's host candidates with ``host_protocols`` (process-wide) — the UDP mux
    (``udpmux.py``): one shared socket instead of a new one per connection; STUN and TURN candidates are still
    gathered by aioice. ``None`` restores aioice's own gathering."""
    _require(aioice.ice.Connection, "get_component_candidates", "aioice", "Connection")
    if host_protocols is None:
        setattr(aioice.ice.Connection, "get_component_candidates", _ORIGINAL_GATHER)  # noqa: B010
        return

    async def get_component_candidates(
        self: aioice.ice.Connection, component: int, addresses: list[str], timeout: int = 5
    ) -> list[aioice.Candidate]:
        protocols = host_protocols(self, component, addresses)
        ice_protocols(self).extend(protocols)
        # aioice with no addresses: no host sockets, only its STUN/TURN candidates (TURN keeps its own socket).
        others = await _ORIGINAL_GATHER(self, component, [], timeout)
        return [p.local_candidate for p in protocols] + others

    setattr(aioice.ice.Connection, "get_component_candidates", get_component_candidates)  # noqa: B010


def host_protocol(
    connection: aioice.ice.Connection, transport: asyncio.DatagramTransport, component: int, addr: Address
) -> aioice.ice.StunProtocol:
    """An aioice protocol for one host candidate at ``addr`` that reads and writes through ``transport``
    (what ``loop.create_datagram_endpoint`` would have made, on a socket it does not own)."""
    protocol = aioice.ice.StunProtocol(connection)
    protocol.connection_made(transport)
    protocol.local_candidate = aioice.Candidate(
        foundation=aioice.candidate.candidate_foundation("host", "udp", addr[0]),
        component=component,
        transport="udp",
        priority=aioice.candidate.candidate_priority(component, "host"),
        host=addr[0],
        port=addr[1],
        type="host",
    )
    return protocol


def local_ufrag(connection: aioice.ice.Connection) -> str:
    """The ICE username fragment this side put in its SDP (what a peer's checks name first in USERNAME)."""
    return str(connection.local_username)


# --- aiortc: RTP sender, receiver, transceiver -----------------------------------------------------


def sender_ssrc(sender: RTCRtpSender) -> int:
    """The SSRC aiortc put in the SDP for this sender; the SFU sends its forwarded packets with it."""
    return int(_get(sender, "_ssrc", "aiortc", "RTCRtpSender"))


def set_sender_stream_id(sender: RTCRtpSender, stream_id: str) -> None:
    """Set the stream id (the msid's first part) aiortc writes into the SDP for this sender."""
    _require(sender, "_stream_id", "aiortc", "RTCRtpSender")
    sender._stream_id = stream_id


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """The codecs negotiated for this transceiver, preferred first (empty before negotiation)."""
    return cast(list[RTCRtpCodecParameters], _get(transceiver, "_codecs", "aiortc", "RTCRtpTransceiver"))


async def _no_send(*args: object, **kwargs: object) -> None:
    return None


def replace_send(sender: RTCRtpSender, send: Callable[..., Coroutine[Any, Any, None]]) -> None:
    """Replace what aiortc awaits once the connection is up to start this sender (its encoder and RTCP)."""
    _require(sender, "send", "aiortc", "RTCRtpSender")
    sender.send = send  # type: ignore[method-assign]


def silence_sender(transceiver: RTCRtpTransceiver) -> None:
    """Keep aiortc's RTCRtpSender from encoding or sending RTCP on this transceiver: the SFU forwards instead."""
    replace_send(transceiver.sender, _no_send)


def replace_receive(
    receiver: RTCRtpReceiver, receive: Callable[[RTCRtpReceiveParameters], Coroutine[Any, Any, None]]
) -> bool:
    """Replace what aiortc awaits once the connection is up to start this receiver (its decoder and RTCP).

    aiortc then hands the negotiated receive parameters (SSRCs, payload types, header extension ids) to
    ``receive`` instead. Returns False, changing nothing, if this receiver was already replaced.
    """
    if getattr(receiver, _HOOKED, False):
        return False
    _require(receiver, "receive", "aiortc", "RTCRtpReceiver")
    receiver.receive = receive  # type: ignore[method-assign,assignment]
    setattr(receiver, _HOOKED, True)
    return True


# --- pylibsrtp: protect in place -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SrtpInternals:
    """pylibsrtp's C-level view of a session, for protecting a packet in place in the session's own buffer.

    ``protect(srtp, cdata, length_pointer)`` is libsrtp's ``srtp_protect``: it protects the ``*length_pointer``
    bytes at ``cdata`` (which ``buffer`` exposes, 1500 bytes) and updates the length; nonzero is an error.
    ``session`` must stay referenced while these are used: libsrtp's context is freed with it.
    """

    session: pylibsrtp.Session
    ffi: Any
    protect: Callable[[Any, Any, Any], int]
    srtp: Any
    cdata: Any
    buffer: Any


def srtp_internals(session: pylibsrtp.Session) -> SrtpInternals:
    """The C session, buffer and ``srtp_protect`` behind a pylibsrtp session."""
    try:
        from pylibsrtp._binding import ffi, lib
    except ImportError:
        raise InternalsChanged("pylibsrtp", "pylibsrtp._binding (ffi, lib)") from None
    protect = _get(lib, "srtp_protect", "pylibsrtp", "pylibsrtp._binding.lib")
    srtp = _get(session, "_srtp", "pylibsrtp", "Session")[0]
    cdata = _get(session, "_cdata", "pylibsrtp", "Session")
    buffer = _get(session, "_buffer", "pylibsrtp", "Session")
    return SrtpInternals(session, ffi, protect, srtp, cdata, buffer)


def srtp_protect_address() -> int:
    """The address of libsrtp's ``srtp_protect`` inside pylibsrtp's compiled module (for ``fastpath``)."""
    try:
        from pylibsrtp._binding import ffi, lib
    except ImportError:
        raise InternalsChanged("pylibsrtp", "pylibsrtp._binding (ffi, lib)") from None
    _require(lib, "srtp_protect", "pylibsrtp", "pylibsrtp._binding.lib")
    return int(ffi.cast("uintptr_t", ffi.addressof(lib, "srtp_protect")))


def srtp_session_address(session: pylibsrtp.Session) -> int:
    """The ``srtp_t`` behind a pylibsrtp session, as an address; valid while the session object lives."""
    from pylibsrtp._binding import ffi

    return int(ffi.cast("uintptr_t", _get(session, "_srtp", "pylibsrtp", "Session")[0]))


# --- asyncio ---------------------------------------------------------------------------------------


def raw_socket(transport: object) -> socket.socket | None:
    """The socket under an asyncio datagram transport (None for others, e.g. aioice's TURN transport)."""
    sock = getattr(transport, "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def drain_reads(transport: asyncio.DatagramTransport, batch: int) -> None:
    """Read up to ``batch`` datagrams each time the socket is readable, instead of asyncio's one.

    asyncio's datagram transport reads one datagram per event-loop iteration. When the loop also serves
    hundreds of subscribers, an iteration takes milliseconds, so a publisher socket read once per iteration
    falls behind its sender: the kernel queue grows, every packet arrives later, and in the end the answers to
    ICE consent checks on that socket come too late and the teacher's connection is dropped. Reading what is
    queued each time keeps the socket drained.
    """
    if getattr(transport, "muxed", False):
        return  # a connection's view of the shared UDP mux socket: the mux drains that one (``udpmux``)
    loop = _get(transport, "_loop", "python", "asyncio _SelectorDatagramTransport")
    sock = _get(transport, "_sock", "python", "asyncio _SelectorDatagramTransport")
    fd = _get(transport, "_sock_fd", "python", "asyncio _SelectorDatagramTransport")
    protocol = _get(transport, "_protocol", "python", "asyncio _SelectorDatagramTransport")
    _require(transport, "_read_ready", "python", "asyncio _SelectorDatagramTransport")
    _require(loop, "_add_reader", "python", "asyncio selector event loop")
    max_size = int(_get(transport, "max_size", "python", "asyncio _SelectorDatagramTransport"))
    recvfrom = sock.recvfrom

    def read_ready() -> None:
        for _ in range(batch):
            if transport._conn_lost:  # type: ignore[attr-defined]
                return
            try:
                data, addr = recvfrom(max_size)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                protocol.error_received(exc)
                return
            protocol.datagram_received(data, addr)

    transport._read_ready = read_ready  # type: ignore[attr-defined]  # pause/resume re-register this one
    loop._remove_reader(fd)
    loop._add_reader(fd, read_ready)


def queue_unfinished(queue: asyncio.Queue[Any]) -> int:
    """Items put on an asyncio queue and not yet marked done (queued or in flight)."""
    return int(_get(queue, "_unfinished_tasks", "python", "asyncio.Queue"))
