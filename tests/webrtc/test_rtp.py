"""Pure unit tests of the RTP/RTCP helpers: no sockets, no event loop."""

from __future__ import annotations

import struct

import pytest

from webrtc import rtp


def _packet(
    seq: int,
    ts: int,
    ssrc: int = 0x11223344,
    pt: int = 96,
    marker: bool = False,
    ext: bytes = b"",
    payload: bytes = b"\x10\x00\x9d",
) -> bytes:
    b0 = 0x80 | (0x10 if ext else 0)
    header = struct.pack("!BBHII", b0, (0x80 if marker else 0) | pt, seq, ts, ssrc)
    if ext:
        ext = ext + b"\x00" * (-len(ext) % 4)
        header += struct.pack("!HH", 0xBEDE, len(ext) // 4) + ext
    return header + payload


def test_parse_header_fields() -> None:
    h = rtp.parse_rtp_header(_packet(65535, 4294967295, marker=True, pt=111))
    assert (h.sequence, h.timestamp, h.ssrc, h.payload_type, h.marker) == (
        65535,
        4294967295,
        0x11223344,
        111,
        True,
    )
    assert h.payload_offset == 12 and h.extension_offset == -1


@pytest.mark.parametrize("data", [b"", b"\x80" * 11, b"\x40" + b"\x00" * 15, b"\x90\x60" + b"\x00" * 10])
def test_parse_header_rejects_garbage(data: bytes) -> None:
    with pytest.raises(ValueError):
        rtp.parse_rtp_header(data)


def test_rewrite_with_wraparound() -> None:
    data = _packet(65530, 4294967000, ext=b"\x10\x33")
    h = rtp.parse_rtp_header(data)
    b0, tail = rtp.strip_extensions(data, h)
    assert tail == b"\x10\x00\x9d" and not b0 & 0x10
    seq_off, ts_off = 10, 1000
    out = rtp.rewrite_header(b0, h.marker, 97, h.sequence + seq_off, h.timestamp + ts_off, 0xCAFEBABE, tail)
    o = rtp.parse_rtp_header(out)
    assert o.sequence == 4  # 65530 + 10 wraps
    assert o.timestamp == (4294967000 + 1000) % (1 << 32)
    assert (o.ssrc, o.payload_type, o.extension_offset) == (0xCAFEBABE, 97, -1)
    assert out[o.payload_offset :] == b"\x10\x00\x9d"


def test_seq_diff_wraps() -> None:
    assert rtp.seq_diff(2, 65534) == 4
    assert rtp.seq_diff(65534, 2) == -4
    assert rtp.seq_diff(100, 100) == 0


def test_audio_level_extension() -> None:
    data = _packet(1, 1, ext=bytes([0x10, 0x80 | 33]))  # id 1, len 1, V bit + level 33
    h = rtp.parse_rtp_header(data)
    assert rtp.audio_level(data, h, 1) == 33
    assert rtp.audio_level(data, h, 2) is None


def test_one_byte_extensions_mid_and_reserved_id() -> None:
    # mid "1" (id 3, two bytes "1a"), then the audio level (id 1): the forwarder's mid lookup and the level
    # both come from the same extension reader.
    data = _packet(1, 1, ext=bytes([0x31, ord("1"), ord("a"), 0x10, 0x80 | 20, 0, 0, 0]))
    h = rtp.parse_rtp_header(data)
    assert rtp.one_byte_extension(data, h, 3) == b"1a"
    assert rtp.audio_level(data, h, 1) == 20
    stop = _packet(1, 1, ext=bytes([0xF0, 0x10, 0x80 | 20, 0]))  # id 15: stop reading (RFC 8285)
    assert rtp.one_byte_extension(stop, rtp.parse_rtp_header(stop), 1) is None
    plain = _packet(1, 1)
    assert rtp.one_byte_extension(plain, rtp.parse_rtp_header(plain), 1) is None


def test_payload_without_padding() -> None:
    padded = bytearray(_packet(1, 1) + b"\x00\x00\x03")
    padded[0] |= 0x20
    h = rtp.parse_rtp_header(bytes(padded))
    assert rtp.payload(bytes(padded), h) == bytes(padded)[h.payload_offset : -3]
    padded[-1] = 200  # padding longer than the packet: no sender produces that
    assert rtp.payload(bytes(padded), h) is None


def test_keyframe_detection_and_depacketization_read_stap_a_alike() -> None:
    sps, idr = b"\x67\x42\xc0\x1f", b"\x65\x88\x84\x00"
    stap_a = b"\x18" + len(sps).to_bytes(2, "big") + sps + len(idr).to_bytes(2, "big") + idr
    assert list(rtp.h264_stap_a_units(stap_a)) == [sps, idr] == rtp.h264_nal_units([stap_a])
    assert rtp.is_keyframe("H264", stap_a) and rtp.h264_starts_picture(stap_a)
    truncated = stap_a[:-2]
    assert not rtp.is_keyframe("H264", b"\x18\x00\x09" + idr)  # the IDR's size runs past the packet
    with pytest.raises(ValueError):
        rtp.h264_nal_units([truncated])


def test_vp8_descriptor_is_read_once_for_both() -> None:
    key = b"\x90\x80\x12\x34\x00"  # extended, one-byte picture id, then a key-frame header byte
    assert rtp.vp8_descriptor(key) == (True, 3)
    assert rtp.vp8_split(key) == (True, b"\x34\x00") and rtp.is_keyframe("VP8", key)
    assert rtp.vp8_descriptor(b"\x18\x00")[0]  # the reserved bit beside PID is ignored (RFC 7741)
    for truncated in (b"", b"\x80", b"\x90\x80"):
        with pytest.raises(ValueError):
            rtp.vp8_descriptor(truncated)
        assert not rtp.is_keyframe("VP8", truncated)


def test_keyframe_detection() -> None:
    assert rtp.is_keyframe("VP8", b"\x10\x00\x9d\x01\x2a")  # S=1, PID 0, P bit clear
    assert not rtp.is_keyframe("VP8", b"\x10\x01")  # inter frame
    assert not rtp.is_keyframe("VP8", b"\x00\x00")  # not a partition start
    assert rtp.is_keyframe("VP8", b"\x90\x80\x12\x34\x00")  # extended: two-byte picture id, then key frame
    assert rtp.is_keyframe("H264", bytes([0x65]))  # IDR
    assert rtp.is_keyframe("H264", bytes([0x18, 0x00, 0x02, 0x67, 0x42]))  # STAP-A with SPS
    assert rtp.is_keyframe("H264", bytes([0x7C, 0x85]))  # FU-A start of IDR
    assert not rtp.is_keyframe("H264", bytes([0x7C, 0x05]))  # FU-A continuation
    assert not rtp.is_keyframe("H264", bytes([0x41]))
    assert rtp.is_keyframe("opus", b"")


def test_packet_buffer_store_lookup_evict() -> None:
    buf = rtp.PacketBuffer(8)
    for seq in range(65530, 65536):
        buf.put(seq, f"p{seq}")
    buf.put(0, "p0")
    assert buf.get(65535) == "p65535" and buf.get(0) == "p0"
    assert buf.get(1) is None
    for seq in range(1, 9):
        buf.put(seq, f"p{seq}")
    assert buf.get(0) is None  # evicted: slot reused by seq 8
    assert buf.get(8) == "p8"
    with pytest.raises(ValueError):
        rtp.PacketBuffer(100)


def test_pli_throttle() -> None:
    t = rtp.PliThrottle(1.0)
    assert t.allow(10.0)
    assert not t.allow(10.5)
    assert not t.allow(10.99)
    assert t.allow(11.0)
    assert not t.allow(11.2)


def test_reception_stats_report_block() -> None:
    stats = rtp.ReceptionStats(90000)
    for seq in [65534, 65535, 1, 2]:  # seq 0 lost, across the wrap
        stats.add(seq, seq * 3000, seq / 30)
    assert stats.extended_max == 65536 + 2
    block = stats.report_block(0xAA, 0.0)
    ssrc, lost_word, highest = struct.unpack_from("!III", block)
    assert ssrc == 0xAA and lost_word & 0xFFFFFF == 1 and highest == 65538
    assert lost_word >> 24 == 256 // 5  # 1 of 5 expected in the interval


def test_rtcp_build_and_parse_roundtrip() -> None:
    nack = rtp.build_nack(1, 2, [100, 101, 116, 117, 300])
    sr = rtp.build_sr(5, 0x1234567890ABCDEF, 777, 10, 2000)
    pli = rtp.build_pli(1, 9)
    rr = rtp.build_rr(3, [rtp.ReceptionStats(48000).report_block(9, 0.0)])
    remb = rtp.build_remb(1, 2_500_000, [9])
    fir = struct.pack("!BBHII", 0x84, 206, 4, 1, 0) + struct.pack("!II", 9, 0x01000000)
    items = list(rtp.iter_rtcp(nack + sr + pli + rr + remb + fir + rtp.build_sdes_cname(5, "x")))
    assert [i.packet_type for i in items] == [205, 200, 206, 201, 206, 206, 202]
    assert sorted(rtp.parse_nack(items[0].body)) == [100, 101, 116, 117, 300]
    assert rtp.parse_feedback_ssrcs(items[0].body) == (1, 2)
    info = rtp.parse_sr(items[1].body)
    assert (info.ssrc, info.ntp, info.rtp_timestamp, info.packet_count, info.octet_count) == (
        5,
        0x1234567890ABCDEF,
        777,
        10,
        2000,
    )
    assert items[2].fmt == rtp.PSFB_PLI and rtp.parse_feedback_ssrcs(items[2].body) == (1, 9)
    assert rtp.parse_report_blocks(items[3])[0].ssrc == 9
    assert items[4].fmt == rtp.PSFB_APP and items[4].body[8:12] == b"REMB"
    assert rtp.parse_fir_ssrcs(items[5].body) == [9]
    assert list(rtp.iter_rtcp(b"\x00\x01")) == []
    assert rtp.is_rtcp(sr) and not rtp.is_rtcp(_packet(1, 1))
