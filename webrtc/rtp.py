"""The SFU's one RTP, RTCP, VP8 and H.264 parser, shared by the forwarding path and the recorder.

RTP: header parse and rewrite, payload and padding, one-byte header extensions (mid, RFC 6464 audio level),
sequence-number arithmetic; the per-track packet buffer, PLI throttle and receiver statistics. RTCP
packets are built and parsed by hand (RFC 3550, RFC 4585, RFC 5104) because the SFU only needs a handful
of them and aiortc's object model costs more per packet than it saves. Codecs: the VP8 payload descriptor
and frame header (RFC 7741, RFC 6386) and H.264 NAL units (RFC 6184: single, STAP-A, FU-A; the SPS's
picture size), for key-frame detection in ``forward.py`` and depacketization in ``recorder.py``.

Nothing here touches sockets, asyncio or aiortc, so every function is unit-testable and cheap enough
to run once per packet.
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


def payload_end(data: bytes, header: RtpHeader) -> int:
    """Where the payload ends: before the padding, whose length is the packet's last byte (RFC 3550 5.1)."""
    return len(data) - (data[-1] if header.padding else 0)


def payload(data: bytes, header: RtpHeader) -> bytes | None:
    """The payload without padding; None when the padding length would run into the header."""
    end = payload_end(data, header)
    if end < header.payload_offset:
        return None
    return data[header.payload_offset : end]


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


def unwrap(value: int, reference: int, bits: int) -> int:
    """Extend a wrapping counter (16-bit sequence, 32-bit timestamp) to the value nearest ``reference``."""
    modulus = 1 << bits
    delta = (value - reference) % modulus
    if delta >= modulus // 2:
        delta -= modulus
    return reference + delta


def one_byte_extension(data: bytes, header: RtpHeader, ext_id: int) -> bytes | None:
    """The value of header extension ``ext_id`` in a one-byte-header extension block (RFC 8285), or None.

    Browsers send the ``mid`` and audio-level extensions this way (two-byte headers are not looked at).
    """
    off = header.extension_offset
    if off < 0 or ext_id <= 0:
        return None
    profile, length_words = _U16X2.unpack_from(data, off)
    if profile != 0xBEDE:
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
        if ident == 15:  # reserved: stop reading the block (RFC 8285 4.2)
            return None
        if ident == ext_id:
            return data[pos + 1 : pos + 1 + length]
        pos += 1 + length
    return None


def audio_level(data: bytes, header: RtpHeader, ext_id: int) -> int | None:
    """Read the RFC 6464 audio level (0 = loudest, 127 = silence) from a one-byte header extension."""
    value = one_byte_extension(data, header, ext_id)
    return int(value[0] & 0x7F) if value else None


def is_keyframe(codec: str, payload: bytes) -> bool:
    """True when an RTP payload starts a key frame (VP8 or H.264); audio is always decodable."""
    name = codec.lower()
    if name == "vp8":
        return _vp8_keyframe(payload)
    if name == "h264":
        return _h264_keyframe(payload)
    return True


# --- VP8 (RFC 7741 payload descriptor, RFC 6386 frame header) --------------------------------------


def vp8_descriptor(payload: bytes) -> tuple[bool, int]:
    """(starts a frame, descriptor length) of a VP8 RTP payload; ValueError when it is truncated.

    A frame starts with the first packet of partition 0: S bit set and partition index 0 (the reserved bit
    next to it is ignored, as RFC 7741 says a receiver must).
    """
    if not payload:
        raise ValueError("empty VP8 payload")
    first = payload[0]
    pos = 1
    if first & 0x80:  # extended control bits
        if len(payload) < 2:
            raise ValueError("truncated VP8 payload descriptor")
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # PictureID, 7 or 15 bits
            if len(payload) <= pos:
                raise ValueError("truncated VP8 payload descriptor")
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # TL0PICIDX
            pos += 1
        if ext & 0x30:  # TID / KEYIDX share one byte
            pos += 1
    if pos > len(payload):
        raise ValueError("truncated VP8 payload descriptor")
    return bool(first & 0x10) and not first & 0x07, pos


def vp8_split(payload: bytes) -> tuple[bool, bytes]:
    """Strip the VP8 payload descriptor; return (starts a frame, VP8 data). ValueError when truncated."""
    starts, size = vp8_descriptor(payload)
    return starts, payload[size:]


def vp8_keyframe_size(frame: bytes) -> tuple[bool, int, int]:
    """Return (is key frame, width, height) from a VP8 frame's header (RFC 6386 9.1)."""
    if len(frame) < 10 or frame[0] & 0x01:
        return False, 0, 0
    if frame[3:6] != b"\x9d\x01\x2a":
        raise ValueError("VP8 key frame without start code")
    width, height = struct.unpack_from("<HH", frame, 6)
    return True, width & 0x3FFF, height & 0x3FFF


def _vp8_keyframe(payload: bytes) -> bool:
    # Only the first packet of partition 0 carries the frame header, whose P bit is clear on a key frame.
    try:
        starts, size = vp8_descriptor(payload)
    except ValueError:
        return False
    return starts and len(payload) > size and not payload[size] & 0x01


# --- H.264 (RFC 6184 packetization, ITU-T H.264 7.3.2.1 SPS) ---------------------------------------

H264_SLICE = 1
H264_IDR = 5
H264_SPS = 7
H264_PPS = 8
H264_STAP_A = 24
H264_FU_A = 28
_H264_KEY = (H264_IDR, H264_SPS)  # a key frame starts with an SPS or an IDR slice


