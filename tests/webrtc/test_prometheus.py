"""The SFU's operator metrics in the Prometheus text format: the families, values that follow the SFU's own
counters, the same access rules as the JSON, and JSON still the default."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sfu_helpers import SECRET, RunningSfu, make_token, start_sfu

from webrtc.client import SfuClient
from webrtc.config import SfuConfig

NAMES = {
    "ieum_sfu_rooms",
    "ieum_sfu_participants",
    "ieum_sfu_tracks",
    "ieum_sfu_peer_connections",
    "ieum_sfu_subscriber_loss_ratio",
    "ieum_sfu_loop_lag_seconds",
    "ieum_sfu_resident_memory_bytes",
    "ieum_sfu_packets_in",
    "ieum_sfu_packets_out",
    "ieum_sfu_nacks_in",
    "ieum_sfu_retransmits",
    "ieum_sfu_consent_checks",
    "ieum_sfu_consent_expired",
    "ieum_sfu_peer_timeouts",
    "ieum_sfu_cpu_seconds",
    "ieum_sfu_loop_lag_probe_seconds",
}


async def _scrape(url: str, **kwargs: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    headers = {"Accept": "text/plain"} if not kwargs else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers, params=kwargs) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(family.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


async def test_families_follow_the_sfu(sfu: RunningSfu) -> None:
    url = sfu.http + "/metrics"
    before = await _scrape(url)
    assert set(before) >= NAMES, NAMES - set(before)
    clients = [SfuClient(sfu.url, make_token("t1", role="teacher"))] + [
        SfuClient(sfu.url, make_token(f"s{i}")) for i in range(3)
    ]
    try:
        for c in clients:
            await c.connect()
        after = await _scrape(url, format="prometheus")
        parts = after["ieum_sfu_participants"]
        assert parts[(("role", "teacher"), ("worker", "0"))] == 1
        assert parts[(("role", "student"), ("worker", "0"))] == 3
        assert after["ieum_sfu_rooms"][(("worker", "0"),)] == 1
        c = sfu.sfu.counters
        assert after["ieum_sfu_packets_out"][(("worker", "0"),)] == c.packets_out
        assert after["ieum_sfu_rtcp_in"][(("worker", "0"),)] == c.rtcp_in
        probes = after["ieum_sfu_loop_lag_probe_seconds"]
        assert probes[(("le", "+Inf"), ("worker", "0"))] >= probes[(("le", "0.005"), ("worker", "0"))]
        assert probes[(("le", "+Inf"), ("worker", "0"))] == sfu.sfu.process_metrics.lag_count
    finally:
        for c in clients:
            await c.close()


async def test_json_is_still_the_default(sfu: RunningSfu) -> None:
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"Accept": "application/json"}, {"Accept": "*/*"}):
            async with session.get(sfu.http + "/metrics", headers=headers) as resp:
                assert resp.status == 200 and "packets_out" in await resp.json()


async def test_prometheus_wants_the_bearer_token_too() -> None:
    running, runner = await start_sfu(
        SfuConfig(secret=SECRET, metrics_token="metrics-token-0123456789", worker_index=3)
    )
    try:
        async with aiohttp.ClientSession() as session:
            url = running.http + "/metrics?format=prometheus"
            async with session.get(url) as resp:
                assert resp.status == 401 and "ieum_sfu" not in await resp.text()
            auth = {"Authorization": "Bearer metrics-token-0123456789"}
            async with session.get(url, headers=auth) as resp:
                assert resp.status == 200 and 'ieum_sfu_rooms{worker="3"} 0.0' in await resp.text()
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("value", "ok"), [("", 0), ("0", 0), ("7", 7), ("-1", None), ("x", None), ("99999", None), ("1.5", None)]
)
def test_worker_index_from_env(value: str, ok: int | None) -> None:
    env = {"LMS_SFU_SECRET": "s", "LMS_SFU_WORKER_INDEX": value}
    if ok is None:
        with pytest.raises(ValueError, match="LMS_SFU_WORKER_INDEX"):
            SfuConfig.from_env(env)
    else:
        assert SfuConfig.from_env(env).worker_index == ok
