"""The job queue: RQ on Redis in production, threads in the app process for the embedded run, and lists that
tests drain by hand. A job is a name and a few ids; the database says what is to be done, so a job that is lost
or repeated is harmless (the worker's sweep finds what no job announced).

Two kinds of job: `video` (process one uploaded video: `enqueue(video_id)`) and `deliver` (send what the
notification outbox holds: `submit("deliver")`)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Final, Protocol

log = logging.getLogger(__name__)
JOB_FUNCTION: Final = "media.worker.process_video"
# Each job's function in the worker process (RQ imports it by this path) and its time limit there.
JOB_FUNCTIONS: Final = {"video": JOB_FUNCTION, "deliver": "media.worker.deliver_notifications"}
DELIVER_TIMEOUT_S: Final = 600

Job = tuple[str, tuple[int, ...]]


class JobQueue(Protocol):
    """Where work waiting to be done is announced."""

    kind: str

    def enqueue(self, video_id: int) -> None:
        """Announce one video id."""

    def submit(self, job: str, *args: int) -> None:
        """Announce a job by name (JOB_FUNCTIONS) with its arguments."""


class ManualQueue:
    """Keeps what was announced for a test to run by hand."""

    kind = "manual"

    def __init__(self) -> None:
        self.pending: list[int] = []  # video ids
        self.jobs: list[Job] = []  # every other job

    def enqueue(self, video_id: int) -> None:
        """Remember the video id."""
        self.pending.append(video_id)

    def submit(self, job: str, *args: int) -> None:
        """Remember the job."""
        if job == "video":
            self.pending.extend(args)
        else:
            self.jobs.append((job, args))

    def drain(self) -> list[int]:
        """Take every video id announced so far."""
        ids, self.pending = self.pending, []
        return ids

    def drain_jobs(self, job: str) -> list[tuple[int, ...]]:
        """Take every job of this name announced so far (their arguments)."""
        taken = [args for name, args in self.jobs if name == job]
        self.jobs = [(name, args) for name, args in self.jobs if name != job]
        return taken


class ThreadQueue:
    """Background threads in this process, one per kind of job, each running its jobs in order (the embedded,
    single-process run): a long video never holds up the notices."""

    kind = "thread"

    def __init__(
        self, runner: Callable[[int], None], runners: Mapping[str, Callable[..., None]] | None = None
    ) -> None:
        self._runners: dict[str, Callable[..., None]] = {"video": runner, **(runners or {})}
        self._queues: dict[str, queue.Queue[tuple[int, ...]]] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def enqueue(self, video_id: int) -> None:
        """Queue the video and make sure its thread runs."""
        self.submit("video", video_id)

    def submit(self, job: str, *args: int) -> None:
        """Queue the job and make sure the thread of its kind runs."""
        if job not in self._runners:
            raise ValueError(f"unknown job {job!r}")
        with self._lock:
            q = self._queues.setdefault(job, queue.Queue())
            q.put(args)
            thread = self._threads.get(job)
            if thread is None or not thread.is_alive():
                thread = threading.Thread(
                    target=self._loop, args=(job, q), name=f"ieum-{job}-jobs", daemon=True
                )
                self._threads[job] = thread
                thread.start()

    def _loop(self, job: str, q: queue.Queue[tuple[int, ...]]) -> None:
        while True:
            args = q.get()
            try:
                self._runners[job](*args)
            except Exception:  # a job's failure is recorded in the database; the thread goes on
                log.exception("%s job %s failed", job, args)
            finally:
                q.task_done()

    def join(self) -> None:
        """Wait until every queued job has run."""
        for q in list(self._queues.values()):
            q.join()


class RqQueue:
    """RQ on Redis: `python -m media.worker` runs the jobs."""

    kind = "rq"

    def __init__(self, redis_url: str, *, queue_name: str, job_timeout_s: int, retries: int) -> None:
        from redis import Redis
        from rq import Queue

        self._queue = Queue(queue_name, connection=Redis.from_url(redis_url))
        self._timeout = job_timeout_s
        self._retries = retries

    def enqueue(self, video_id: int) -> None:
        """Put a video job on the Redis queue (RQ retries it on failure; the sweep after a lost worker)."""
        from rq import Retry

        self._queue.enqueue(
            JOB_FUNCTION,
            video_id,
            job_id=None,
            job_timeout=self._timeout,
            retry=Retry(max=self._retries, interval=5) if self._retries else None,
            failure_ttl=7 * 24 * 3600,
        )

    def submit(self, job: str, *args: int) -> None:
        """Put a named job on the Redis queue (a failed delivery run is not retried by RQ: the sweep is)."""
        if job == "video":
            for video_id in args:
                self.enqueue(video_id)
            return
        if job not in JOB_FUNCTIONS:
            raise ValueError(f"unknown job {job!r}")
        self._queue.enqueue(
            JOB_FUNCTIONS[job], *args, job_timeout=DELIVER_TIMEOUT_S, result_ttl=600, failure_ttl=24 * 3600
        )


def build_queue(
    kind: str,
    *,
    redis_url: str | None,
    queue_name: str,
    runner: Callable[[int], None],
    job_timeout_s: int,
    retries: int,
    runners: Mapping[str, Callable[..., None]] | None = None,
) -> JobQueue:
    """The configured queue: 'rq' (needs redis_url), 'thread' or 'manual'. `runner` runs a video in the
    thread queue, `runners` the other jobs by name."""
    if kind == "rq":
        if not redis_url:
            raise ValueError("LMS_JOBS=rq needs LMS_REDIS_URL")
        return RqQueue(redis_url, queue_name=queue_name, job_timeout_s=job_timeout_s, retries=retries)
    if kind == "thread":
        return ThreadQueue(runner, runners)
    if kind == "manual":
        return ManualQueue()
    raise ValueError(f"LMS_JOBS must be rq, thread or manual, got {kind!r}")