def h264_stap_a_units(payload: bytes) -> Iterator[bytes]:
    """The NAL units aggregated in a STAP-A payload (16-bit sizes, each followed by a unit); ValueError when
    one is truncated."""
    pos = 1
    while pos + 2 <= len(payload):
        size = (payload[pos] << 8) | payload[pos + 1]
        pos += 2
        if size == 0 or pos + size > len(payload):
            raise ValueError("truncated STAP-A")
        yield payload[pos : pos + size]
        pos += size


def h264_nal_units(payloads: list[bytes]) -> list[bytes]:
    """Turn an access unit's RTP payloads into NAL units (single NAL unit, STAP-A, FU-A)."""
    units: list[bytes] = []
    fragment: bytearray | None = None
    for payload in payloads:
        nal_type = payload[0] & 0x1F
        if 1 <= nal_type <= 23:
            units.append(payload)
        elif nal_type == H264_STAP_A:
            units.extend(h264_stap_a_units(payload))
        elif nal_type == H264_FU_A:  # rebuild the header from the indicator's F/NRI bits
            if len(payload) < 3:
                raise ValueError("truncated FU-A")
            header = payload[1]
            if header & 0x80:
                fragment = bytearray([(payload[0] & 0xE0) | (header & 0x1F)])
            elif fragment is None:
                raise ValueError("FU-A continuation without a start")
            fragment += payload[2:]
            if header & 0x40:
                units.append(bytes(fragment))
                fragment = None
        else:
            raise ValueError(f"unsupported H.264 packetization (NAL type {nal_type})")
    if fragment is not None:
        raise ValueError("FU-A without an end")
    return units


def h264_starts_picture(payload: bytes) -> bool:
    """Tell whether a packet begins an access unit, so that a lost first packet is noticed."""
    nal_type = payload[0] & 0x1F
    if nal_type == H264_STAP_A:  # look at the first aggregated NAL unit
        payload = payload[3:]
    elif nal_type == H264_FU_A:  # only the start fragment, and look at the fragmented unit
        if len(payload) < 2 or not payload[1] & 0x80:
            return False
        payload = bytes([payload[1]]) + payload[2:]
    if len(payload) < 2:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in {H264_SLICE, H264_IDR}:
        # A slice starts the picture only if first_mb_in_slice is 0, i.e. its ue(v) is "1".
        return bool(payload[1] & 0x80)
    return True  # SEI, SPS, PPS and delimiters come before a picture's slices


def _h264_keyframe(payload: bytes) -> bool:
    # A key frame starts with an SPS or IDR, either alone, inside STAP-A, or as an FU-A start.
    if not payload:
        return False
    nal = payload[0] & 0x1F
    if nal in _H264_KEY:
        return True
    if nal == H264_STAP_A:
        try:
            return any(unit[0] & 0x1F in _H264_KEY for unit in h264_stap_a_units(payload))
        except ValueError:
            return False
    if nal == H264_FU_A and len(payload) > 1:
        return bool(payload[1] & 0x80) and payload[1] & 0x1F in _H264_KEY
    return False


class _BitReader:
    """Reads the exp-Golomb fields of an H.264 parameter set."""

    def __init__(self, rbsp: bytes) -> None:
        self._data = rbsp
        self._pos = 0

    def bit(self) -> int:
        byte = self._data[self._pos >> 3]  # IndexError past the end: the caller gives up
        value = (byte >> (7 - (self._pos & 7))) & 1
        self._pos += 1
        return value

    def bits(self, count: int) -> int:
        value = 0
        for _ in range(count):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad exp-Golomb code")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        value = self.ue()
        return (value + 1) // 2 if value & 1 else -(value // 2)


def _unescape(nal: bytes) -> bytes:
    # Remove emulation-prevention bytes (00 00 03 -> 00 00) to get the raw bit string.
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def h264_sps_size(sps: bytes) -> tuple[int, int]:
    """Return the picture (width, height) that an H.264 sequence parameter set NAL unit describes."""
    reader = _BitReader(_unescape(sps[1:]))
    profile_idc = reader.bits(8)
    reader.bits(16)  # constraint flags, level_idc
    reader.ue()  # seq_parameter_set_id
    chroma_format_idc = 1
    if profile_idc in {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}:
        chroma_format_idc = reader.ue()
        if chroma_format_idc == 3:
            reader.bit()  # separate_colour_plane_flag
        reader.ue()  # bit_depth_luma_minus8
        reader.ue()  # bit_depth_chroma_minus8
        reader.bit()  # qpprime_y_zero_transform_bypass_flag
        if reader.bit():  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format_idc != 3 else 12):
                if reader.bit():
                    last = nxt = 8
                    for _ in range(16 if index < 6 else 64):
                        if nxt:
                            nxt = (last + reader.se()) % 256
                        last = nxt or last
    reader.ue()  # log2_max_frame_num_minus4
    poc_type = reader.ue()
    if poc_type == 0:
        reader.ue()
    elif poc_type == 1:
        reader.bit()
        reader.se()
        reader.se()
        for _ in range(reader.ue()):
            reader.se()
    reader.ue()  # max_num_ref_frames
    reader.bit()  # gaps_in_frame_num_value_allowed_flag
    width_mbs = reader.ue() + 1
    height_map_units = reader.ue() + 1
    frame_mbs_only = reader.bit()
    if not frame_mbs_only:
        reader.bit()  # mb_adaptive_frame_field_flag
    reader.bit()  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = height_map_units * 16 * (2 - frame_mbs_only)
    if reader.bit():  # frame_cropping_flag
        left, right, top, bottom = reader.ue(), reader.ue(), reader.ue(), reader.ue()
        crop_x = 2 if chroma_format_idc in {1, 2} else 1
        crop_y = (2 if chroma_format_idc == 1 else 1) * (2 - frame_mbs_only)
        width -= crop_x * (left + right)
        height -= crop_y * (top + bottom)
    return width, height


# --- buffers and statistics ------------------------------------------------------------------------


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
