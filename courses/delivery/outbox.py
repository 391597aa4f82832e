"""The outbox: rows written with their notification (or password-reset request) in the same transaction, one
per channel the person wants and can receive, then sent by the worker — never by a web request.

A worker claims a row with a conditional UPDATE (pending and due, or a lease that expired), so two workers
never send the same row; it records the outcome, retries a failure later (backing off) until the attempts are
spent, and keeps the last error. A worker that dies after the server accepted a message but before it
recorded that sends it once more when the lease expires: the only duplicate there can be."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from courses.db import affected
from courses.delivery.preferences import has_email, wanted_channels
from courses.models import ChannelKind, NoticeCategory, OutboxMessage, OutboxStatus, PasswordReset, User

# Set on the session when rows were written: after its commit the app announces a delivery job.
PENDING_FLAG = "outbox_pending"
_available: frozenset[ChannelKind] = frozenset()
BACKOFF_MAX = timedelta(hours=1)


def configure(channels: Iterable[ChannelKind]) -> None:
    """The channels this deployment can send on (from its settings, at start-up): rows are written for those
    only, so an e-mail channel that is not set up queues nothing."""
    global _available
    _available = frozenset(channels)


def available_channels() -> frozenset[ChannelKind]:
    """The channels configured at start-up."""
    return _available


def take_pending_flag(session: Session) -> bool:
    """Whether this session wrote outbox rows since it was last asked (and forget it)."""
    return bool(session.info.pop(PENDING_FLAG, False))


def queue_notifications(
    session: Session, notices: Sequence[tuple[int, int]], category: NoticeCategory
) -> int:
    """For each (notification id, user id): a pending row per channel the person wants and can receive (an
    active account; e-mail only with an address). How many rows."""
    channels = _available
    if not channels or not notices:
        return 0
    user_ids = sorted({uid for _, uid in notices})
    reachable: dict[int, set[ChannelKind]] = {}
    for uid, email, active in session.execute(
        select(User.id, User.email, User.active).where(User.id.in_(user_ids))
    ):
        if active:
            reachable[uid] = {ch for ch in channels if ch != ChannelKind.email or has_email(email)}
    wanted = wanted_channels(session, reachable, category)
    rows = [
        {"user_id": uid, "channel": ch, "notification_id": nid}
        for nid, uid in notices
        for ch in sorted(wanted.get(uid, set()) & reachable.get(uid, set()))
    ]
    return _insert(session, rows)


def queue_password_reset(session: Session, reset: PasswordReset) -> int:
    """The e-mail carrying a reset link (whatever the person's preferences: they asked for it)."""
    if ChannelKind.email not in _available:
        return 0
    return _insert(
        session, [{"user_id": reset.user_id, "channel": ChannelKind.email, "password_reset_id": reset.id}]
    )


def _insert(session: Session, rows: list[dict[str, object]]) -> int:
    if rows:
        session.execute(insert(OutboxMessage), rows)
        session.info[PENDING_FLAG] = True
    return len(rows)


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(OutboxMessage.status == OutboxStatus.pending, OutboxMessage.not_before <= now),
        and_(OutboxMessage.status == OutboxStatus.sending, OutboxMessage.lease_until < now),
    )


def due_ids(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Rows ready to send, oldest first (pending and due, or claimed by a worker whose lease ran out)."""
    stmt = select(OutboxMessage.id).where(_due(now)).order_by(OutboxMessage.id).limit(limit)
    return list(session.scalars(stmt))


def claim(
    session: Session, row_id: int, *, now: datetime, lease: timedelta, max_attempts: int
) -> OutboxMessage | None:
    """Take one row for this worker until now + lease, counting an attempt; None if another has it, it is
    done, or its attempts are spent (then it is marked failed). Commit before sending."""
    taken = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, _due(now), OutboxMessage.attempts < max_attempts)
        .values(status=OutboxStatus.sending, lease_until=now + lease, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if affected(taken) != 1:
        session.execute(  # a worker died while sending the last attempt: give up on it
            update(OutboxMessage)
            .where(
                OutboxMessage.id == row_id,
                OutboxMessage.status == OutboxStatus.sending,
                OutboxMessage.lease_until < now,
                OutboxMessage.attempts >= max_attempts,
            )
            .values(status=OutboxStatus.failed, last_error="worker stopped while sending; attempts spent")
            .execution_options(synchronize_session=False)
        )
        return None
    return session.get(OutboxMessage, row_id, populate_existing=True)


def record_sent(row: OutboxMessage, *, now: datetime) -> None:
    """The channel accepted the message."""
    row.status, row.sent_at, row.lease_until, row.last_error = OutboxStatus.sent, now, None, ""


def record_cancelled(row: OutboxMessage, reason: str) -> None:
    """Nothing to send any more (the account was disabled, the link expired, the channel was switched off)."""
    row.status, row.lease_until, row.last_error = OutboxStatus.cancelled, None, reason[:500]


def record_failure(
    row: OutboxMessage, reason: str, *, permanent: bool, now: datetime, max_attempts: int
) -> bool:
    """Keep the error; try again later (2, 4, 8 … minutes, at most an hour) unless it is permanent or the
    attempts are spent. Whether it will be retried."""
    row.last_error, row.lease_until = reason[:500], None
    if permanent or row.attempts >= max_attempts:
        row.status = OutboxStatus.failed
        return False
    row.status = OutboxStatus.pending
    row.not_before = now + min(timedelta(minutes=2**row.attempts), BACKOFF_MAX)
    return True


def pending_count(session: Session) -> int:
    """Rows not yet sent, failed or cancelled (for tests and the CLI's report)."""
    stmt = select(func.count()).where(OutboxMessage.status.in_((OutboxStatus.pending, OutboxStatus.sending)))
    return session.scalar(stmt) or 0


def cancel_channel_off(session: Session, channels: Iterable[ChannelKind]) -> int:
    """Rows waiting for a channel this deployment no longer has (its settings changed): cancelled."""
    off = set(ChannelKind) - set(channels)
    if not off:
        return 0
    return affected(
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.pending, OutboxMessage.channel.in_(sorted(off)))
            .values(status=OutboxStatus.cancelled, last_error="channel not configured")
            .execution_options(synchronize_session=False)
        )
    )
