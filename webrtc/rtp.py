"""Pure RTP/RTCP helpers for the forwarding path: header parse and rewrite, packet buffer, PLI throttle.

Nothing here touches sockets, asyncio or aiortc, so every function is unit-testable and cheap enough
to run once per packet. RTCP packets are built and parsed by hand (RFC 3550, RFC 4585, RFC 5104) because
the SFU only needs a handful of them and aiortc's object model costs more per packet than it saves.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

RTP_HEADER = struct.Struct("!BBHII")
_RTCP_HEADER = struct.Struct("!BBH")
_U32 = struct.Struct("!I")
_U16X2 = struct.Struct("!HH")

RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_RTPFB = 205
RTCP_PSFB = 206
RTPFB_NACK = 1
PSFB_PLI = 1
PSFB_FIR = 4
PSFB_APP = 15  # REMB lives here

AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

SEQ_MOD = 1 << 16
TS_MOD = 1 << 32


def is_rtcp(data: bytes) -> bool:
    """True when a demultiplexed SRTP/RTP datagram is RTCP (RFC 5761 payload-type ranges)."""
    return len(data) >= 2 and 192 <= data[1] <= 223


@dataclass(slots=True)
class RtpHeader:
    """The fields of an RTP header that the SFU reads; ``payload_offset`` skips CSRCs and extensions."""

    marker: bool
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    csrc_count: int
    extension_offset: int  # offset of the extension block, or -1 when there is none
    payload_offset: int
    padding: bool


def parse_rtp_header(data: bytes) -> RtpHeader:
    """Parse an RTP header, raising ValueError on anything a sender could not have produced."""
    if len(data) < 12:
        raise ValueError("RTP packet too short")
    b0, b1, seq, ts, ssrc = RTP_HEADER.unpack_from(data)
    if b0 >> 6 != 2:
        raise ValueError("RTP version is not 2")
    cc = b0 & 0x0F
    offset = 12 + 4 * cc
    ext_offset = -1
    if b0 & 0x10:
        if len(data) < offset + 4:
            raise ValueError("RTP extension header truncated")
        ext_offset = offset
        (length_words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * length_words
    if offset > len(data):
        raise ValueError("RTP header longer than packet")
    return RtpHeader(
        marker=bool(b1 & 0x80),
        payload_type=b1 & 0x7F,
        sequence=seq,
        timestamp=ts,
        ssrc=ssrc,
        csrc_count=cc,
        extension_offset=ext_offset,
        payload_offset=offset,
        padding=bool(b0 & 0x20),
    )


def strip_extensions(data: bytes, header: RtpHeader) -> tuple[int, bytes]:
    """Return (first header byte with X cleared, CSRCs + payload).

    Header extension IDs are negotiated per peer connection, so the publisher's IDs mean nothing to a
    subscriber (a forwarded ``mid`` extension would even misroute the packet); dropping the block once per
    incoming packet is cheaper than remapping it per subscriber.
    """
    b0 = data[0] & 0xEF
    if header.extension_offset < 0:
        return b0, data[12:]
    return b0, data[12 : 12 + 4 * header.csrc_count] + data[header.payload_offset :]


def rewrite_header(
    b0: int, marker: bool, payload_type: int, sequence: int, timestamp: int, ssrc: int, tail: bytes
) -> bytes:
    """Build a packet for one subscriber: new payload type, SSRC, sequence and timestamp (all wrapped)."""
    return (
        RTP_HEADER.pack(
            b0,
            (0x80 if marker else 0) | payload_type,
            sequence & 0xFFFF,
            timestamp & 0xFFFFFFFF,
            ssrc,
        )
        + tail
    )


def seq_diff(a: int, b: int) -> int:
    """Signed distance a - b between two 16-bit sequence numbers, in [-32768, 32767]."""
    d = (a - b) & 0xFFFF
    return d - SEQ_MOD if d >= 0x8000 else d


def audio_level(data: bytes, header: RtpHeader, ext_id: int) -> int | None:
    """Read the RFC 6464 audio level (0 = loudest, 127 = silence) from a one-byte header extension."""
    off = header.extension_offset
    if off < 0 or ext_id <= 0:
        return None
    profile, length_words = _U16X2.unpack_from(data, off)
    if profile != 0xBEDE:  # two-byte extensions are not used for audio level by browsers
        return None
    pos = off + 4
    end = pos + 4 * length_words
    while pos < end:
        byte = data[pos]
        if byte == 0:  # padding
            pos += 1
            continue
        ident = byte >> 4
        length = (byte & 0x0F) + 1
        if ident == 15:
            return None
        if ident == ext_id:
            return int(data[pos + 1] & 0x7F)
        pos += 1 + length
    return None


def is_keyframe(codec: str, payload: bytes) -> bool:
    """True when an RTP payload starts a key frame (VP8 or H.264); audio is always decodable."""
    name = codec.lower()
    if name == "vp8":
        return _vp8_keyframe(payload)
    if name == "h264":
        return _h264_keyframe(payload)
    return True


def _vp8_keyframe(payload: bytes) -> bool:
    # RFC 7741 payload descriptor: only the first packet of partition 0 carries the frame header.
    if not payload:
        return False
    b0 = payload[0]
    if not b0 & 0x10 or b0 & 0x07:
        return False
    pos = 1
    if b0 & 0x80:
        if len(payload) < 2:
            return False
        x = payload[1]
        pos = 2
        if x & 0x80:
            pos += 2 if len(payload) > pos and payload[pos] & 0x80 else 1
        if x & 0x40:
            pos += 1
        if x & 0x30:
            pos += 1
    return len(payload) > pos and not payload[pos] & 0x01


def _h264_keyframe(payload: bytes) -> bool:
    # RFC 6184: a key frame starts with an SPS or IDR, either alone, inside STAP-A, or as an FU-A start.
    if not payload:
        return False
    nal = payload[0] & 0x1F
    if nal in (5, 7):
        return True
    if nal == 24:
        pos = 1
        while pos + 2 < len(payload):
            size = (payload[pos] << 8) | payload[pos + 1]
            if payload[pos + 2] & 0x1F in (5, 7):
                return True
            pos += 2 + size
        return False
    if nal == 28 and len(payload) > 1:
        return bool(payload[1] & 0x80) and payload[1] & 0x1F in (5, 7)
    return False


class PacketBuffer(Generic[T]):
    """Ring buffer of recent packets of one track, keyed by sequence number, for answering NACKs."""

    __slots__ = ("_mask", "_seqs", "_items")

    def __init__(self, size: int = 512) -> None:
        if size & (size - 1):
            raise ValueError("size must be a power of two")
        self._mask = size - 1
        self._seqs: list[int] = [-1] * size
        self._items: list[T | None] = [None] * size

    def put(self, sequence: int, item: T) -> None:
        """Store an item, evicting whatever held the same slot (the packet ``size`` sequence numbers ago)."""
        i = sequence & self._mask
        self._seqs[i] = sequence
        self._items[i] = item

    def get(self, sequence: int) -> T | None:
        """Return the item stored for this exact sequence number, or None when absent or evicted."""
        i = sequence & self._mask
        if self._seqs[i] != sequence:
            return None
        return self._items[i]


class PliThrottle:
    """Lets a key-frame request through at most once per ``interval_s`` (browsers re-ask freely)."""

    __slots__ = ("interval_s", "_last")

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self._last: float | None = None

    def allow(self, now: float) -> bool:
        """Record and allow a request at ``now`` unless one was allowed less than the interval ago."""
        if self._last is not None and now - self._last < self.interval_s:
            return False
        self._last = now
        return True


class ReceptionStats:
    """RFC 3550 appendix A.3/A.8 receiver statistics for one incoming stream, for receiver reports."""

    __slots__ = (
        "base_seq",
        "max_seq",
        "cycles",
        "received",
        "expected_prior",
        "received_prior",
        "jitter",
        "_transit",
        "clock_rate",
        "last_sr",
        "last_sr_at",
    )

    def __init__(self, clock_rate: int) -> None:
        self.clock_rate = clock_rate
        self.base_seq = -1
        self.max_seq = 0
        self.cycles = 0
        self.received = 0
        self.expected_prior = 0
        self.received_prior = 0
        self.jitter = 0.0
        self._transit: float | None = None
        self.last_sr = 0  # middle 32 bits of the last SR's NTP time
        self.last_sr_at = 0.0

    def add(self, sequence: int, timestamp: int, arrival_s: float) -> None:
        """Account for one received packet."""
        if self.base_seq < 0:
            self.base_seq = self.max_seq = sequence
        else:
            d = seq_diff(sequence, self.max_seq)
            if d > 0:
                if sequence < self.max_seq:
                    self.cycles += SEQ_MOD
                self.max_seq = sequence
        self.received += 1
        transit = arrival_s * self.clock_rate - timestamp
        if self._transit is not None:
            delta = abs(transit - self._transit)
            if delta < self.clock_rate * 10:  # ignore timestamp jumps (publisher restarts)
                self.jitter += (delta - self.jitter) / 16.0
        self._transit = transit

    @property
    def extended_max(self) -> int:
        """Highest sequence number seen, extended with the wrap-around count."""
        return self.cycles + self.max_seq

    def report_block(self, ssrc: int, now_s: float) -> bytes:
        """A 24-byte RR report block for this stream; resets the interval counters."""
        expected = self.extended_max - self.base_seq + 1 if self.base_seq >= 0 else 0
        lost = max(0, min(expected - self.received, 0x7FFFFF))
        expected_interval = expected - self.expected_prior
        received_interval = self.received - self.received_prior
        self.expected_prior = expected
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        dlsr = 0
        if self.last_sr_at:
            dlsr = int((now_s - self.last_sr_at) * 65536) & 0xFFFFFFFF
        return struct.pack(
            "!IIIIII",
            ssrc,
            (fraction << 24) | lost,
            self.extended_max & 0xFFFFFFFF,
            int(self.jitter) & 0xFFFFFFFF,
            self.last_sr,
            dlsr,
        )


# --- RTCP building -------------------------------------------------------------------------------


def _rtcp(count_or_fmt: int, packet_type: int, body: bytes) -> bytes:
    return _RTCP_HEADER.pack(0x80 | count_or_fmt, packet_type, (len(body) + 4) // 4 - 1) + body


def build_sr(ssrc: int, ntp: int, rtp_timestamp: int, packet_count: int, octet_count: int) -> bytes:
    """A sender report without report blocks."""
    body = struct.pack(
        "!IQIII",
        ssrc,
        ntp & 0xFFFFFFFFFFFFFFFF,
        rtp_timestamp & 0xFFFFFFFF,
        packet_count & 0xFFFFFFFF,
        octet_count & 0xFFFFFFFF,
    )
    return _rtcp(0, RTCP_SR, body)


def build_sdes_cname(ssrc: int, cname: str) -> bytes:
    """An SDES packet with one CNAME chunk (compound RTCP should carry one)."""
    text = cname.encode()[:255]
    chunk = _U32.pack(ssrc) + bytes([1, len(text)]) + text + b"\x00"
    chunk += b"\x00" * (-len(chunk) % 4)
    return _rtcp(1, RTCP_SDES, chunk)


def build_rr(ssrc: int, blocks: list[bytes]) -> bytes:
    """A receiver report carrying up to 31 report blocks."""
    return _rtcp(len(blocks[:31]), RTCP_RR, _U32.pack(ssrc) + b"".join(blocks[:31]))


def build_pli(sender_ssrc: int, media_ssrc: int) -> bytes:
    """A picture loss indication asking the publisher of ``media_ssrc`` for a key frame."""
    return _rtcp(PSFB_PLI, RTCP_PSFB, struct.pack("!II", sender_ssrc, media_ssrc))


def build_remb(sender_ssrc: int, bitrate: int, ssrcs: list[int]) -> bytes:
    """A REMB message (draft-alvestrand-rmcat-remb) capping the publisher's send rate."""
    exp = 0
    mantissa = bitrate
    while mantissa > 0x3FFFF:
        mantissa >>= 1
        exp += 1
    fci = b"REMB" + bytes(
        [len(ssrcs), (exp << 2) | (mantissa >> 16), (mantissa >> 8) & 0xFF, mantissa & 0xFF]
    )
    fci += b"".join(_U32.pack(s) for s in ssrcs)
    return _rtcp(PSFB_APP, RTCP_PSFB, struct.pack("!II", sender_ssrc, 0) + fci)


