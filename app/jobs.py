"""The job queue as the app sees it: built at start-up from LMS_JOBS, and announced to only after the
request's transaction has committed (a worker must find what it is told about). A request that wrote outbox
rows (a notification to e-mail or text) announces a `deliver` job; the request itself never sends anything.

In the embedded run (LMS_JOBS=thread) the first request also starts the periodic thread the worker's sweep
stands for elsewhere: re-announcing videos a restart left waiting, then every PERIODIC_S seconds the
class-start reminders and whatever the outbox still holds."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from flask import Flask, current_app, g

from media.jobs import JobQueue, build_queue

log = logging.getLogger("app.jobs")
PERIODIC_S = 30.0


def init_app(app: Flask) -> None:
    """Build the queue; in the embedded run, the first request starts the periodic thread."""

    def run_in_thread(video_id: int) -> None:
        from app.extensions import dbs
        from media.worker import run_job

        with app.app_context():
            run_job(
                dbs(),
                app.extensions["storage"],
                video_id,
                lease_s=app.config["VIDEO_LEASE_S"],
                max_attempts=app.config["VIDEO_MAX_ATTEMPTS"],
                requeue=app.extensions["jobs"].enqueue,
                threads=app.config["VIDEO_THREADS"],
            )

    def deliver_in_thread() -> None:
        from app.delivery import run_delivery
        from app.extensions import dbs

        with app.app_context():
            run_delivery(dbs())

    app.extensions["jobs"] = build_queue(
        app.config["JOBS"],
        redis_url=app.config.get("REDIS_URL"),
        queue_name=app.config["JOBS_QUEUE"],
        runner=run_in_thread,
        job_timeout_s=app.config["VIDEO_JOB_TIMEOUT_S"],
        retries=max(0, app.config["VIDEO_MAX_ATTEMPTS"] - 1),
        runners={"deliver": deliver_in_thread},
    )
    if app.config["JOBS"] != "thread":
        return
    started = threading.Event()

    @app.before_request
    def start_periodic_thread() -> None:
        if started.is_set():
            return
        started.set()
        threading.Thread(target=_periodic, args=(app,), name="ieum-periodic", daemon=True).start()


def _periodic(app: Flask, every_s: float = PERIODIC_S) -> None:
    """The embedded run's sweep: once, videos left waiting; then forever reminders and deliveries."""
    from app.delivery import tick
    from app.extensions import dbs
    from media.worker import sweep

    with app.app_context():
        try:
            sweep(
                dbs(),
                app.extensions["jobs"].enqueue,
                max_attempts=app.config["VIDEO_MAX_ATTEMPTS"],
                include_unclaimed=True,
                storage=app.extensions["storage"],
                stale_after=timedelta(hours=app.config["VIDEO_UPLOAD_STALE_HOURS"]),
            )
        except Exception:
            log.exception("video sweep failed")
    stop = threading.Event()
    while not stop.wait(every_s):
        try:
            with app.app_context():
                tick(dbs())
        except Exception:
            log.exception("reminders and deliveries failed")


def queue() -> JobQueue:
    """This app's queue."""
    jobs: JobQueue = current_app.extensions["jobs"]
    return jobs


def enqueue_after_commit(video_id: int) -> None:
    """Announce the video once this request has committed (app.transactions calls `flush`)."""
    g.setdefault("jobs_after_commit", []).append(video_id)


def flush() -> None:
    """Announce what this request queued; called right after its commit."""
    from app.extensions import dbs
    from courses.delivery import outbox

    for video_id in g.pop("jobs_after_commit", []):
        queue().enqueue(video_id)
    if outbox.take_pending_flag(dbs()):
        queue().submit("deliver")
