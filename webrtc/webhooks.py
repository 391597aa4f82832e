"""The SFU's webhook sender: ordered per room, retrying until the app acknowledges.

The event types, the body and the signature are the contract with the app (``contracts.webhooks``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import aiohttp

from contracts.webhooks import EventType, make_event, signed_headers

from .internals import queue_unfinished

log = logging.getLogger(__name__)


class WebhookSender:
    """Queues events and POSTs them, one room at a time in order, retrying with backoff until a 2xx."""

    def __init__(
        self,
        url: str | None,
        secret: str,
        *,
        max_backoff_s: float = 30.0,
        first_backoff_s: float = 0.5,
        request_timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        self.secret = secret
        self.max_backoff_s = max_backoff_s
        self.first_backoff_s = first_backoff_s
        self.request_timeout_s = request_timeout_s
        self.delivered = 0
        self.failures = 0
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None

    @property
    def pending(self) -> int:
        """Events queued or in flight."""
        return sum(q.qsize() + queue_unfinished(q) for q in self._queues.values())

    def emit(
        self, event_type: EventType, room: str, user: str, data: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Queue one event (no-op without a URL) and return it."""
        event = make_event(event_type, room, user, data)
        if not self.url:
            return event
        queue = self._queues.get(room)
        if queue is None:
            queue = self._queues[room] = asyncio.Queue()
        queue.put_nowait(event)
        worker = self._workers.get(room)
        if worker is None or worker.done():
            self._workers[room] = asyncio.get_running_loop().create_task(self._run(room, queue))
        return event

    async def _run(self, room: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        # One worker per room keeps that room's events in order while rooms do not block each other.
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=60)
            except TimeoutError:
                if queue.empty():
                    self._queues.pop(room, None)
                    self._workers.pop(room, None)
                    return
                continue
            try:
                await self._deliver(event)
            finally:
                queue.task_done()

    async def _deliver(self, event: dict[str, Any]) -> None:
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        backoff = self.first_backoff_s
        while True:
            if self._session is None or self._session.closed:
                self._session = aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=self.request_timeout_s)
                )
            headers = signed_headers(self.secret, event["id"], body, int(time.time()))
            try:
                assert self.url is not None
                async with self._session.post(self.url, data=body, headers=headers) as resp:
                    await resp.read()
                    if 200 <= resp.status < 300:
                        self.delivered += 1
                        return
                    log.warning("webhook %s %s answered %s", event["type"], event["id"], resp.status)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                log.warning("webhook %s %s failed: %s", event["type"], event["id"], exc)
            self.failures += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)

    async def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every queued event is delivered or the timeout passes; True when drained."""
        try:
            async with asyncio.timeout(timeout_s):
                for queue in list(self._queues.values()):
                    await queue.join()
            return True
        except TimeoutError:
            return False

    async def close(self, timeout_s: float = 5.0) -> None:
        """Flush what can be delivered in time, then stop the workers and the HTTP session."""
        await self.flush(timeout_s)
        for task in self._workers.values():
            task.cancel()
        for task in list(self._workers.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