def build_nack(sender_ssrc: int, media_ssrc: int, sequences: list[int]) -> bytes:
    """A generic NACK (RFC 4585) for the given sequence numbers."""
    fci = b""
    seqs = sorted(set(s & 0xFFFF for s in sequences))
    while seqs:
        pid = seqs.pop(0)
        blp = 0
        for s in list(seqs):
            d = (s - pid) & 0xFFFF
            if 1 <= d <= 16:
                blp |= 1 << (d - 1)
                seqs.remove(s)
        fci += _U16X2.pack(pid, blp)
    return _rtcp(RTPFB_NACK, RTCP_RTPFB, struct.pack("!II", sender_ssrc, media_ssrc) + fci)


# --- RTCP parsing --------------------------------------------------------------------------------


@dataclass(slots=True)
class RtcpItem:
    """One RTCP packet of a compound packet: type, count/format field and the body after the header."""

    packet_type: int
    fmt: int
    body: bytes


def iter_rtcp(data: bytes) -> Iterator[RtcpItem]:
    """Split a compound RTCP packet; stops quietly at the first malformed packet."""
    pos = 0
    while pos + 4 <= len(data):
        b0, pt, length = _RTCP_HEADER.unpack_from(data, pos)
        end = pos + 4 * (length + 1)
        if b0 >> 6 != 2 or end > len(data):
            return
        body = data[pos + 4 : end]
        if b0 & 0x20 and body:  # padding
            body = body[: len(body) - body[-1]]
        yield RtcpItem(pt, b0 & 0x1F, body)
        pos = end


