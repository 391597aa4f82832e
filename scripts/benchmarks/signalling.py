"""Join-storm benchmark of the SFU's signalling: 1,000 students join one class, signalling only.

An SFU process (``python -m webrtc``, started here; ``--sfu-root`` runs another checkout's, for a before/after)
and, in this process, a teacher and N students as bare WebSocket clients: each sends ``join`` with its own
token and counts what it receives without answering anything. No peer connections are made: the students wait
in the lobby while they join (the teacher publishes nothing, so nobody is sent a subscribe offer), which is how
a class fills up before the bell. Then the teacher starts the class, the room holds for a few seconds, and
everyone leaves at once.

Joins arrive at ``--rate`` per second (default 1,000 in 60 s), or all at once with ``--burst``; ``--started``
lets the students join a class already running instead of the lobby. Measured: join latency (WebSocket connect
→ ``joined``) p50/p95/max, the SFU's worst event-loop lag per phase (its ``/metrics`` ``loop_lag_max_ms``,
scraped every 0.5 s: each scrape reports the worst since the previous one), the SFU's CPU seconds, messages
per student and for the teacher, messages and bytes in all and by type, how long until every student was told
the class started, and how long until the room was empty after everyone left. This process's own event-loop
lag is reported too: a loaded client delays what it measures.

Prints a table, then one JSON line. Usage: ./scripts/bench signalling [--clients N] [--rate R | --burst]
[--started] [--hold S] [--sfu-root DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

_TYPE_AT = len('{"type": "')


def _type_of(text: str) -> str:
    """A message's type without decoding it (the SFU writes ``{"type": "...", ...}`` first)."""
    if text.startswith('{"type": "'):
        end = text.find('"', _TYPE_AT)
        if end > 0:
            return text[_TYPE_AT:end]
    try:
        return str(json.loads(text).get("type"))
    except ValueError:
        return "?"


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Client:
    """One bare signalling client: what it was sent, counted."""

    user: str
    token: str
    ws: Any = None
    join_ms: float | None = None
    error: str | None = None
    messages: int = 0
    bytes: int = 0
    types: Counter[str] = field(default_factory=Counter)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    async def join(self, session: Any, url: str, timeout: float) -> None:
        """Connect, send ``join`` and read until ``joined``; then keep counting in the background."""
        began = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                self.ws = await session.ws_connect(url, heartbeat=None, max_msg_size=0)
                await self.ws.send_str(json.dumps({"type": "join", "token": self.token}))
                while True:
                    msg = await self.ws.receive()
                    if not isinstance(msg.data, str):
                        self.error = f"closed before joined ({msg.type})"
                        return
                    kind = self._count(msg.data)
                    if kind == "joined":
                        self.join_ms = (time.monotonic() - began) * 1000
                        if json.loads(msg.data).get("class_started"):
                            self.started.set()
                        break
                    if kind == "error":
                        self.error = msg.data
                        return
        except (TimeoutError, OSError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            return
        self.reader = asyncio.get_running_loop().create_task(self._read())

    def _count(self, text: str) -> str:
        kind = _type_of(text)
        self.messages += 1
        self.bytes += len(text.encode())
        self.types[kind] += 1
        if kind == "class_started":
            self.started.set()
        return kind

    async def _read(self) -> None:
        async for msg in self.ws:
            if not isinstance(msg.data, str):
                break
            self._count(msg.data)

    async def send(self, message: dict[str, Any]) -> None:
        """Send one message."""
        await self.ws.send_str(json.dumps(message))

    async def leave(self) -> None:
        """Say goodbye and close."""
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.ws.send_str('{"type": "leave"}')
                await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader


class Scraper:
    """Scrapes the SFU's /metrics every half second: the worst loop lag per phase, the participant count."""

    def __init__(self, session: Any, url: str) -> None:
        self.session, self.url = session, url
        self.phase = "setup"
        self.lag: dict[str, float] = {}
        self.participants = 0
        self.task: asyncio.Task[None] | None = None

    async def scrape(self) -> dict[str, Any]:
        """One scrape, folded into the current phase."""
        async with self.session.get(self.url) as resp:
            m: dict[str, Any] = await resp.json()
        self.lag[self.phase] = max(self.lag.get(self.phase, 0.0), float(m["loop_lag_max_ms"]))
        self.participants = int(m["participants"])
        return m

    async def run(self) -> None:
        """Scrape until cancelled."""
        while True:
            with contextlib.suppress(Exception):
                await self.scrape()
            await asyncio.sleep(0.5)

    async def enter(self, phase: str) -> None:
        """Close the previous phase's window with a scrape, then count lag towards ``phase``."""
        with contextlib.suppress(Exception):
            await self.scrape()
        self.phase = phase


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the SFU, run the storm, return the summary."""
    import aiohttp
    import psutil

    from contracts.tokens import issue_join_token

    secret = secrets.token_hex(32)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    env.update(LMS_SFU_SECRET=secret, PYTHONUNBUFFERED="1")
    sfu_root = Path(args.sfu_root).resolve() if args.sfu_root else ROOT
    env["PYTHONPATH"] = str(sfu_root)
    sfu_proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "webrtc",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ice-host",
            "127.0.0.1",
        ]
        + ["--log-level", "WARNING"],
        cwd=sfu_root,
        env=env,
    )
    url, http = f"ws://127.0.0.1:{port}/ws", f"http://127.0.0.1:{port}"
    room = f"bench-{secrets.token_hex(3)}"

    def token(user: str, role: str) -> str:
        publish = ["audio", "video", "screen"] if role == "teacher" else []
        return issue_join_token(
            secret, room=room, user_id=user, name=f"{role} {user}", role=role, publish=publish
        )

    client_lag = [0.0]

    async def watch_lag() -> None:
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.1)
            client_lag[0] = max(client_lag[0], time.monotonic() - t - 0.1)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        try:
            for _ in range(200):
                try:
                    async with session.get(http + "/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            scraper = Scraper(session, http + "/metrics")
            sfu = psutil.Process(int((await scraper.scrape())["pid"]))
            cpu_before = sum(sfu.cpu_times()[:2])
            lag_task = asyncio.get_running_loop().create_task(watch_lag())
            scraper.task = asyncio.get_running_loop().create_task(scraper.run())

            teacher = Client("teacher", token("teacher", "teacher"))
            await teacher.join(session, url, 30)
            if teacher.error:
                raise RuntimeError(f"the teacher could not join: {teacher.error}")
            if args.started:
                await teacher.send({"type": "start_class"})
            students = [Client(f"s{i:04d}", "") for i in range(args.clients)]
            interval = 0.0 if args.burst else 1.0 / args.rate

            await scraper.enter("join")
            began = time.monotonic()

            async def join_at(i: int, c: Client) -> None:
                await asyncio.sleep(max(0.0, began + i * interval - time.monotonic()))
                c.token = token(c.user, "student")  # fetched just before joining, as the page does
                await c.join(session, url, args.join_timeout)

            await asyncio.gather(*(join_at(i, c) for i, c in enumerate(students)))
            join_phase_s = time.monotonic() - began
            await asyncio.sleep(2.5)  # what is coalesced (counts, batches) goes out
            await scraper.enter("settle")
            cpu_joined = sum(sfu.cpu_times()[:2])
            joined = [c for c in students if c.join_ms is not None]
            msgs_after_join = [c.messages for c in joined]
            teacher_after_join = teacher.messages

            start_ms: float | None = None
            if not args.started:
                await scraper.enter("start")
                t0 = time.monotonic()
                await teacher.send({"type": "start_class"})
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(60):
                        await asyncio.gather(*(c.started.wait() for c in joined))
                        start_ms = (time.monotonic() - t0) * 1000
            await asyncio.sleep(args.hold)

            await scraper.enter("leave")
            t0 = time.monotonic()
            await asyncio.gather(*(c.leave() for c in students))
            leave_s: float | None = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(120):
                    while True:
                        await scraper.scrape()
                        if scraper.participants <= 1:
                            leave_s = time.monotonic() - t0
                            break
                        await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # the teacher's last batch
            await scraper.enter("done")
            cpu_after = sum(sfu.cpu_times()[:2])
            await teacher.leave()
            scraper.task.cancel()
            lag_task.cancel()
        finally:
            sfu_proc.terminate()
            try:
                sfu_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                sfu_proc.kill()

    joins = [c.join_ms for c in joined if c.join_ms is not None]
    per_student = [c.messages for c in students]
    types: Counter[str] = Counter()
    for c in [teacher, *students]:
        types.update(c.types)
    failures = [c.error for c in students if c.error]

    def r(v: float | None, n: int = 1) -> float | None:
        return None if v is None else round(v, n)

    return {
        "bench": "signalling",
        "sfu_root": str(sfu_root),
        "clients": args.clients,
        "mode": "burst" if args.burst else f"{args.rate}/s",
        "lobby": not args.started,
        "joined": len(joins),
        "failures": len(failures),
        "first_failure": failures[0] if failures else None,
        "join_phase_s": r(join_phase_s, 1),
        "join_p50_ms": r(_percentile(joins, 0.5)),
        "join_p95_ms": r(_percentile(joins, 0.95)),
        "join_max_ms": r(max(joins) if joins else None),
        "sfu_loop_lag_max_ms": {k: r(v) for k, v in scraper.lag.items() if k != "setup"},
        "client_loop_lag_max_ms": r(client_lag[0] * 1000),
        "sfu_cpu_s_joins": r(cpu_joined - cpu_before, 2),
        "sfu_cpu_s_total": r(cpu_after - cpu_before, 2),
        "msgs_per_student_after_joins_mean": r(sum(msgs_after_join) / max(1, len(msgs_after_join)), 1),
        "msgs_per_student_after_joins_max": max(msgs_after_join, default=0),
        "msgs_per_student_total_mean": r(sum(per_student) / max(1, len(per_student)), 1),
        "teacher_msgs_after_joins": teacher_after_join,
        "teacher_msgs_total": teacher.messages,
        "teacher_bytes": teacher.bytes,
        "start_class_to_all_ms": r(start_ms),
        "leave_all_s": r(leave_s, 2),
        "total_msgs": sum(c.messages for c in [teacher, *students]),
        "total_bytes": sum(c.bytes for c in [teacher, *students]),
        "by_type": dict(types.most_common()),
    }


def print_table(s: dict[str, Any]) -> None:
    """The summary, for people."""
    rows = [
        (
            "students joined",
            f"{s['joined']} / {s['clients']} ({s['mode']}, {'lobby' if s['lobby'] else 'started'})",
        ),
        ("join phase (s)", s["join_phase_s"]),
        ("join p50 / p95 / max (ms)", f"{s['join_p50_ms']} / {s['join_p95_ms']} / {s['join_max_ms']}"),
        ("failures", f"{s['failures']} {s['first_failure'] or ''}".strip()),
        *[(f"SFU loop lag max, {k} (ms)", v) for k, v in s["sfu_loop_lag_max_ms"].items()],
        ("bench client loop lag max (ms)", s["client_loop_lag_max_ms"]),
        ("SFU CPU joins / total (s)", f"{s['sfu_cpu_s_joins']} / {s['sfu_cpu_s_total']}"),
        (
            "msgs per student after joins",
            f"mean {s['msgs_per_student_after_joins_mean']}, max {s['msgs_per_student_after_joins_max']}",
        ),
        ("msgs per student in all (mean)", s["msgs_per_student_total_mean"]),
        ("teacher msgs after joins / all", f"{s['teacher_msgs_after_joins']} / {s['teacher_msgs_total']}"),
        ("start_class → all told (ms)", s["start_class_to_all_ms"]),
        ("everyone leaves → room empty (s)", s["leave_all_s"]),
        ("messages / bytes in all", f"{s['total_msgs']} / {s['total_bytes']}"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'measure'.ljust(width)}  value")
    for k, v in rows:
        print(f"{k.ljust(width)}  {v}")
    print("by type: " + ", ".join(f"{k} {v}" for k, v in s["by_type"].items()))


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=1000, help="students (default 1000)")
    ap.add_argument("--rate", type=float, default=1000 / 60, help="joins per second (default 1000 in 60 s)")
    ap.add_argument("--burst", action="store_true", help="every student joins at once")
    ap.add_argument("--started", action="store_true", help="the class runs before the students join")
    ap.add_argument("--hold", type=float, default=3.0, help="seconds the full class is held")
    ap.add_argument("--join-timeout", type=float, default=60.0)
    ap.add_argument("--sfu-root", help="run the SFU from this checkout (before/after comparisons)")
    args = ap.parse_args(argv)
    if args.clients < 1 or args.rate <= 0:
        ap.error("--clients must be at least 1 and --rate positive")
    summary = asyncio.run(run(args))
    print_table(summary)
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
