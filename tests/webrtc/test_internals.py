"""Every private internal the SFU uses (``webrtc/internals.py``), exercised on real objects.

A new aiortc, aioice or pylibsrtp (or Python) that renames or changes one of them fails here, with the
attribute and the installed version in the message, before it breaks forwarding in a class. The peer
connections are a real in-memory pair on 127.0.0.1 (``conftest.py`` restricts host candidates).
"""

from __future__ import annotations

import asyncio
import inspect
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aioice.ice
import pylibsrtp
import pytest
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
)
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import RTCRtpReceiveParameters, RTCRtpSendParameters

from webrtc import internals, rtp
from webrtc.internals import InternalsChanged, installed_version


def works(ok: object, attribute: str, package: str) -> None:
    """Assert with a message that names what changed, in which installed version."""
    assert ok, (
        f"{attribute} no longer behaves as webrtc/internals.py expects in {package} "
        f"{installed_version(package)}; update webrtc/internals.py for this version"
    )


@dataclass
class Pair:
    """Two connected peer connections; ``a`` sends audio to ``b``."""

    a: RTCPeerConnection
    b: RTCPeerConnection
    a_transceiver: RTCRtpTransceiver
    b_transceiver: RTCRtpTransceiver
    received: list[RTCRtpReceiveParameters] = field(default_factory=list)
    sent: list[RTCRtpSendParameters] = field(default_factory=list)

    @property
    def dtls_a(self) -> RTCDtlsTransport:
        return self.a_transceiver.receiver.transport

    @property
    def dtls_b(self) -> RTCDtlsTransport:
        return self.b_transceiver.receiver.transport


async def _until(predicate: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"gave up waiting: {what}")


async def _connect(stream_id: str | None = None) -> Pair:
    config = RTCConfiguration(iceServers=[])
    a, b = RTCPeerConnection(config), RTCPeerConnection(config)
    a_transceiver = a.addTransceiver("audio", direction="sendonly")
    pair = Pair(a, b, a_transceiver, a_transceiver)

    async def record_send(parameters: RTCRtpSendParameters) -> None:
        pair.sent.append(parameters)

    async def record_receive(parameters: RTCRtpReceiveParameters) -> None:
        pair.received.append(parameters)

    # What the SFU does to its own transceivers: aiortc must start them through these replacements.
    internals.replace_send(a_transceiver.sender, record_send)
    if stream_id is not None:
        internals.set_sender_stream_id(a_transceiver.sender, stream_id)
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    (pair.b_transceiver,) = b.getTransceivers()
    assert internals.replace_receive(pair.b_transceiver.receiver, record_receive)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    await _until(lambda: a.connectionState == b.connectionState == "connected", "the pair to connect")
    return pair


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    p = await _connect(stream_id="user-7")
    yield p
    await p.a.close()
    await p.b.close()


# --- aiortc and aioice on a connected pair ----------------------------------------------------------


async def test_srtp_sessions_and_the_nominated_route(pair: Pair) -> None:
    for dtls in (pair.dtls_a, pair.dtls_b):
        works(
            isinstance(internals.dtls_tx_srtp(dtls), pylibsrtp.Session), "RTCDtlsTransport._tx_srtp", "aiortc"
        )
        works(
            isinstance(internals.dtls_rx_srtp(dtls), pylibsrtp.Session), "RTCDtlsTransport._rx_srtp", "aiortc"
        )
    connection = internals.ice_connection(pair.dtls_a)
    works(isinstance(connection, aioice.ice.Connection), "RTCIceTransport._connection", "aiortc")
    nominated = internals.nominated_pair(connection)
    works(nominated is not None, "Connection._nominated", "aioice")
    assert nominated is not None
    protocol, remote = internals.pair_route(nominated)
    works(internals.is_plain_udp(protocol), "CandidatePair.protocol (a StunProtocol)", "aioice")
    b_ports = {p.local_candidate.port for p in internals.ice_protocols(internals.ice_connection(pair.dtls_b))}
    works(remote[0] == "127.0.0.1" and remote[1] in b_ports, "CandidatePair.remote_addr", "aioice")
    transport = internals.protocol_transport(protocol)
    works(transport is not None, "StunProtocol.transport", "aioice")
    sock = internals.raw_socket(transport)
    works(isinstance(sock, socket.socket), "asyncio _SelectorDatagramTransport._sock", "python")
    assert sock is not None
    works(sock.getsockname()[1] == protocol.local_candidate.port, "StunProtocol.transport", "aioice")
    works(internals.nominated_pairs(connection) == [nominated], "Connection._nominated", "aioice")
    works(connection._query_consent_task is not None, "Connection._query_consent_task", "aioice")
    internals.forget_consent_task(connection)
    works(connection._query_consent_task is None, "Connection._query_consent_task", "aioice")
    assert transport is not None
    internals.drain_reads(transport, 8)  # re-registers the socket's reader: the route must still carry data
    works(
        transport._read_ready.__name__ == "read_ready",
        "asyncio _SelectorDatagramTransport._read_ready",
        "python",
    )


