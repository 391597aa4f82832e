"""Single-use join tokens across SFU processes: the jti is claimed in the deployment's Redis."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from webrtc.guards import SharedTokenReplayGuard, TokenReplayGuard

REDIS = os.environ.get("LMS_TEST_REDIS_URL")


@pytest.mark.skipif(not REDIS, reason="needs LMS_TEST_REDIS_URL (CI sets it)")
async def test_a_token_used_in_one_process_is_refused_in_another():
    prefix = f"ieum-test-jti-{uuid.uuid4().hex[:8]}:"
    one = SharedTokenReplayGuard(REDIS or "", TokenReplayGuard(), prefix=prefix)
    two = SharedTokenReplayGuard(REDIS or "", TokenReplayGuard(), prefix=prefix)
    try:
        jti = uuid.uuid4().hex
        assert await one.admit(jti, time.time() + 60) is True
        assert await two.admit(jti, time.time() + 60) is False  # the other process sees it
        assert await one.admit(jti, time.time() + 60) is False  # and the first one remembers it itself
        other = uuid.uuid4().hex
        assert await two.admit(other, time.time() + 60) is True
        import redis.asyncio as aioredis

        r = aioredis.Redis.from_url(REDIS)
        ttl = await r.pttl(prefix + jti)
        await r.aclose()
        assert 0 < ttl <= 60_000  # forgotten when the token expires
        assert one.redis_failures == two.redis_failures == 0
    finally:
        await one.close()
        await two.close()


async def test_without_redis_the_process_memory_still_refuses_replays():
    guard = SharedTokenReplayGuard("redis://127.0.0.1:9/0", TokenReplayGuard())  # nothing listens there
    try:
        jti = uuid.uuid4().hex
        assert await guard.admit(jti, time.time() + 60) is True  # classes still start
        assert await guard.admit(jti, time.time() + 60) is False
        assert guard.redis_failures == 1
    finally:
        await guard.close()


def test_the_sfu_uses_the_deployments_redis_when_named():
    from webrtc.config import SfuConfig

    assert (
        SfuConfig.from_env({"LMS_SFU_SECRET": "s" * 32, "LMS_REDIS_URL": "redis://r:6379/0"}).redis_url
        == "redis://r:6379/0"
    )
    assert SfuConfig.from_env({"LMS_SFU_SECRET": "s" * 32}).redis_url is None


@pytest.mark.skipif(not REDIS, reason="needs LMS_TEST_REDIS_URL (CI sets it)")
async def test_a_token_replayed_to_another_sfu_process_is_refused(webhook_sink) -> None:  # type: ignore[no-untyped-def]
    from sfu_helpers import SECRET, make_token, start_sfu

    from webrtc.client import SfuClient, SfuError
    from webrtc.config import SfuConfig

    def config() -> SfuConfig:
        return SfuConfig(
            secret=SECRET,
            webhook_url=webhook_sink.url,
            ice_hosts=["127.0.0.1"],
            heartbeat_s=5,
            redis_url=REDIS,
        )

    one, runner_one = await start_sfu(config())
    two, runner_two = await start_sfu(config())  # another process (or node) of the same deployment
    token = make_token(f"s-{uuid.uuid4().hex[:6]}")
    first, replay = SfuClient(one.url, token), SfuClient(two.url, token)
    try:
        await first.connect()
        with pytest.raises(SfuError) as info:
            await replay.connect()
        assert info.value.code == "token_invalid" and info.value.payload["message"] == "already_used"
        assert two.sfu.metrics()["participants"] == 0
    finally:
        await first.close()
        await replay.close()
        await runner_one.cleanup()
        await runner_two.cleanup()
