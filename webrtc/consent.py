"""ICE consent freshness (RFC 7675) that a busy SFU does not lose.

aioice 0.13 checks consent every 4–6 s with a single STUN request, gives up on it after 0.5 s and closes the
connection after six misses in a row. On the SFU the teacher's socket is the one whose every packet fans out
to every viewer: with hundreds of viewers its queue holds a few hundred milliseconds of work, so the answer to
a consent check arrives — and is discarded — after 0.5 s, six times running, and the class loses its teacher
about 30 s into the load while the teacher's browser is answering every check.

RFC 7675 asks for something else: consent expires when no answer came for 30 s. Here each check is a STUN
transaction with retransmissions (0.5 s, 1 s, then 2 s: an answer up to 3.5 s late still counts), and the
connection is closed only when no check was answered for `timeout_s`. A peer that is really gone is still
dropped within about 35 s, as before.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import internals

log = logging.getLogger(__name__)

INTERVAL_S = 5.0  # RFC 7675 section 5.1: a check every 4–6 s
TIMEOUT_S = 30.0  # ... and consent expires 30 s after the last answer
RETRANSMISSIONS = 2  # RFC 5389 RTO doubling from 0.5 s: sends at 0, 0.5 and 1.5 s; gives up at 3.5 s


@dataclass
class ConsentStats:
    """What the SFU's metrics say about consent: checks answered late, and connections that lost it."""

    checks: int = 0
    answered: int = 0
    retransmitted_answers: int = 0  # answered only after a retransmission (aioice would have failed these)
    expired: int = 0
    expired_labels: list[str] = field(default_factory=list)


STATS = ConsentStats()


async def keep_consent(
    connection: Any,
    *,
    interval_s: float = INTERVAL_S,
    timeout_s: float = TIMEOUT_S,
    retransmissions: int = RETRANSMISSIONS,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Check consent on every nominated pair of an aioice ``Connection`` until none answered for
    ``timeout_s``; then close it (its peer connection goes to "closed", as with aioice's own check)."""
    from aioice import stun

    assert connection.remote_password is not None, "consent checks start after connect()"
    key = connection.remote_password.encode("utf8")
    last_answer = clock()
    tries = answers = 0
    last_error = ""
    while True:
        await asyncio.sleep(interval_s * (0.8 + 0.4 * random.random()))
        for pair in internals.nominated_pairs(connection):
            STATS.checks += 1
            tries += 1
            started = clock()
            try:
                await pair.protocol.request(
                    connection.build_request(pair, nominate=False),
                    pair.remote_addr,
                    integrity_key=key,
                    retransmissions=retransmissions,
                )
            except (stun.TransactionError, ConnectionError, OSError) as exc:
                last_error = repr(exc)
                continue
            answers += 1
            last_answer = clock()
            STATS.answered += 1
            if last_answer - started > 0.5:
                STATS.retransmitted_answers += 1
        if clock() - last_answer >= timeout_s:
            STATS.expired += 1
            label = f"{getattr(connection, 'local_username', '?')}"
            STATS.expired_labels = (STATS.expired_labels + [label])[-20:]
            log.warning(
                "ICE consent expired: no answer to consent checks for %.0f s (connection %s; %d checks, %d "
                "answered, last error %s)",
                clock() - last_answer,
                label,
                tries,
                answers,
                last_error,
            )
            connection.ieum_consent_expired = True  # read by the SFU to say why the peer connection closed
            internals.forget_consent_task(connection)  # close() must not cancel this very task
            await connection.close()
            return


def expired(connection: Any) -> bool:
    """Whether `keep_consent` closed this aioice connection."""
    return bool(getattr(connection, "ieum_consent_expired", False))


def install() -> None:
    """Make every aioice connection in this process use `keep_consent` (the SFU calls this at start-up)."""
    from aioice import ice

    async def query_consent(self: Any) -> None:
        # aioice's own constants set the pace (5 s × 6 = RFC 7675's 30 s), so a deployment or a test that
        # tunes them tunes this too.
        interval = float(ice.CONSENT_INTERVAL)
        await keep_consent(self, interval_s=interval, timeout_s=interval * ice.CONSENT_FAILURES)

    ice.Connection.query_consent = query_consent  # type: ignore[method-assign]
