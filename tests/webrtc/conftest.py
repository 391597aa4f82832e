"""Fixtures for the SFU tests: a real server on 127.0.0.1 and a webhook sink."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from sfu_helpers import SECRET, RunningSfu, WebhookSink, serve

from webrtc import ice
from webrtc.server import SFU_KEY, SfuConfig, create_app

# Every socket in these tests stays on loopback, including ICE host candidates.
ice.restrict_host_addresses(["127.0.0.1"])


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
    app = create_app(config)
    runner, port = await serve(app)
    yield RunningSfu(url=f"ws://127.0.0.1:{port}/ws", http=f"http://127.0.0.1:{port}", sfu=app[SFU_KEY])
    await runner.cleanup()
