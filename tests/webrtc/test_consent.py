"""Consent freshness that survives late answers (a busy SFU) and still drops a peer that is gone."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aioice
import pytest
from aioice import ice

from webrtc import consent


async def _pair() -> tuple[aioice.Connection, aioice.Connection]:
    a = aioice.Connection(ice_controlling=True, components=1)
    b = aioice.Connection(ice_controlling=False, components=1)
    for c in (a, b):
        await c.gather_candidates()
    for here, there in ((a, b), (b, a)):
        here.remote_username, here.remote_password = there.local_username, there.local_password
        for cand in there.local_candidates:
            if cand.host.startswith("127."):
                await here.add_remote_candidate(cand)
        await here.add_remote_candidate(None)
    await asyncio.gather(a.connect(), b.connect())
    return a, b


def _answer_late(conn: aioice.Connection, delay_s: float | None) -> None:
    """Make `conn` answer STUN checks `delay_s` late (None: never), as a loop with a long queue does."""
    original = conn.request_received

    def late(message: Any, addr: Any, protocol: Any) -> None:
        if delay_s is not None:
            asyncio.get_running_loop().call_later(delay_s, original, message, addr, protocol)

    conn.request_received = late  # type: ignore[method-assign]


def _stop_builtin_consent(conn: aioice.Connection) -> None:
    task = conn._query_consent_task
    if task is not None:
        task.cancel()
    conn._query_consent_task = None


async def test_aioice_alone_drops_a_peer_that_answers_a_second_late(monkeypatch: pytest.MonkeyPatch) -> None:
    """The failure this module exists for, reproduced at a small scale (checks every 0.2 s)."""
    monkeypatch.setattr(ice, "CONSENT_INTERVAL", 0.2)
    a, b = await _pair()
    try:
        _answer_late(b, 0.8)
        _stop_builtin_consent(a)
        a._query_consent_task = asyncio.create_task(a.query_consent())
        await asyncio.wait_for(a._query_consent_task, 10)  # six late answers in a row: closed
        assert a._query_consent_task is None
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_late_answers_keep_consent() -> None:
    a, b = await _pair()
    try:
        _answer_late(b, 0.8)
        _stop_builtin_consent(a)
        before = consent.STATS.retransmitted_answers
        task = asyncio.create_task(consent.keep_consent(a, interval_s=0.2, timeout_s=1.5))
        await asyncio.sleep(4.0)
        assert not task.done() and not consent.expired(a)
        assert consent.STATS.retransmitted_answers > before
        task.cancel()
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_a_peer_that_never_answers_loses_consent() -> None:
    a, b = await _pair()
    try:
        _answer_late(b, None)
        _stop_builtin_consent(a)
        started = time.monotonic()
        await asyncio.wait_for(consent.keep_consent(a, interval_s=0.2, timeout_s=1.5), 15)
        assert consent.expired(a) and time.monotonic() - started >= 1.5
    finally:
        await asyncio.gather(a.close(), b.close())
