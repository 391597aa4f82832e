"""The processing queue: RQ on Redis in production, a thread in the app process for the embedded run, and a
list that tests drain by hand. Each job is only a video id; the database says what the video needs, so a job
that is lost or repeated is harmless (a sweep re-enqueues what no live worker holds)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Final, Protocol

log = logging.getLogger(__name__)
JOB_FUNCTION: Final = "media.worker.process_video"


class JobQueue(Protocol):
    """Where a video waiting for processing is announced."""

    kind: str

    def enqueue(self, video_id: int) -> None:
        """Announce one video id."""


class ManualQueue:
    """Keeps ids for a test to run by hand."""

    kind = "manual"

    def __init__(self) -> None:
        self.pending: list[int] = []

    def enqueue(self, video_id: int) -> None:
        """Remember the id."""
        self.pending.append(video_id)

    def drain(self) -> list[int]:
        """Take every id announced so far."""
        ids, self.pending = self.pending, []
        return ids


class ThreadQueue:
    """One background thread in this process runs jobs in order (the embedded, single-process run)."""

    kind = "thread"

    def __init__(self, runner: Callable[[int], None]) -> None:
        self._runner = runner
        self._ids: queue.Queue[int] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def enqueue(self, video_id: int) -> None:
        """Queue the id and make sure the thread runs."""
        self._ids.put(video_id)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="ieum-media-jobs", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            video_id = self._ids.get()
            try:
                self._runner(video_id)
            except Exception:  # a job's failure is recorded on the video; the thread goes on
                log.exception("media job for video %s failed", video_id)
            finally:
                self._ids.task_done()

    def join(self) -> None:
        """Wait until every queued job has run."""
        self._ids.join()


class RqQueue:
    """RQ on Redis: `python -m media.worker` processes the jobs."""

    kind = "rq"

    def __init__(self, redis_url: str, *, queue_name: str, job_timeout_s: int, retries: int) -> None:
        from redis import Redis
        from rq import Queue

        self._queue = Queue(queue_name, connection=Redis.from_url(redis_url))
        self._timeout = job_timeout_s
        self._retries = retries

    def enqueue(self, video_id: int) -> None:
        """Put a job on the Redis queue (RQ retries it on failure; the sweep after a lost worker)."""
        from rq import Retry

        self._queue.enqueue(
            JOB_FUNCTION,
            video_id,
            job_id=None,
            job_timeout=self._timeout,
            retry=Retry(max=self._retries, interval=5) if self._retries else None,
            failure_ttl=7 * 24 * 3600,
        )


def build_queue(
    kind: str,
    *,
    redis_url: str | None,
    queue_name: str,
    runner: Callable[[int], None],
    job_timeout_s: int,
    retries: int,
) -> JobQueue:
    """The configured queue: 'rq' (needs redis_url), 'thread' or 'manual'."""
    if kind == "rq":
        if not redis_url:
            raise ValueError("LMS_JOBS=rq needs LMS_REDIS_URL")
        return RqQueue(redis_url, queue_name=queue_name, job_timeout_s=job_timeout_s, retries=retries)
    if kind == "thread":
        return ThreadQueue(runner)
    if kind == "manual":
        return ManualQueue()
    raise ValueError(f"LMS_JOBS must be rq, thread or manual, got {kind!r}")
