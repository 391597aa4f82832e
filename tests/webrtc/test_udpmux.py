"""One UDP port per SFU process (``--udp-port``): every ICE connection of the coordinator on the port, of the
relay worker on the port + 1, media decoded through both; the STUN USERNAME routing; the settings checked."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aioice import stun
from av import VideoFrame
from sfu_helpers import SECRET, SmallVideoTrack, make_token
from test_e2e_media import _decode, _first_track

from webrtc.client import SfuClient
from webrtc.config import SfuConfig, check_udp_port
from webrtc.udpmux import request_ufrag

ROOT = Path(__file__).resolve().parents[2]


def _free_ports(n: int) -> int:
    """A port p with p .. p+n-1 free on loopback for UDP, and p free for TCP (the signalling port is elsewhere)."""
    for _ in range(50):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
        probe.close()
        if base + n > 65535:
            continue
        socks = []
        try:
            for i in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no run of free UDP ports")


def _tcp_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


@pytest.fixture
def muxed_sfu(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """``python -m webrtc --workers 2 --udp-port P`` in its own process (the mux is process-wide)."""
    udp, http = _free_ports(2), _tcp_port()
    env = dict(os.environ, LMS_SFU_SECRET=SECRET, NO_PROXY="127.0.0.1")
    env.pop("LMS_SFU_WEBHOOK_URL", None)
    cmd = [sys.executable, "-m", "webrtc", "--host", "127.0.0.1", "--port", str(http)]
    cmd += ["--ice-host", "127.0.0.1", "--workers", "2", "--udp-port", str(udp), "--log-level", "INFO"]
    log = tmp_path / "sfu.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield f"ws://127.0.0.1:{http}/ws", udp
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        print(log.read_text(errors="replace")[-4000:])


async def _ready(url: str) -> None:
    health = url.replace("ws://", "http://").replace("/ws", "/metrics")
    async with asyncio.timeout(30), aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(health) as resp:
                    doc = await resp.json()
                    if [w.get("alive") for w in doc.get("workers", [])] == [True]:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)


def _candidate_ports(sdp: str) -> set[int]:
    return {int(m.group(1)) for m in re.finditer(r"a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ host", sdp)}


async def test_every_connection_of_a_process_uses_its_one_port(muxed_sfu: tuple[str, int]) -> None:
    url, port = muxed_sfu
    await _ready(url)
    teacher = SfuClient(url, make_token("t1", "teacher"))
    students = [SfuClient(url, make_token(f"s{i}")) for i in (1, 2, 3)]
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        for s in students:
            await s.connect()
        answer = await teacher.publish([SmallVideoTrack()])
        assert _candidate_ports(answer["sdp"]) == {port}  # the teacher's publish connection: the coordinator
        for s in students:
            assert isinstance(await _decode(await _first_track(s, "video")), VideoFrame)
        # Subscribe offers: s2 is held by the coordinator (the port), s1 and s3 by the relay worker (port + 1).
        offers = {
            name: next(m["sdp"] for m in s.messages if m["type"] == "offer")
            for name, s in zip(("s1", "s2", "s3"), students, strict=True)
        }
        assert {name: _candidate_ports(sdp) for name, sdp in offers.items()} == {
            "s1": {port + 1},
            "s2": {port},
            "s3": {port + 1},
        }
        # A second round of media after one student leaves: the others' routes are untouched.
        await students[0].close()
        for s in students[1:]:
            frames = [await _decode(await _first_track(s, "video")) for _ in range(3)]
            assert all(isinstance(f, VideoFrame) for f in frames)
    finally:
        for c in [teacher, *students]:
            await c.close()


def _binding_request(username: str | None) -> bytes:
    message = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    if username is not None:
        message.attributes["USERNAME"] = username
    message.attributes["PRIORITY"] = 1
    return bytes(message)


# (datagram, the ufrag it routes by)
DATAGRAMS: list[tuple[bytes, str | None]] = [
    (_binding_request("sfuF:brow"), "sfuF"),
    (_binding_request("abcd:"), "abcd"),
    (_binding_request(None), None),
    (_binding_request(":x"), None),
    (bytes(stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.RESPONSE)), None),
    (b"\x80\x60" + bytes(30), None),  # RTP
    (b"\x00\x01\x00\x08" + bytes(4), None),  # too short for its header
    (b"\x00\x01\x00\x40\x21\x12\xa4\x42" + bytes(12) + bytes(8), None),  # claims more than it holds
    (
        b"\x00\x01\x00\x08\x21\x12\xa4\x42" + bytes(12) + b"\x00\x06\x00\x04\xff\xfe\xfd\xfc",
        None,
    ),  # not UTF-8
    (b"", None),
]


@pytest.mark.parametrize(("data", "ufrag"), DATAGRAMS)
def test_datagrams_route_by_the_ufrag_their_username_names(data: bytes, ufrag: str | None) -> None:
    assert request_ufrag(data) == ufrag


# (ice hosts, port, workers) -> a complaint, or None
SETTINGS: list[tuple[list[str], int, int, str | None]] = [
    ([], 0, 1, None),
    (["127.0.0.1"], 40000, 4, None),
    ([], 40000, 1, "needs the ICE host addresses"),
    (["127.0.0.1"], 65535, 2, "past port 65535"),
]


@pytest.mark.parametrize(("hosts", "port", "workers", "problem"), SETTINGS)
def test_one_port_settings_are_checked(
    hosts: list[str], port: int, workers: int, problem: str | None
) -> None:
    config = SfuConfig(secret="x", ice_hosts=hosts, udp_port=port, workers=workers)
    found = check_udp_port(config)
    assert found is None if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize("value", ["-1", "65536", "port", "8.5"])
def test_a_bad_udp_port_in_the_environment_is_named(value: str) -> None:
    with pytest.raises(ValueError, match="LMS_SFU_UDP_PORT"):
        SfuConfig.from_env({"LMS_SFU_SECRET": "x", "LMS_SFU_UDP_PORT": value})
