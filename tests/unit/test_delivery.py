"""Notices beyond the app: the channels (a real SMTP server on loopback, the SMS hook), the outbox rows a
notification writes (per preference, address and configured channel), claiming under a lease (never twice),
retries with a limit, and the per-person preferences."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from courses.db import utcnow
from courses.delivery import outbox, preferences
from courses.delivery.channels import (
    DeliveryFailed,
    Message,
    Recipient,
    SmsChannel,
    SmtpChannel,
    SmtpSettings,
    load_hook,
    log_sms,
)
from courses.models import ChannelKind, NoticeCategory, Notification, OutboxMessage, OutboxStatus
from courses.notifications import notify_many
from tests.mail_support import SmtpSink, body

KIM = Recipient(user_id=7, username="parent", name="김보호", role="parent", email="parent@school.test")


@pytest.fixture()
def sink():  # type: ignore[no-untyped-def]
    s = SmtpSink().start()
    yield s
    s.stop()


def _smtp(sink: SmtpSink) -> SmtpChannel:
    return SmtpChannel(
        SmtpSettings(host=sink.host, port=sink.port, starttls=False, mail_from="이음 <noreply@ieum.test>")
    )


def test_an_email_in_korean_reaches_a_real_smtp_server_as_utf8(sink: SmtpSink) -> None:
    text = "김보호님, 이음 알림입니다.\n\n강좌에 등록되었습니다\n생활 안전 교실 ✔\n"
    _smtp(sink).send(Message(KIM, "[이음] 강좌에 등록되었습니다", text, "http://x.test/courses/1"))
    [mail] = sink.messages
    assert mail["Subject"] == "[이음] 강좌에 등록되었습니다"
    assert mail["To"].addresses[0].display_name == "김보호"
    assert mail["To"].addresses[0].addr_spec == "parent@school.test"
    assert mail["From"].addresses[0].addr_spec == "noreply@ieum.test"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_charset() == "utf-8"
    assert body(mail) == text
    assert sink.envelopes == [("noreply@ieum.test", ["parent@school.test"])]


def test_a_refused_recipient_is_a_permanent_failure_and_no_server_a_passing_one(sink: SmtpSink) -> None:
    sink.refuse("parent@school.test")
    with pytest.raises(DeliveryFailed) as refused:
        _smtp(sink).send(Message(KIM, "s", "t"))
    assert refused.value.permanent
    sink.stop()  # nothing listens there any more
    with pytest.raises(DeliveryFailed) as down:
        _smtp(sink).send(Message(KIM, "s", "t"))
    assert not down.value.permanent


def test_no_address_is_refused_before_connecting() -> None:
    nobody = Recipient(user_id=1, username="s1", name="학생", role="student", email=None)
    with pytest.raises(DeliveryFailed) as err:
        SmtpChannel(SmtpSettings(host="127.0.0.1", port=1)).send(Message(nobody, "s", "t"))
    assert err.value.permanent


@pytest.mark.parametrize(
    ("spec", "loads"),
    [
        ("log", True),
        ("courses.delivery.channels:log_sms", True),
        ("courses.delivery.channels.log_sms", True),
        ("courses.delivery.channels:SmtpSettings", True),  # a class is callable: operators may pass one
        ("courses.delivery.channels:log", False),
        ("courses.delivery.channels:KIM_NOT_THERE", False),
        ("no.such.module:send", False),
        ("courses.delivery.channels:log_sms.__doc__", False),
        ("send", False),
        ("", False),
    ],
)
def test_the_sms_hook_is_a_dotted_path_to_a_callable(spec: str, loads: bool) -> None:
    if loads:
        assert callable(load_hook(spec))
    else:
        with pytest.raises(ValueError, match="LMS_SMS_HOOK"):
            load_hook(spec)


def test_the_log_hook_writes_the_text_and_a_failing_hook_is_a_retried_failure(caplog) -> None:  # type: ignore[no-untyped-def]
    assert load_hook("log") is log_sms
    with caplog.at_level(logging.INFO, logger="courses.delivery"):
        SmsChannel(log_sms).send(Message(KIM, "s", "[이음] 수업이 지금 시작됩니다"))
    assert "SMS to parent (user 7): [이음] 수업이 지금 시작됩니다" in caplog.text

    def broken(recipient: Recipient, text: str) -> None:
        raise ConnectionError("알림톡 서버 응답 없음")

    with pytest.raises(DeliveryFailed) as err:
        SmsChannel(broken).send(Message(KIM, "s", "t"))
    assert not err.value.permanent and "알림톡 서버 응답 없음" in err.value.reason


# -- the outbox ------------------------------------------------------------------------------------------


def _rows(session, **where) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    for k, v in where.items():
        stmt = stmt.where(getattr(OutboxMessage, k) == v)
    return list(session.scalars(stmt))


def test_nothing_is_queued_when_no_channel_is_configured(session, world) -> None:  # type: ignore[no-untyped-def]
    world["parent"].email = "parent@school.test"
    assert outbox.available_channels() == frozenset()
    assert (
        notify_many(session, [world["parent"].id], "강좌에 등록되었습니다", category=NoticeCategory.enrolment)
        == 1
    )
    assert _rows(session) == []
    assert not outbox.take_pending_flag(session)


def test_rows_follow_preferences_addresses_and_active_accounts(session, world, channels_on) -> None:  # type: ignore[no-untyped-def]
    parent, student, teacher = world["parent"], world["student"], world["teacher"]
    parent.email, teacher.email = "parent@school.test", "teacher@school.test"
    world["student2"].email, world["student2"].active = "gone@school.test", False
    preferences.save(
        session, teacher, {NoticeCategory.decision: {ChannelKind.sms}}, channels=set(ChannelKind)
    )
    ids = [parent.id, student.id, teacher.id, world["student2"].id]
    notify_many(session, ids, "강좌에 등록되었습니다", category=NoticeCategory.enrolment)
    got = {(r.user_id, r.channel) for r in _rows(session)}
    # e-mail on by default (the parent; not the student: no address; not the disabled account); SMS off
    assert got == {(parent.id, ChannelKind.email), (teacher.id, ChannelKind.email)}
    assert outbox.take_pending_flag(session) and not outbox.take_pending_flag(session)
    notify_many(session, [teacher.id], "강좌 요청이 승인되었습니다", category=NoticeCategory.decision)
    decided = _rows(session, user_id=teacher.id)[-1]
    assert decided.channel == ChannelKind.sms  # the teacher chose SMS only for decisions
    notice = session.get(Notification, decided.notification_id)
    assert notice.category == NoticeCategory.decision and notice.user_id == teacher.id


def test_saved_choices_and_defaults(session, world) -> None:  # type: ignore[no-untyped-def]
    parent = world["parent"]
    assert [(c.category, c.email, c.sms) for c in preferences.choices(session, parent)] == [
        (c, True, False) for c in preferences.LEARNER_CATEGORIES
    ]
    assert [c.category for c in preferences.choices(session, world["teacher"])] == list(
        preferences.STAFF_CATEGORIES
    )
    preferences.save(
        session,
        parent,
        {
            NoticeCategory.reminder: {ChannelKind.sms},
            NoticeCategory.enrolment: set(),
            NoticeCategory.decision: {ChannelKind.sms},  # not a parent's category: ignored
        },
        channels={ChannelKind.email, ChannelKind.sms},
    )
    by_cat = {c.category: (c.email, c.sms) for c in preferences.choices(session, parent)}
    assert by_cat[NoticeCategory.reminder] == (False, True)
    assert by_cat[NoticeCategory.enrolment] == (False, False)
    assert by_cat[NoticeCategory.completion] == (True, False)
    # a channel the page did not offer keeps what was stored
    preferences.save(session, parent, {NoticeCategory.reminder: set()}, channels={ChannelKind.email})
    assert {c.category: c.sms for c in preferences.choices(session, parent)}[NoticeCategory.reminder] is True
    assert preferences.wanted_channels(
        session, [parent.id, world["student"].id], NoticeCategory.reminder
    ) == {
        parent.id: {ChannelKind.sms},
        world["student"].id: {ChannelKind.email},
    }


def _one_row(session, world) -> OutboxMessage:  # type: ignore[no-untyped-def]
    world["parent"].email = "parent@school.test"
    notify_many(
        session, [world["parent"].id], "이수 확인", "생활 안전 교실", category=NoticeCategory.completion
    )
    [row] = _rows(session, channel=ChannelKind.email)
    return row


def test_a_row_is_claimed_by_one_worker_only_until_its_lease_runs_out(session, world, channels_on) -> None:  # type: ignore[no-untyped-def]
    row = _one_row(session, world)
    now = utcnow()
    lease = timedelta(minutes=2)
    assert outbox.due_ids(session, now=now, limit=10) == [row.id]
    first = outbox.claim(session, row.id, now=now, lease=lease, max_attempts=3)
    assert first is not None and first.status == OutboxStatus.sending and first.attempts == 1
    assert outbox.claim(session, row.id, now=now + timedelta(seconds=30), lease=lease, max_attempts=3) is None
    assert outbox.due_ids(session, now=now + timedelta(seconds=30), limit=10) == []
    # the worker died: once its lease ran out another may take it (a second attempt)
    again = outbox.claim(session, row.id, now=now + timedelta(minutes=3), lease=lease, max_attempts=3)
    assert again is not None and again.attempts == 2
    outbox.record_sent(again, now=now + timedelta(minutes=3))
    session.flush()
    assert outbox.claim(session, row.id, now=now + timedelta(hours=1), lease=lease, max_attempts=3) is None
    assert session.get(OutboxMessage, row.id).status == OutboxStatus.sent


def test_failures_back_off_and_stop_at_the_limit_with_the_error_kept(session, world, channels_on) -> None:  # type: ignore[no-untyped-def]
    row = _one_row(session, world)
    now = utcnow()
    lease = timedelta(minutes=2)
    waits = []
    for attempt in (1, 2, 3):
        claimed = outbox.claim(session, row.id, now=now, lease=lease, max_attempts=3)
        assert claimed is not None and claimed.attempts == attempt
        again = outbox.record_failure(claimed, "SMTP 451 try later", permanent=False, now=now, max_attempts=3)
        assert again is (attempt < 3)
        session.flush()
        if again:
            waits.append(claimed.not_before - now)
            assert outbox.claim(session, row.id, now=now, lease=lease, max_attempts=3) is None  # not yet
            now = claimed.not_before
    assert waits == [timedelta(minutes=2), timedelta(minutes=4)]
    assert row.status == OutboxStatus.failed and row.last_error == "SMTP 451 try later"
    assert outbox.claim(session, row.id, now=now + timedelta(days=1), lease=lease, max_attempts=3) is None


def test_a_permanent_failure_is_not_retried(session, world, channels_on) -> None:  # type: ignore[no-untyped-def]
    row = _one_row(session, world)
    claimed = outbox.claim(session, row.id, now=utcnow(), lease=timedelta(minutes=1), max_attempts=5)
    assert claimed is not None
    assert not outbox.record_failure(
        claimed, "recipient refused", permanent=True, now=utcnow(), max_attempts=5
    )
    assert claimed.status == OutboxStatus.failed and claimed.attempts == 1


def test_a_worker_that_died_on_the_last_attempt_leaves_a_failed_row(session, world, channels_on) -> None:  # type: ignore[no-untyped-def]
    row = _one_row(session, world)
    now = utcnow()
    assert outbox.claim(session, row.id, now=now, lease=timedelta(minutes=1), max_attempts=1) is not None
    assert (
        outbox.claim(
            session, row.id, now=now + timedelta(minutes=5), lease=timedelta(minutes=1), max_attempts=1
        )
        is None
    )
    session.refresh(row)
    assert row.status == OutboxStatus.failed and "attempts spent" in row.last_error


def test_rows_for_a_channel_switched_off_are_cancelled(session, world, channels_on) -> None:  # type: ignore[no-untyped-def]
    row = _one_row(session, world)
    assert outbox.cancel_channel_off(session, {ChannelKind.email, ChannelKind.sms}) == 0
    assert outbox.cancel_channel_off(session, {ChannelKind.sms}) == 1
    session.refresh(row)
    assert row.status == OutboxStatus.cancelled and outbox.pending_count(session) == 0
