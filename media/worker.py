"""The worker: `python -m media.worker` runs RQ jobs from Redis (videos, and deliveries of notifications); the
embedded run calls `run_job` from a thread of the app. Its sweep also sends class-start reminders and whatever
the notification outbox still holds. A video job downloads the source, probes it, encodes the HLS ladder
(media.transcode), uploads every file under `videos/<id>/hls/` and marks the video ready — or failed with a
readable reason.

A job holds a lease on its video that progress reports renew; a worker that dies leaves a lease that expires,
and the sweep re-enqueues the video until its attempts are spent. Nothing is lost with a worker."""

from __future__ import annotations

import argparse
import logging
import mimetypes
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.orm import Session

from courses import videos
from courses.db import utcnow
from media.storage import Storage, StorageError

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("media.worker")
CONTENT_TYPES: Final = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".vtt": "text/vtt; charset=utf-8",
}
PROGRESS_EVERY_S: Final = 1.0


def content_type(name: str) -> str:
    """The type an HLS file is served with."""
    suffix = Path(name).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def run_job(
    session: Session,
    storage: Storage,
    video_id: int,
    *,
    lease_s: int,
    max_attempts: int,
    requeue: Callable[[int], None],
    threads: int = 0,
) -> str:
    """Process one video: claim, probe, encode, upload, finish; commit between steps. Returns the outcome."""
    from media.probe import NotAVideo
    from media.transcode import FfmpegError, transcode

    lease = timedelta(seconds=lease_s)
    video = videos.claim(session, video_id, now=utcnow(), lease=lease, max_attempts=max_attempts)
    session.commit()
    if video is None:
        return "skipped"  # done already, or another worker holds it
    log.info("video %s: attempt %s", video.id, video.attempts)
    last = [0.0]

    def on_progress(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S or fraction >= 1.0:
            last[0] = now
            videos.report_progress(session, video, fraction * 0.97, now=utcnow(), lease=lease)
            session.commit()

    try:
        with tempfile.TemporaryDirectory(prefix=f"ieum-video-{video.id}-") as tmp:
            source = Path(tmp) / "source"
            storage.get_to_file(video.source_key, source)
            result = transcode(source, Path(tmp) / "hls", on_progress=on_progress, threads=threads)
            _clear_renditions(storage, video.hls_prefix)
            for rel in result.files:
                storage.put_file(
                    video.hls_prefix + rel.as_posix(), result.out_dir / rel, content_type(rel.name)
                )
            probe = result.probe
            videos.finish(
                session,
                video,
                duration_s=probe.duration_s,
                width=probe.width,
                height=probe.height,
                has_audio=probe.has_audio,
                renditions=list(result.renditions),
                now=utcnow(),
            )
            session.commit()
            log.info("video %s: ready (%.1f s, %dx%d)", video.id, probe.duration_s, probe.width, probe.height)
            return "ready"
    except NotAVideo as exc:
        outcome = _failed(
            session, storage, video, "not_video", str(exc), retry=False, max_attempts=max_attempts
        )
    except FfmpegError as exc:
        outcome = _failed(
            session, storage, video, "ffmpeg", exc.summary, retry=True, max_attempts=max_attempts
        )
    except StorageError as exc:
        outcome = _failed(session, storage, video, "storage", str(exc), retry=True, max_attempts=max_attempts)
    if outcome == "retry":
        requeue(video.id)
    return outcome


def _clear_renditions(storage: Storage, prefix: str) -> None:
    for key in storage.list(prefix):
        storage.delete(key)


def _failed(
    session: Session, storage: Storage, video: Any, code: str, detail: str, *, retry: bool, max_attempts: int
) -> str:
    session.rollback()
    session.refresh(video)
    try:
        _clear_renditions(storage, video.hls_prefix)  # nothing half published
    except StorageError:
        log.warning("video %s: could not clear partial renditions", video.id)
    again = videos.fail(session, video, code, detail, retry=retry, max_attempts=max_attempts)
    session.commit()
    log.warning("video %s: %s (%s)%s", video.id, code, detail[:200], " — will retry" if again else "")
    return "retry" if again else "failed"


def sweep(
    session: Session,
    enqueue: Callable[[int], None],
    *,
    max_attempts: int,
    include_unclaimed: bool,
    storage: Storage | None = None,
    stale_after: timedelta | None = None,
) -> int:
    """Re-enqueue videos whose worker died (their lease expired); at start-up also those never claimed. With a
    storage, also abort uploads left unfinished for longer than `stale_after`."""
    now = utcnow()
    if storage is not None and stale_after is not None:
        aborted = videos.abort_stale_uploads(session, storage, older_than=stale_after, now=now)
        if aborted:
            log.info("sweep: aborted %d stale upload(s)", aborted)
    ids = videos.due_for_retry(
        session, now=now, max_attempts=max_attempts, claimed_only=not include_unclaimed
    )
    videos.give_up_exhausted(session, now=now, max_attempts=max_attempts)
    session.commit()
    for video_id in ids:
        enqueue(video_id)
    return len(ids)


def purge_recordings(session: Session, storage: Storage, retention_days: int) -> tuple[int, int]:
    """Class recordings past their retention: notices a week ahead, then removal; committed here."""
    from courses import retention

    noticed, removed = retention.notify_and_purge(
        session, storage, now=utcnow(), retention_days=retention_days
    )
    session.commit()
    if noticed or removed:
        log.info("sweep: %d recording notice(s), %d recording(s) removed", noticed, removed)
    return noticed, removed


# -- the RQ worker process -------------------------------------------------------------------------


@cache
def _app() -> Flask:
    from app import create_app

    return create_app()


def process_video(video_id: int) -> str:
    """The RQ job: run one video in this worker process's app."""
    from app.extensions import dbs

    app = _app()
    with app.app_context():
        cfg = app.config
        return run_job(
            dbs(),
            app.extensions["storage"],
            video_id,
            lease_s=cfg["VIDEO_LEASE_S"],
            max_attempts=cfg["VIDEO_MAX_ATTEMPTS"],
            requeue=app.extensions["jobs"].enqueue,
            threads=cfg["VIDEO_THREADS"],
        )


def deliver_notifications() -> int:
    """The RQ job: send what the notification outbox holds (e-mail, the school messaging service)."""
    from app.delivery import run_delivery
    from app.extensions import dbs

    app = _app()
    with app.app_context():
        return run_delivery(dbs()).sent


def notify_and_deliver(app: Flask) -> None:
    """The sweep's notification round: class-start reminders now due, then everything still to send (what a
    lost job, a retry's wait or a worker busy with a long video left behind)."""
    from app.delivery import tick
    from app.extensions import dbs

    with app.app_context():
        reminded, report = tick(dbs())
    if reminded or report.sent or report.failed:
        log.info(
            "sweep: %d reminder(s); %d message(s) sent, %d failed, %d to retry",
            reminded,
            report.sent,
            report.failed,
            report.retried,
        )


def _sweeper(app: Flask, stop: threading.Event, every_s: float) -> None:
    from app.extensions import dbs

    first = True
    while not stop.is_set():
        try:
            with app.app_context():
                n = sweep(
                    dbs(),
                    app.extensions["jobs"].enqueue,
                    max_attempts=app.config["VIDEO_MAX_ATTEMPTS"],
                    include_unclaimed=first,
                    storage=app.extensions["storage"],
                    stale_after=timedelta(hours=app.config["VIDEO_UPLOAD_STALE_HOURS"]),
                )
                if n:
                    log.info("sweep: re-enqueued %d video(s)", n)
                purge_recordings(dbs(), app.extensions["storage"], app.config["RECORDING_RETENTION_DAYS"])
                first = False
        except Exception:
            log.exception("sweep failed")
        try:  # apart from the video sweep: one failing never stops the other
            notify_and_deliver(app)
        except Exception:
            log.exception("reminders and deliveries failed")
        stop.wait(every_s)


def main(argv: list[str] | None = None) -> int:
    """Run the worker: RQ jobs from LMS_REDIS_URL, and a sweep for jobs whose worker died."""
    parser = argparse.ArgumentParser(prog="python -m media.worker", description=__doc__)
    parser.add_argument("--sweep-every", type=float, default=30.0, help="seconds between sweeps (30)")
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = _app()
    if app.extensions["jobs"].kind != "rq":
        print("media.worker needs LMS_REDIS_URL (jobs run in the app process otherwise)", file=sys.stderr)
        return 2
    from redis import Redis
    from rq import Queue, Worker

    # The store aborts what the sweep might miss (a worker down for days); a day is S3's smallest unit.
    days = max(1, app.config["VIDEO_UPLOAD_STALE_HOURS"] // 24)
    try:
        if app.extensions["storage"].expire_unfinished_uploads("videos/", days):
            log.info("bucket lifecycle: unfinished uploads under videos/ are aborted after %d day(s)", days)
    except Exception:  # best effort (a store without lifecycle support, missing rights): the sweep remains
        log.warning(
            "could not set the bucket's lifecycle rule; the sweep still aborts stale uploads", exc_info=True
        )
    stop = threading.Event()
    thread = threading.Thread(target=_sweeper, args=(app, stop, args.sweep_every), daemon=True)
    thread.start()
    connection = Redis.from_url(app.config["REDIS_URL"])
    worker = Worker([Queue(app.config["JOBS_QUEUE"], connection=connection)], connection=connection)
    try:
        worker.work(burst=args.burst, with_scheduler=True, logging_level="WARNING")
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
