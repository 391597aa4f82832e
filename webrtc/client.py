"""A Python signalling + media client for the SFU (used by the tests and the load test).

It speaks the protocol documented in ``signalling.py`` exactly like the browser page should: it answers the
SFU's subscribe offers automatically and publishes with its own offers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.rtcconfiguration import RTCBundlePolicy


class SfuError(Exception):
    """The SFU answered with an error message."""

    def __init__(self, message: dict[str, Any]) -> None:
        super().__init__(f"{message.get('code')}: {message.get('message')}")
        self.code = str(message.get("code"))
        self.payload = message


class SfuClient:
    """One participant: a WebSocket, an optional publish connection and the subscribe connection."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        session: aiohttp.ClientSession | None = None,
        on_subscribe_pc: Callable[[RTCPeerConnection], None] | None = None,
        on_subscribe_answered: Callable[[RTCPeerConnection], None] | None = None,
        on_track: Callable[[MediaStreamTrack, str | None], None] | None = None,
    ) -> None:
        self.url = url
        self.token = token
        self._own_session = session is None
        self._session = session
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.messages: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None
        self.publish_pc: RTCPeerConnection | None = None
        self.subscribe_pc: RTCPeerConnection | None = None
        self.on_subscribe_pc = on_subscribe_pc
        self.on_subscribe_answered = on_subscribe_answered
        self.on_track = on_track
        self.tracks: dict[str, dict[str, Any]] = {}  # mid -> {user, name, kind}
        self.remote_tracks: list[tuple[MediaStreamTrack, str | None]] = []
        self.joined: dict[str, Any] | None = None
        self.subscribe_answered = 0
        self.connected_at: float | None = None

    async def connect(self, timeout: float = 10.0) -> dict[str, Any]:
        """Open the socket, send join and return the ``joined`` message (SfuError if refused)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self.ws = await self._session.ws_connect(
            self.url, heartbeat=None, timeout=aiohttp.ClientWSTimeout(ws_close=timeout)
        )
        await self.ws.send_json({"type": "join", "token": self.token})
        self._reader = asyncio.get_running_loop().create_task(self._read())
        msg = await self.wait_for(lambda m: m["type"] in ("joined", "error"), timeout=timeout)
        if msg["type"] == "error":
            raise SfuError(msg)
        self.joined = msg
        return msg

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message."""
        assert self.ws is not None
        await self.ws.send_str(json.dumps(message, ensure_ascii=False))

    async def send_raw(self, text: str) -> None:
        """Send a raw text frame (for testing malformed input)."""
        assert self.ws is not None
        await self.ws.send_str(text)

    async def _read(self) -> None:
        assert self.ws is not None
        async for raw in self.ws:
            if raw.type != aiohttp.WSMsgType.TEXT:
                break
            msg = json.loads(raw.data)
            if msg.get("type") == "offer" and msg.get("pc") == "subscribe":
                await self._answer_subscribe(msg)
            elif msg.get("type") == "tracks":
                self.tracks = {t["mid"]: t for t in msg["tracks"]}
            async with self._changed:
                self.messages.append(msg)
                self._changed.notify_all()
        async with self._changed:
            self.messages.append({"type": "_closed"})
            self._changed.notify_all()

    def _configuration(self) -> RTCConfiguration:
        """The ICE servers the SFU named in ``joined`` — none when it named none (no public STUN by default)."""
        servers = [
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in (self.joined or {}).get("ice_servers") or []
        ]
        return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)

    async def _answer_subscribe(self, msg: dict[str, Any]) -> None:
        if self.subscribe_pc is None:
            self.subscribe_pc = RTCPeerConnection(self._configuration())
            pc = self.subscribe_pc

            @pc.on("track")
            def on_track(track: MediaStreamTrack) -> None:
                mid = next((t.mid for t in pc.getTransceivers() if t.receiver.track is track), None)
                self.remote_tracks.append((track, mid))
                if self.on_track is not None:
                    self.on_track(track, mid)

            @pc.on("connectionstatechange")
            def on_state() -> None:
                if pc.connectionState == "connected" and self.connected_at is None:
                    self.connected_at = time.monotonic()

        pc = self.subscribe_pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=msg["sdp"], type="offer"))
        if self.on_subscribe_pc is not None:
            self.on_subscribe_pc(pc)
        answer = await pc.createAnswer()
        assert answer is not None
        await pc.setLocalDescription(answer)
        if self.on_subscribe_answered is not None:
            self.on_subscribe_answered(pc)
        await self.send({"type": "answer", "pc": "subscribe", "sdp": pc.localDescription.sdp})
        self.subscribe_answered += 1

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0, start: int = 0
    ) -> dict[str, Any]:
        """Wait for a message matching the predicate (searching from index ``start``)."""
        async with asyncio.timeout(timeout), self._changed:
            while True:
                for msg in self.messages[start:]:
                    if predicate(msg):
                        return msg
                await self._changed.wait()

    async def wait_type(self, type_: str, timeout: float = 10.0, start: int = 0) -> dict[str, Any]:
        """Wait for a message of this type."""
        return await self.wait_for(lambda m: m["type"] == type_, timeout=timeout, start=start)

    async def publish(
        self,
        tracks: list[MediaStreamTrack],
        *,
        screen: bool = False,
        video_codec: str | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Offer these tracks on the publish connection (optionally forcing e.g. ``video/H264``)."""
        if self.publish_pc is None:
            self.publish_pc = RTCPeerConnection(self._configuration())
        pc = self.publish_pc
        for track in tracks:
            transceiver = pc.addTransceiver(track, direction="sendonly")
            if video_codec and track.kind == "video":
                caps = RTCRtpSender.getCapabilities("video")
                assert caps is not None
                transceiver.setCodecPreferences(
                    [c for c in caps.codecs if c.mimeType.lower() == video_codec.lower()]
                )
        offer = await pc.createOffer()
        await pc.setLocalDescription(offer)
        screen_mids = [t.mid for t in pc.getTransceivers() if t.kind == "video" and t.mid] if screen else []
        start = len(self.messages)
        await self.send(
            {"type": "offer", "pc": "publish", "sdp": pc.localDescription.sdp, "screen": screen_mids}
        )
        reply = await self.wait_for(
            lambda m: (m["type"] == "answer" and m.get("pc") == "publish") or m["type"] == "error",
            timeout=timeout,
            start=start,
        )
        if reply["type"] == "error":
            raise SfuError(reply)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        return reply

    async def close(self) -> None:
        """Leave politely and close everything."""
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.send({"type": "leave"})
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await pc.close()
        if self._own_session and self._session is not None:
            await self._session.close()