def parse_feedback_ssrcs(body: bytes) -> tuple[int, int]:
    """(sender SSRC, media SSRC) of an RTPFB/PSFB packet body."""
    if len(body) < 8:
        raise ValueError("feedback packet too short")
    sender, media = struct.unpack_from("!II", body)
    return int(sender), int(media)


def parse_nack(body: bytes) -> list[int]:
    """Sequence numbers requested by a generic NACK body (after the two SSRCs)."""
    lost: list[int] = []
    for pos in range(8, len(body) - 3, 4):
        pid, blp = _U16X2.unpack_from(body, pos)
        lost.append(pid)
        for bit in range(16):
            if blp & (1 << bit):
                lost.append((pid + bit + 1) & 0xFFFF)
    return lost


def parse_fir_ssrcs(body: bytes) -> list[int]:
    """Media SSRCs named in a FIR's FCI entries (RFC 5104 puts them there, not in the header)."""
    return [_U32.unpack_from(body, pos)[0] for pos in range(8, len(body) - 7, 8)]


@dataclass(slots=True)
class SenderInfo:
    """The sender-info part of an SR."""

    ssrc: int
    ntp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int


def parse_sr(body: bytes) -> SenderInfo:
    """Parse the sender info of an SR body."""
    if len(body) < 24:
        raise ValueError("SR too short")
    ssrc, ntp, rtp_ts, packets, octets = struct.unpack_from("!IQIII", body)
    return SenderInfo(ssrc, ntp, rtp_ts, packets, octets)


@dataclass(slots=True)
class ReportBlock:
    """One reception report block of an SR/RR."""

    ssrc: int
    fraction_lost: int
    packets_lost: int
    highest_sequence: int
    jitter: int


def parse_report_blocks(item: RtcpItem) -> list[ReportBlock]:
    """Report blocks of an SR or RR."""
    start = 24 if item.packet_type == RTCP_SR else 4
    blocks = []
    for i in range(item.fmt):
        pos = start + 24 * i
        if pos + 24 > len(item.body):
            break
        ssrc, lost_word, highest, jitter = struct.unpack_from("!IIII", item.body, pos)
        lost = lost_word & 0xFFFFFF
        if lost & 0x800000:
            lost -= 0x1000000
        blocks.append(ReportBlock(ssrc, lost_word >> 24, lost, highest, jitter))
    return blocks