async def test_packets_protected_in_place_reach_the_peers_srtp_handlers(pair: Pair) -> None:
    rtp_in: list[bytes] = []
    rtcp_in: list[bytes] = []

    async def on_rtp(data: bytes, arrival_time_ms: int = 0) -> None:
        rtp_in.append(data)

    async def on_rtcp(data: bytes) -> None:
        rtcp_in.append(data)

    internals.hook_srtp_handlers(pair.dtls_b, on_rtp, on_rtcp)
    works(
        internals.srtp_handlers(pair.dtls_b) == (on_rtp, on_rtcp), "RTCDtlsTransport._handle_*_data", "aiortc"
    )

    tx = internals.dtls_tx_srtp(pair.dtls_a)
    assert tx is not None
    raw = internals.srtp_internals(tx)
    plain = rtp.RTP_HEADER.pack(0x80, 111, 4242, 960, 0x1234ABCD) + b"opus" * 20
    raw.buffer[: len(plain)] = plain
    length = raw.ffi.new("int *")
    length[0] = len(plain)
    works(raw.protect(raw.srtp, raw.cdata, length) == 0, "pylibsrtp._binding.lib.srtp_protect", "pylibsrtp")
    works(length[0] > len(plain), "Session._cdata / Session._buffer", "pylibsrtp")
    nominated = internals.nominated_pair(internals.ice_connection(pair.dtls_a))
    assert nominated is not None
    protocol, remote = internals.pair_route(nominated)
    sock = internals.raw_socket(internals.protocol_transport(protocol))
    assert sock is not None
    sock.sendto(bytes(raw.buffer[: length[0]]), remote)
    pli = rtp.build_pli(0x0BADCAFE, 0x1234ABCD)
    internals.ice_sender(protocol)(tx.protect_rtcp(pli), remote)

    await _until(lambda: plain in rtp_in and pli in rtcp_in, "the protected RTP and RTCP to arrive")
    works(plain in rtp_in, "RTCDtlsTransport._handle_rtp_data (called per decrypted packet)", "aiortc")
    works(pli in rtcp_in, "RTCDtlsTransport._handle_rtcp_data (called per decrypted packet)", "aiortc")


async def test_dtls_state_changes_are_announced(pair: Pair) -> None:
    states: list[str] = []
    internals.on_dtls_state(pair.dtls_a, lambda: states.append(pair.dtls_a.state))
    await pair.a.close()
    works(states and states[-1] == "closed", "RTCDtlsTransport 'statechange' event", "aiortc")


async def test_aiortc_starts_senders_and_receivers_through_the_instance(pair: Pair) -> None:
    await _until(lambda: pair.sent and pair.received, "aiortc to start the sender and the receiver")
    works(len(pair.sent) == 1, "RTCRtpSender.send (awaited through the instance)", "aiortc")
    works(
        len(pair.received) == 1 and pair.received[0].codecs,
        "RTCRtpReceiver.receive (awaited through the instance)",
        "aiortc",
    )
    again = pair.b_transceiver.receiver.receive
    assert not internals.replace_receive(pair.b_transceiver.receiver, again)  # already replaced: no-op

    ssrc = internals.sender_ssrc(pair.a_transceiver.sender)
    works(f"a=ssrc:{ssrc} " in pair.a.localDescription.sdp, "RTCRtpSender._ssrc", "aiortc")
    works(
        {e.ssrc for e in pair.received[0].encodings} == {ssrc}, "RTCRtpSender._ssrc (as negotiated)", "aiortc"
    )
    works("a=msid:user-7 " in pair.a.localDescription.sdp, "RTCRtpSender._stream_id", "aiortc")
    codecs = internals.negotiated_codecs(pair.a_transceiver)
    mline = next(line for line in pair.a.localDescription.sdp.splitlines() if line.startswith("m=audio"))
    works(codecs and codecs[0].payloadType == int(mline.split()[3]), "RTCRtpTransceiver._codecs", "aiortc")


