"""How delivery is set up: LMS_SMTP_* / LMS_SMS_HOOK become channels (none: the channel is off), bad values
stop the start-up with a message naming them, and the job queue carries `deliver` jobs beside video ones."""

from __future__ import annotations

import os
import threading

import pytest

from app.config import ConfigError, load_config
from app.delivery import build_channels
from courses.delivery.channels import SmsChannel, SmtpChannel
from courses.models import ChannelKind
from media.jobs import JOB_FUNCTIONS, ManualQueue, ThreadQueue, build_queue


def test_no_smtp_and_no_hook_means_no_channel() -> None:
    s = load_config("test", environ={})
    assert s["SMTP_HOST"] is None and s["SMS_HOOK"] is None
    assert build_channels(s) == {}


def test_smtp_settings_and_the_hook_make_the_channels() -> None:
    s = load_config(
        "test",
        environ={
            "LMS_SMTP_HOST": "smtp.school.test",
            "LMS_SMTP_PORT": "2525",
            "LMS_SMTP_USER": "ieum",
            "LMS_SMTP_PASSWORD": "secret",
            "LMS_SMTP_STARTTLS": "false",
            "LMS_MAIL_FROM": "이음시교육청 <noreply@ieum.example>",
            "LMS_SMS_HOOK": "log",
        },
    )
    channels = build_channels(s)
    email = channels[ChannelKind.email]
    assert isinstance(email, SmtpChannel) and isinstance(channels[ChannelKind.sms], SmsChannel)
    settings = email.settings
    assert (settings.host, settings.port, settings.user, settings.starttls) == (
        "smtp.school.test",
        2525,
        "ieum",
        False,
    )
    assert settings.mail_from == "이음시교육청 <noreply@ieum.example>"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LMS_SMTP_PORT": "0"}, "LMS_SMTP_PORT"),
        ({"LMS_SMTP_PORT": "smtp"}, "LMS_SMTP_PORT must be an integer"),
        ({"LMS_SMTP_STARTTLS": "perhaps"}, "LMS_SMTP_STARTTLS must be true or false"),
        ({"LMS_SMTP_USER": "ieum"}, "LMS_SMTP_USER and LMS_SMTP_PASSWORD"),
        ({"LMS_MAIL_FROM": "nobody"}, "LMS_MAIL_FROM"),
        ({"LMS_MAIL_FROM": "이음 <>"}, "LMS_MAIL_FROM"),
        ({"LMS_SMS_HOOK": "no.such.module:send"}, "LMS_SMS_HOOK"),
        ({"LMS_SMS_HOOK": "send"}, "LMS_SMS_HOOK"),
        ({"LMS_PUBLIC_URL": "ieum.example"}, "LMS_PUBLIC_URL"),
        ({"LMS_DELIVERY_MAX_ATTEMPTS": "0"}, "LMS_DELIVERY_MAX_ATTEMPTS"),
        ({"LMS_DELIVERY_LEASE_S": "1"}, "LMS_DELIVERY_LEASE_S"),
        ({"LMS_PASSWORD_RESET_MINUTES": "2"}, "LMS_PASSWORD_RESET_MINUTES"),
        ({"LMS_PASSWORD_RESET_MINUTES": "100000"}, "LMS_PASSWORD_RESET_MINUTES"),
    ],
)
def test_bad_delivery_settings_stop_the_start_up(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config("test", environ=env)


def test_production_mails_need_an_https_public_url() -> None:
    env = {
        "LMS_SECRET_KEY": "x" * 40,
        "LMS_SFU_SECRET": "y" * 40,
        "LMS_DATABASE_URL": "postgresql://u@h/db",
        "LMS_SMTP_HOST": "smtp.school.test",
    }
    with pytest.raises(ConfigError, match="https"):
        load_config("production", environ=env)
    assert load_config("production", environ={**env, "LMS_PUBLIC_URL": "https://ieum.example"})["PUBLIC_URL"]


@pytest.mark.parametrize("job", sorted(JOB_FUNCTIONS))
def test_every_job_names_a_function_the_worker_can_import(job: str) -> None:
    from werkzeug.utils import import_string

    assert callable(import_string(JOB_FUNCTIONS[job]))


def test_the_manual_queue_keeps_deliver_jobs_apart_from_videos() -> None:
    q = ManualQueue()
    q.enqueue(7)
    q.submit("deliver")
    q.submit("video", 8)
    assert q.drain_jobs("deliver") == [()]
    assert q.drain_jobs("deliver") == []
    assert q.drain() == [7, 8]


def test_the_thread_queue_runs_deliveries_beside_a_long_video() -> None:
    video_started, release_video, delivered = threading.Event(), threading.Event(), threading.Event()

    def video(video_id: int) -> None:
        video_started.set()
        release_video.wait()

    q = build_queue(
        "thread",
        redis_url=None,
        queue_name="x",
        runner=video,
        job_timeout_s=60,
        retries=0,
        runners={"deliver": delivered.set},
    )
    assert isinstance(q, ThreadQueue)
    q.enqueue(1)
    assert video_started.wait(10)
    q.submit("deliver")  # the video's thread is busy: the delivery has its own
    assert delivered.wait(10)
    release_video.set()
    q.join()
    with pytest.raises(ValueError, match="unknown job"):
        q.submit("mine-bitcoin")


@pytest.mark.skipif(not os.environ.get("LMS_TEST_REDIS_URL"), reason="needs LMS_TEST_REDIS_URL")
def test_rq_carries_the_deliver_job_to_the_worker_function() -> None:
    import uuid

    from redis import Redis
    from rq import Queue

    url = os.environ["LMS_TEST_REDIS_URL"]
    name = f"ieum-test-{uuid.uuid4().hex[:8]}"
    q = build_queue("rq", redis_url=url, queue_name=name, runner=lambda _: None, job_timeout_s=60, retries=0)
    q.submit("deliver")
    rq_queue = Queue(name, connection=Redis.from_url(url))
    try:
        [job] = rq_queue.get_jobs()
        assert job.func_name == JOB_FUNCTIONS["deliver"] == "media.worker.deliver_notifications"
        assert job.args == ()
    finally:
        rq_queue.empty()
        rq_queue.delete()
