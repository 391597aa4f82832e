"""One SFU process: the rooms it holds and the parts that act on them, started and stopped together.

:class:`Sfu` is the hub the parts reach each other through: ``router`` (who receives which track,
``router.py``), ``publisher`` / ``subscriber`` (the peer connections, ``peers.py``), ``classroom`` (the class
rules and their webhooks, ``classroom.py``), ``webhooks`` (``webhooks.py``), the packet ``counters``
(``forward.py``) and ``process_metrics`` (``metrics.py``). It owns the room registry, the single-use-token
guards the join handshake consults (``signalling.py``), the background tasks, and a participant's leaving,
which touches every part. A room its last participant left is kept for ``SfuConfig.empty_room_grace_s``
(started, removals, recording and all) so that a teacher alone in it who reconnects finds it as it was; a
replaced session (the same user joining again) never empties it, and an ended room goes at once. It lives
on the aiohttp app as ``app[signalling.SFU_KEY]``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from aiortc import RTCPeerConnection

from .classroom import Classroom
from .config import SfuConfig
from .forward import Counters, SourceTrack
from .guards import SharedTokenReplayGuard, TokenReplayGuard
from .metrics import ProcessMetrics, snapshot
from .peers import Publisher, Subscriber, close_peer_connections
from .room import Participant, Room
from .router import Router
from .udpmux import UdpMuxes
from .webhooks import WebhookSender
from .workers import WorkerPool

log = logging.getLogger(__name__)


class Sfu:
    """Everything one SFU process holds; lives on the aiohttp app as ``app[SFU_KEY]``."""

    def __init__(self, config: SfuConfig) -> None:
        self.config = config
        self.rooms: dict[str, Room] = {}
        self.counters = Counters()
        self.webhooks = WebhookSender(config.webhook_url, config.secret)
        self.peer_connections: set[RTCPeerConnection] = set()
        self.process_metrics = ProcessMetrics()
        self.router = Router(self)
        self.publisher = Publisher(self)
        self.subscriber = Subscriber(self)
        self.classroom = Classroom(self)
        self.workers = WorkerPool(self, config.workers)  # relay workers holding subscribers (none by default)
        self.udp: UdpMuxes | None = None  # one UDP port for all ICE traffic (``config.udp_port``)
        self._rtcp_task: asyncio.Task[None] | None = None
        self._lag_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._empty_rooms: dict[str, asyncio.TimerHandle] = {}  # rooms kept for a reconnect, by name
        self.used_tokens = TokenReplayGuard()
        self.shared_tokens = (
            SharedTokenReplayGuard(config.redis_url, self.used_tokens) if config.redis_url else None
        )

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start background work (periodic receiver reports), the UDP mux and the relay workers."""
        if self.config.udp_port:
            self.udp = UdpMuxes(self.config.ice_hosts, self.config.udp_port + self.config.worker_index)
            await self.udp.start()
        await self.workers.start()
        self._rtcp_task = asyncio.get_running_loop().create_task(self.publisher.rtcp_loop())
        self._lag_task = asyncio.get_running_loop().create_task(self.process_metrics.watch_lag())

    async def shutdown(self) -> None:
        """Tell everyone, close every peer connection and flush webhooks."""
        if self.shared_tokens is not None:
            await self.shared_tokens.close()
        if self._rtcp_task is not None:
            self._rtcp_task.cancel()
        if self._lag_task is not None:
            self._lag_task.cancel()
        for room in list(self.rooms.values()):
            for p in list(room.participants.values()):
                await self.leave(p, "shutdown")
        for room in list(self.rooms.values()):
            self.drop_room(room)  # no reconnect comes now: recordings are handed over below
        for pc in list(self.peer_connections):
            await pc.close()
        self.peer_connections.clear()
        await self.workers.stop()
        if self.udp is not None:
            self.udp.close()
            self.udp = None
        for task in list(self._tasks):
            task.cancel()
        # A class cut short by a restart still keeps what was recorded.
        await self.classroom.finish_recordings(timeout_s=60)
        await self.webhooks.close(timeout_s=5.0)

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Run a coroutine in the background, keeping a reference and logging failures."""

        async def run() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task failed")

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- metrics -------------------------------------------------------------------------------

    def metrics(self) -> dict[str, Any]:
        """The JSON served at /metrics."""
        return snapshot(self)

    def tracks(self) -> list[SourceTrack]:
        """Every track this process forwards (what /metrics counts)."""
        return [t for r in self.rooms.values() for t in r.tracks()]

    # --- participants --------------------------------------------------------------------------

    def room(self, name: str) -> Room:
        """The room of that name for a join: created on the first one, or the one kept empty for a reconnect."""
        timer = self._empty_rooms.pop(name, None)
        if timer is not None:
            timer.cancel()
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = Room(name)
        return room

    def drop_room(self, room: Room) -> None:
        """Forget a room (its grace ran out, the class ended and everyone left, or shutdown); idempotent."""
        timer = self._empty_rooms.pop(room.name, None)
        if timer is not None:
            timer.cancel()
        if self.rooms.get(room.name) is room:
            del self.rooms[room.name]
        self.classroom.closed(room)

    def _keep_empty_room(self, room: Room) -> None:
        grace_s = self.config.empty_room_grace_s
        log.info("room %s is empty: kept %.0f s for a reconnect", room.name, grace_s)

        def drop_if_still_empty() -> None:
            self._empty_rooms.pop(room.name, None)
            if not room.participants and self.rooms.get(room.name) is room:
                log.info("room %s stayed empty for %.0f s: closed", room.name, grace_s)
                self.drop_room(room)

        old = self._empty_rooms.pop(room.name, None)
        if old is not None:
            old.cancel()
        self._empty_rooms[room.name] = asyncio.get_running_loop().call_later(grace_s, drop_if_still_empty)

    async def leave(self, p: Participant, reason: str, *, replaced: bool = False) -> None:
        """Remove a participant and everything it published or received; idempotent.

        ``replaced``: the same user is joining again right now, so even a room this empties stays as it is.
        """
        if p.left:
            return
        room = self.rooms.get(p.claims.room)
        published = bool(p.tracks)
        for track in list(p.tracks.values()):
            self.publisher.drop_track(p, track)
        self.subscriber.release(p)
        p.left = True
        await close_peer_connections(self, p)
        self.classroom.left(room, p, reason, published=published)
        if room is not None and not room.participants and self.rooms.get(room.name) is room:
            if room.ended:
                self.drop_room(room)  # classroom.ended_rooms refuses later joins
            elif not replaced:
                self._keep_empty_room(room)
        await p.stop_writer()
        if p.ws is not None and not p.ws.closed:
            await p.ws.close()
