"""Per-process guards of the signalling path: single-use join tokens and per-participant rate limits."""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]
log = logging.getLogger("ieum.sfu.guards")


class TokenReplayGuard:
    """Remembers every admitted join token's ``jti`` until the token expires, so each token joins once.

    The SFU is one process per core: a token replayed to another process of the same node is not seen here.
    Tokens live at most five minutes and the page fetches a fresh one for every (re)join, so the memory is
    small: one entry per join in the last five minutes.
    """

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}
        self._expiries: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._until)

    def admit(self, token_id: str, usable_until: float) -> bool:
        """Record a token id; False if it was already used (and is still within its lifetime)."""
        self.purge()
        if token_id in self._until:
            return False
        self._until[token_id] = usable_until
        heapq.heappush(self._expiries, (usable_until, token_id))
        return True

    def purge(self) -> None:
        """Forget the ids of tokens that have expired (no verifier accepts them any more)."""
        now = self._clock()
        while self._expiries and self._expiries[0][0] < now:
            _, token_id = heapq.heappop(self._expiries)
            self._until.pop(token_id, None)


@dataclass
class TokenBucket:
    """Allows ``capacity`` actions at once and ``capacity`` more every ``per_s`` seconds, refilled smoothly."""

    capacity: float
    per_s: float
    clock: Clock = time.monotonic
    _tokens: float = field(init=False)
    _at: float = field(init=False)

    def __post_init__(self) -> None:
        self._tokens = self.capacity
        self._at = self.clock()

    def take(self) -> bool:
        """Spend one token if there is one; False when over the limit."""
        now = self.clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.capacity / self.per_s)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def chat_bucket() -> TokenBucket:
    """Chat: a burst of 5 messages, then 5 per 10 seconds."""
    return TokenBucket(capacity=5, per_s=10.0)


def hand_bucket() -> TokenBucket:
    """Raising and lowering a hand: 10 a minute."""
    return TokenBucket(capacity=10, per_s=60.0)


class SharedTokenReplayGuard:
    """Single-use join tokens across every SFU process and node: each ``jti`` is claimed in Redis with
    ``SET NX`` until the token expires. The per-process guard answers first (no round trip for a replay
    to the same process); if Redis cannot be reached, that per-process guard alone decides and the failure
    is logged, so a Redis outage does not stop classes from starting."""

    def __init__(
        self, url: str, local: TokenReplayGuard, *, prefix: str = "ieum:jti:", clock: Clock = time.time
    ) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._local = local
        self._prefix = prefix
        self._clock = clock
        self.redis_failures = 0

    async def admit(self, token_id: str, usable_until: float) -> bool:
        """Record a token id everywhere; False if any process has already admitted it."""
        from redis.exceptions import RedisError

        if not self._local.admit(token_id, usable_until):
            return False
        ttl_ms = max(1, int((usable_until - self._clock()) * 1000))
        try:
            claimed = await self._redis.set(self._prefix + token_id, b"1", nx=True, px=ttl_ms)
        except (RedisError, OSError) as exc:
            self.redis_failures += 1
            log.warning("join-token replay check: Redis unreachable (%s); this process's memory decides", exc)
            return True
        return bool(claimed)

    async def close(self) -> None:
        """Close the Redis connection pool."""
        await self._redis.aclose()
