"""Per-process guards of the signalling path: single-use join tokens and per-participant rate limits."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


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
