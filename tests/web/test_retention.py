"""Recording retention on real local storage: one notice a week ahead to the course's teachers, removal after the
retention period (never sooner than a week after the notice), idempotence, errors isolated, 0 keeps forever."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from courses import retention, videos
from courses.db import utcnow
from courses.models import Notification, Recording
from media.storage import LocalStorage, StorageError
from tests.live_support import live_course

DAYS = 30


@pytest.fixture()
def store(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "media", "test-secret-key")


def _recording(session, store, live, name: str, age_days: float, **kw) -> Recording:  # type: ignore[no-untyped-def]
    key = f"recordings/live-{live.id}/{name}.webm"
    store.put_bytes(key, b"webm-bytes", "video/webm")
    rec = Recording(
        live_session_id=live.id,
        object_key=key,
        content_type="video/webm",
        duration_s=61.0,
        size=10,
        created_at=utcnow() - timedelta(days=age_days),
        **kw,
    )
    session.add(rec)
    session.flush()
    return rec


def _notices(session, user_id: int) -> list[Notification]:  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(Notification).where(
                Notification.user_id == user_id, Notification.title == "녹화 보관 기간 만료 예정"
            )
        )
    )


def test_one_notice_a_week_ahead_then_removal_and_nothing_twice(db_session, web_world, store):
    course, live = live_course(db_session, web_world, starts_in=timedelta(minutes=-30), recording="full")
    young = _recording(db_session, store, live, "young", 10)
    soon = _recording(db_session, store, live, "soon", DAYS - 5, decision="private")
    now = utcnow()
    assert retention.notify_and_purge(db_session, store, now=now, retention_days=DAYS) == (1, 0)
    assert soon.retention_notice_at == now and young.retention_notice_at is None
    for who in (web_world["teacher"], web_world["instructor"]):  # the requester and the instructor
        [note] = _notices(db_session, who.id)
        assert course.title in note.body
        assert note.link == f"/live/{live.id}/attendance#rec-h"
    # Run again the same day and a day later: no second notice, nothing removed yet.
    assert retention.notify_and_purge(db_session, store, now=now, retention_days=DAYS) == (0, 0)
    assert retention.notify_and_purge(
        db_session, store, now=now + timedelta(days=1), retention_days=DAYS
    ) == (0, 0)
    assert len(_notices(db_session, web_world["teacher"].id)) == 1
    # Past the retention period (day 5) but not a week after the notice: kept; then removed and marked, once.
    assert retention.notify_and_purge(
        db_session, store, now=now + timedelta(days=6), retention_days=DAYS
    ) == (0, 0)
    later = now + timedelta(days=7)
    assert retention.notify_and_purge(db_session, store, now=later, retention_days=DAYS) == (0, 1)
    assert soon.removed_at == later and not store.exists(soon.object_key)
    assert store.exists(young.object_key) and young.removed_at is None
    assert retention.notify_and_purge(db_session, store, now=later, retention_days=DAYS) == (0, 0)
    assert retention.due_recordings(db_session, later + timedelta(days=100), DAYS) == []


def test_an_old_recording_never_noticed_gets_a_week_first(db_session, web_world, store):
    _course, live = live_course(db_session, web_world, starts_in=timedelta(minutes=-30), recording="full")
    old = _recording(db_session, store, live, "old", DAYS + 100)
    now = utcnow()
    assert retention.notify_and_purge(db_session, store, now=now, retention_days=DAYS) == (1, 0)
    assert store.exists(old.object_key)
    week = now + timedelta(days=7)
    assert retention.notify_and_purge(db_session, store, now=week, retention_days=DAYS) == (0, 1)
    assert not store.exists(old.object_key)


def test_zero_days_keeps_recordings_forever(db_session, web_world, store):
    _course, live = live_course(db_session, web_world, starts_in=timedelta(minutes=-30), recording="full")
    ancient = _recording(db_session, store, live, "ancient", 5000)
    assert retention.notify_and_purge(db_session, store, now=utcnow(), retention_days=0) == (0, 0)
    assert retention.due_recordings(db_session, utcnow(), 0) == []
    assert store.exists(ancient.object_key) and ancient.retention_notice_at is None


def test_a_published_recording_in_use_by_a_lesson_is_kept(db_session, web_world, store):
    course, live = live_course(db_session, web_world, starts_in=timedelta(minutes=-30), recording="full")
    rec = _recording(db_session, store, live, "published", DAYS + 100)
    videos.decide_recording(db_session, store, web_world["teacher"], rec, live, course, "publish")
    now = utcnow()
    for step in range(3):
        assert retention.notify_and_purge(
            db_session, store, now=now + timedelta(days=8 * step), retention_days=DAYS
        ) == (0, 0)
    assert store.exists(rec.object_key) and rec.removed_at is None


def test_a_storage_error_on_one_recording_does_not_stop_the_others(db_session, web_world, store, monkeypatch):
    _course, live = live_course(db_session, web_world, starts_in=timedelta(minutes=-30), recording="full")
    now = utcnow()
    broken = _recording(
        db_session, store, live, "broken", DAYS + 1, retention_notice_at=now - timedelta(days=8)
    )
    fine = _recording(db_session, store, live, "fine", DAYS + 1, retention_notice_at=now - timedelta(days=8))
    real_delete = store.delete

    def flaky(key: str) -> None:
        if key == broken.object_key:
            raise StorageError("store unreachable")
        real_delete(key)

    monkeypatch.setattr(store, "delete", flaky)
    assert retention.notify_and_purge(db_session, store, now=now, retention_days=DAYS) == (0, 1)
    assert fine.removed_at == now and not store.exists(fine.object_key)
    assert broken.removed_at is None and store.exists(broken.object_key)
    monkeypatch.setattr(store, "delete", real_delete)
    assert retention.notify_and_purge(db_session, store, now=now, retention_days=DAYS) == (0, 1)  # next run
    assert broken.removed_at == now


def test_the_attendance_page_shows_a_removed_recording_as_removed(login, db_session, web_world, app):
    store = app.extensions["storage"]
    _course, live = live_course(db_session, web_world, starts_in=timedelta(minutes=-30), recording="full")
    now = utcnow()
    rec = _recording(
        db_session, store, live, f"gone-{live.id}", DAYS + 1, retention_notice_at=now - timedelta(days=8)
    )
    assert retention.notify_and_purge(db_session, store, now=now, retention_days=DAYS) == (0, 1)
    db_session.commit()
    page = login(web_world["teacher"]).get(f"/live/{live.id}/attendance").get_data(as_text=True)
    assert "보관 기간이 지나 삭제됨" in page and rec.object_key not in page


def test_the_cli_command_purges_and_commits(app, db_session, web_world):
    store = app.extensions["storage"]
    _course, live = live_course(db_session, web_world, starts_in=timedelta(minutes=-30), recording="full")
    rec = _recording(db_session, store, live, f"cli-{live.id}", 400)
    db_session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["purge-recordings"])
    assert result.exit_code == 0 and "1 notice(s), 0 removed" in result.output
    assert db_session.get(Recording, rec.id).retention_notice_at is not None
    app.config["RECORDING_RETENTION_DAYS"] = 0
    try:
        result = runner.invoke(args=["purge-recordings"])
        assert "kept" in result.output
    finally:
        app.config["RECORDING_RETENTION_DAYS"] = 365


def test_the_worker_sweep_runs_the_retention(app, db_session, web_world):
    from media.worker import purge_recordings

    store = app.extensions["storage"]
    _course, live = live_course(db_session, web_world, starts_in=timedelta(minutes=-30), recording="full")
    _recording(db_session, store, live, f"sweep-{live.id}", 400)
    assert purge_recordings(db_session, store, 365) == (1, 0)


def test_the_worker_sweeper_loop_calls_the_retention(app, db_session, web_world):
    import threading

    from media.worker import _sweeper

    class OneRound(threading.Event):
        rounds = 0

        def is_set(self) -> bool:
            self.rounds += 1
            return self.rounds > 1

    store = app.extensions["storage"]
    _course, live = live_course(db_session, web_world, starts_in=timedelta(minutes=-30), recording="full")
    rec = _recording(db_session, store, live, f"loop-{live.id}", 400)
    db_session.commit()
    _sweeper(app, OneRound(), 0)
    assert db_session.get(Recording, rec.id).retention_notice_at is not None


@pytest.mark.parametrize(
    "raw, ok", [("0", True), ("365", True), ("8", True), ("7", False), ("-1", False), ("x", False)]
)
def test_the_retention_setting_is_validated(raw, ok):
    from app.config import ConfigError, load_config

    env = {"LMS_RECORDING_RETENTION_DAYS": raw, "LMS_SURVEY_OPEN_DAYS": "14"}
    if ok:
        assert load_config("test", environ=env)["RECORDING_RETENTION_DAYS"] == int(raw)
    else:
        with pytest.raises(ConfigError):
            load_config("test", environ=env)
