"""Shared helpers for the SFU tests (a uniquely named module: tests/webrtc has no __init__.py)."""

from __future__ import annotations

import array
import asyncio
import fractions
import json
import math
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiortc import AudioStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

from contracts.tokens import issue_join_token
from contracts.webhooks import verify_webhook
from webrtc.client import SfuClient
from webrtc.config import SfuConfig
from webrtc.sfu import Sfu
from webrtc.signalling import SFU_KEY, create_app

SECRET = "test-secret-0123456789abcdef0123456789"


def probe(ffprobe: str, path: Path) -> dict[str, Any]:
    """ffprobe's JSON view of a media file (format and streams)."""
    out = subprocess.run(
        [ffprobe, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve an aiohttp app on a free loopback port."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


@dataclass
class WebhookSink:
    """Captures webhook POSTs and checks their signatures."""

    url: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        ok = verify_webhook(
            SECRET,
            body,
            request.headers.get("X-Ieum-Signature", ""),
            request.headers.get("X-Ieum-Timestamp", ""),
        )
        if not ok:
            self.bad_signatures += 1
            return web.Response(status=401)
        event = json.loads(body)
        assert event["id"] == request.headers["X-Ieum-Event-Id"]
        self.events.append(event)
        self.changed.set()
        return web.Response(status=204)

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for e in self.events:
                    if predicate(e):
                        return e
                self.changed.clear()
                await self.changed.wait()


async def start_sfu(config: SfuConfig) -> tuple[RunningSfu, web.AppRunner]:
    """An SFU app serving on a free loopback port; clean it up with ``runner.cleanup()``."""
    app = create_app(config)
    runner, port = await serve(app)
    return RunningSfu(
        url=f"ws://127.0.0.1:{port}/ws", http=f"http://127.0.0.1:{port}", sfu=app[SFU_KEY]
    ), runner


@dataclass
class RunningSfu:
    url: str
    http: str
    sfu: Sfu


def make_token(user: str, role: str = "student", room: str = "live-42", **kw: Any) -> str:
    publish = ["audio", "video", "screen"] if role in ("teacher", "admin") else []
    return issue_join_token(
        SECRET,
        room=room,
        user_id=user,
        name=kw.pop("name", f"사용자 {user}"),
        role=role,
        publish=publish,
        **kw,
    )


class SmallVideoTrack(VideoStreamTrack):
    """A cheap 160x120 moving test pattern, so encoding does not dominate the test run."""

    def __init__(self) -> None:
        super().__init__()
        self._n = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(160, 120, "yuv420p")
        x = (self._n * 4) % 144
        row = bytes([40] * x + [220] * 16 + [40] * (144 - x))
        frame.planes[0].update(row * 120)
        frame.planes[1].update(bytes([90]) * (80 * 60))
        frame.planes[2].update(bytes([200]) * (80 * 60))
        self._n += 1
        frame.pts = pts
        frame.time_base = (
            time_base if isinstance(time_base, fractions.Fraction) else fractions.Fraction(1, 90000)
        )
        return frame


class ToneTrack(AudioStreamTrack):
    """A loud 440 Hz tone (so the RFC 6464 audio level says "speaking")."""

    _samples = array.array(
        "h", [int(12000 * math.sin(2 * math.pi * 440 * i / 48000)) for i in range(960)]
    ).tobytes()

    async def recv(self) -> AudioFrame:
        silent = await super().recv()
        frame = AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(self._samples)
        frame.pts, frame.time_base, frame.sample_rate = silent.pts, silent.time_base, 48000
        return frame


async def start_class(teacher: SfuClient, *students: SfuClient) -> None:
    """The teacher joins and starts the class, then the students join (straight into it, no lobby)."""
    await teacher.connect()
    await teacher.send({"type": "start_class"})
    for s in students:
        await s.connect()
