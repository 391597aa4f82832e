"""Fixtures for the SFU tests: a real server on 127.0.0.1 and a webhook sink."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from sfu_helpers import SECRET, RunningSfu, WebhookSink, serve, start_sfu

from webrtc import ice
from webrtc.config import SfuConfig

# Every socket in these tests stays on loopback, including ICE host candidates.
ice.restrict_host_addresses(["127.0.0.1"])


@pytest.fixture(scope="session")
def ffprobe() -> str:
    """ffprobe's path; scripts/test installs ffmpeg, so this skips only on a machine set up by hand."""
    path = shutil.which("ffprobe")
    if path is None:
        pytest.skip("ffprobe is not installed (apt-get install ffmpeg)")
    return path


@pytest.fixture
async def webhook_sink() -> AsyncIterator[WebhookSink]:
    sink = WebhookSink()
    app = web.Application()
    app.router.add_post("/hook", sink.handle)
    runner, port = await serve(app)
    sink.url = f"http://127.0.0.1:{port}/hook"
    yield sink
    await runner.cleanup()


@pytest.fixture
async def sfu(webhook_sink: WebhookSink) -> AsyncIterator[RunningSfu]:
    config = SfuConfig(secret=SECRET, webhook_url=webhook_sink.url, ice_hosts=["127.0.0.1"], heartbeat_s=5)
    running, runner = await start_sfu(config)
    yield running
    await runner.cleanup()