async def test_a_silenced_sender_does_nothing_when_started() -> None:
    a = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = a.addTransceiver("video", direction="sendonly")
    internals.silence_sender(transceiver)
    # aiortc starts a sender through the instance (see above): now that is a no-op instead of its encoder.
    await transceiver.sender.send(RTCRtpSendParameters())
    works(not inspect.ismethod(transceiver.sender.send), "RTCRtpSender.send", "aiortc")
    await a.close()


def test_host_address_lookup_is_replaced() -> None:
    # conftest.py restricted gathering to 127.0.0.1 through internals.set_host_addresses.
    works(
        aioice.ice.get_host_addresses(True, True) == ["127.0.0.1"], "aioice.ice.get_host_addresses", "aioice"
    )


async def test_queue_unfinished_counts_until_task_done() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    queue.put_nowait(1)
    queue.put_nowait(2)
    await queue.get()
    works(internals.queue_unfinished(queue) == 2, "asyncio.Queue._unfinished_tasks", "python")
    queue.task_done()
    works(internals.queue_unfinished(queue) == 1, "asyncio.Queue._unfinished_tasks", "python")


def test_srtp_addresses_for_the_c_fan_out() -> None:
    session = pylibsrtp.Session(pylibsrtp.Policy(key=bytes(30), ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
    works(internals.srtp_protect_address() > 0, "pylibsrtp._binding.lib.srtp_protect (address)", "pylibsrtp")
    works(internals.srtp_session_address(session) > 0, "Session._srtp", "pylibsrtp")


def test_srtp_internals_of_a_fresh_session() -> None:
    session = pylibsrtp.Session(pylibsrtp.Policy(key=bytes(30), ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
    raw = internals.srtp_internals(session)
    works(len(raw.buffer) == 1500, "Session._buffer (1500 bytes)", "pylibsrtp")


# --- the failure itself ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accessor", "attribute", "package"),
    [
        (internals.dtls_tx_srtp, "RTCDtlsTransport._tx_srtp", "aiortc"),
        (internals.dtls_rx_srtp, "RTCDtlsTransport._rx_srtp", "aiortc"),
        (
            lambda o: internals.hook_srtp_handlers(o, _noop, _noop),
            "RTCDtlsTransport._handle_rtp_data",
            "aiortc",
        ),
        (internals.srtp_handlers, "RTCDtlsTransport._handle_rtp_data", "aiortc"),
        (internals.nominated_pair, "Connection._nominated", "aioice"),
        (internals.ice_protocols, "Connection._protocols", "aioice"),
        (internals.pair_route, "CandidatePair.protocol", "aioice"),
        (internals.sender_ssrc, "RTCRtpSender._ssrc", "aiortc"),
        (lambda o: internals.set_sender_stream_id(o, "x"), "RTCRtpSender._stream_id", "aiortc"),
        (internals.negotiated_codecs, "RTCRtpTransceiver._codecs", "aiortc"),
        (lambda o: internals.replace_send(o, _noop), "RTCRtpSender.send", "aiortc"),
        (lambda o: internals.replace_receive(o, _noop), "RTCRtpReceiver.receive", "aiortc"),
        (internals.srtp_internals, "Session._srtp", "pylibsrtp"),
        (internals.queue_unfinished, "asyncio.Queue._unfinished_tasks", "python"),
    ],
)
def test_a_missing_internal_names_itself_and_the_installed_version(
    accessor: Callable[[Any], object], attribute: str, package: str
) -> None:
    class Changed:
        """An object from a library version without the attribute."""

    with pytest.raises(InternalsChanged) as info:
        accessor(Changed())
    message = str(info.value)
    assert attribute in message and f"{package} {installed_version(package)}" in message
    assert isinstance(info.value, AttributeError)  # callers that fall back on AttributeError still do


def test_the_ice_connection_accessor_names_the_ice_transport() -> None:
    class Dtls:
        transport = object()

    with pytest.raises(InternalsChanged, match=r"RTCIceTransport\._connection .* aiortc \d"):
        internals.ice_connection(Dtls())  # type: ignore[arg-type]


async def _noop(*args: object, **kwargs: object) -> None:
    return None
