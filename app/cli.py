"""Flask CLI commands: `flask seed-demo`, `flask purge-recordings`, `flask send-reminders`,
`flask deliver-notifications`."""

from __future__ import annotations

import click
from flask import Flask

from app.extensions import dbs


def _demo_lecture() -> str | None:
    """The demo course's recorded lecture (made once from a generated clip): its page's path."""
    import tempfile
    from pathlib import Path

    from flask import current_app

    from courses.seed import demo_video_lesson, seed_demo_video
    from media.ffmpeg import lavfi_clip_args
    from media.tools import ToolMissing, ffmpeg_binary
    from media.transcode import FfmpegError, run_ffmpeg

    lesson = demo_video_lesson(dbs())
    if lesson is not None:
        return f"/courses/{lesson.course_id}/lessons/{lesson.id}/watch"
    seconds = current_app.config["DEMO_VIDEO_SECONDS"]
    if seconds <= 0:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        clip = str(Path(tmp) / "demo.mp4")
        try:
            run_ffmpeg(lavfi_clip_args(ffmpeg_binary(), clip, seconds=seconds), duration_s=seconds)
        except (ToolMissing, FfmpegError) as exc:
            click.echo(f"! 데모 영상을 만들지 못했습니다 / demo video skipped: {exc}", err=True)
            return None
        made = seed_demo_video(dbs(), current_app.extensions["storage"], clip)
        dbs().commit()
        return None if made is None else f"/courses/{made.course_id}/lessons/{made.id}/watch"


def init_app(app: Flask) -> None:
    """Register the CLI commands."""

    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Create the demo office, schools, classes and people (once)."""
        from courses.seed import DEMO_LOGINS, DEMO_PASSWORD, schedule_demo_live_lesson, seed_demo

        created = seed_demo(dbs())
        live_id = schedule_demo_live_lesson(dbs())
        dbs().commit()
        lecture = _demo_lecture()
        if created:
            click.echo("데모 데이터를 만들었습니다 / demo data created")
        for username, label in DEMO_LOGINS:
            click.echo(f"  {username:<12} / {DEMO_PASSWORD}   {label}")
        if lecture is not None:
            click.echo(
                f"  녹화 강의 / recorded lecture:  {lecture}   (student1; 앱이 시작되고 1분 안에 변환 / ready a minute after start)"
            )
        if live_id is not None:
            click.echo(
                f"  실시간 수업 / live class:  /live/{live_id}   (teacher1 + student1~student30, 지금 입장 가능 / open now)"
            )

    @app.cli.command("purge-recordings")
    def purge_recordings_command() -> None:
        """Remove class recordings past LMS_RECORDING_RETENTION_DAYS (teachers are told a week before)."""
        from flask import current_app

        from media.worker import purge_recordings

        days = current_app.config["RECORDING_RETENTION_DAYS"]
        if days <= 0:
            click.echo("녹화 보관 기간이 없습니다 (LMS_RECORDING_RETENTION_DAYS=0) / recordings are kept")
            return
        noticed, removed = purge_recordings(dbs(), current_app.extensions["storage"], days)
        click.echo(f"알림 {noticed}건, 삭제 {removed}건 / {noticed} notice(s), {removed} removed")

    @app.cli.command("send-reminders")
    def send_reminders_command() -> None:
        """Class-start reminders now due (10 minutes before, and at the start); for cron, e.g. every minute.
        Their e-mails and texts go with the next delivery: here at once, unless an RQ worker takes them."""
        from flask import current_app

        from app.delivery import run_delivery, send_reminders

        n = send_reminders(dbs())
        click.echo(f"수업 시작 알림 {n}건 / {n} reminder(s)")
        if current_app.extensions["jobs"].kind == "rq":
            current_app.extensions["jobs"].submit("deliver")
            return
        report = run_delivery(dbs())
        click.echo(
            f"보냄 {report.sent}건, 실패 {report.failed}건 / {report.sent} sent, {report.failed} failed"
        )

    @app.cli.command("deliver-notifications")
    def deliver_notifications_command() -> None:
        """Send what the notification outbox holds (e-mail, the school messaging service) now."""
        from app.delivery import run_delivery

        report = run_delivery(dbs())
        click.echo(
            f"보냄 {report.sent}건, 다시 시도 {report.retried}건, 실패 {report.failed}건 / "
            f"{report.sent} sent, {report.retried} to retry, {report.failed} failed"
        )
