"""The processing queue as the app sees it: built at start-up from LMS_JOBS, and announced to only after the
request's transaction has committed (a worker must find the video it is told about)."""

from __future__ import annotations

import threading
from datetime import timedelta

from flask import Flask, current_app, g

from media.jobs import JobQueue, build_queue


def init_app(app: Flask) -> None:
    """Build the queue; in the embedded run, the first request re-announces videos a restart left waiting."""

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

    app.extensions["jobs"] = build_queue(
        app.config["JOBS"],
        redis_url=app.config.get("REDIS_URL"),
        queue_name=app.config["JOBS_QUEUE"],
        runner=run_in_thread,
        job_timeout_s=app.config["VIDEO_JOB_TIMEOUT_S"],
        retries=max(0, app.config["VIDEO_MAX_ATTEMPTS"] - 1),
    )
    if app.config["JOBS"] != "thread":
        return
    swept = threading.Event()

    @app.before_request
    def resume_waiting_jobs() -> None:
        if swept.is_set():
            return
        swept.set()
        from media.worker import sweep

        def _sweep() -> None:
            from app.extensions import dbs

            with app.app_context():
                sweep(
                    dbs(),
                    queue().enqueue,
                    max_attempts=app.config["VIDEO_MAX_ATTEMPTS"],
                    include_unclaimed=True,
                    storage=app.extensions["storage"],
                    stale_after=timedelta(hours=app.config["VIDEO_UPLOAD_STALE_HOURS"]),
                )

        threading.Thread(target=_sweep, name="ieum-media-sweep", daemon=True).start()


def queue() -> JobQueue:
    """This app's queue."""
    jobs: JobQueue = current_app.extensions["jobs"]
    return jobs


def enqueue_after_commit(video_id: int) -> None:
    """Announce the video once this request has committed (app.transactions calls `flush`)."""
    g.setdefault("jobs_after_commit", []).append(video_id)


def flush() -> None:
    """Announce what this request queued; called right after its commit."""
    for video_id in g.pop("jobs_after_commit", []):
        queue().enqueue(video_id)
