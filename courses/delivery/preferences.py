"""What each person receives where: per category, e-mail and the school messaging service (SMS / 알림톡) on or
off; in-app notices always. Without a saved choice e-mail is on (when the person has an address) and SMS off.
Parents choose for themselves: their children's notices reach them as their own preferences say."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.errors import N_
from courses.models import ChannelKind, NoticeCategory, NotificationPreference, Role, User

CATEGORY_LABELS: dict[NoticeCategory, str] = {
    NoticeCategory.enrolment: N_("강좌 등록"),
    NoticeCategory.reminder: N_("실시간 수업 시작 (10분 전, 시작할 때)"),
    NoticeCategory.reschedule: N_("수업 일정 변경"),
    NoticeCategory.decision: N_("강좌 요청 승인·반려·취소"),
    NoticeCategory.completion: N_("이수 확인"),
    NoticeCategory.other: N_("그 밖의 업무 알림 (승인할 요청, 강사 지정, 녹화 보관 기간)"),
}
LEARNER_CATEGORIES = (
    NoticeCategory.enrolment,
    NoticeCategory.reminder,
    NoticeCategory.reschedule,
    NoticeCategory.completion,
)
STAFF_CATEGORIES = (NoticeCategory.reminder, NoticeCategory.decision, NoticeCategory.other)
DEFAULTS: dict[ChannelKind, bool] = {ChannelKind.email: True, ChannelKind.sms: False}


def categories_for(user: User) -> tuple[NoticeCategory, ...]:
    """The categories that reach this person's role (students and parents: their courses; staff: their work)."""
    return LEARNER_CATEGORIES if user.role in (Role.student, Role.parent) else STAFF_CATEGORIES


def has_email(user_email: str | None) -> bool:
    """Whether an address can take mail at all."""
    return bool(user_email) and "@" in (user_email or "")


@dataclass(frozen=True)
class Choice:
    """One category's row on the account page."""

    category: NoticeCategory
    label: str
    email: bool
    sms: bool


def choices(session: Session, user: User) -> list[Choice]:
    """The person's choices for every category of their role, defaults filled in."""
    saved = {
        p.category: p
        for p in session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        )
    }
    out = []
    for cat in categories_for(user):
        p = saved.get(cat)
        out.append(
            Choice(
                cat,
                CATEGORY_LABELS[cat],
                DEFAULTS[ChannelKind.email] if p is None else p.email,
                DEFAULTS[ChannelKind.sms] if p is None else p.sms,
            )
        )
    return out


def save(
    session: Session,
    actor: User,
    wanted: Mapping[NoticeCategory, Iterable[ChannelKind]],
    *,
    channels: Iterable[ChannelKind],
) -> None:
    """Store the actor's own choices for the categories given; only the named channels are changed (a channel
    the page did not offer keeps what was stored)."""
    changing = set(channels)
    allowed = set(categories_for(actor))
    saved = {
        p.category: p
        for p in session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == actor.id)
        )
    }
    for cat, on in wanted.items():
        if cat not in allowed:
            continue
        on = set(on)
        row = saved.get(cat)
        if row is None:
            row = NotificationPreference(
                user_id=actor.id,
                category=cat,
                email=DEFAULTS[ChannelKind.email],
                sms=DEFAULTS[ChannelKind.sms],
            )
            session.add(row)
        if ChannelKind.email in changing:
            row.email = ChannelKind.email in on
        if ChannelKind.sms in changing:
            row.sms = ChannelKind.sms in on
    session.flush()


def wanted_channels(
    session: Session, user_ids: Iterable[int], category: NoticeCategory
) -> dict[int, set[ChannelKind]]:
    """Per person, the channels besides the app they want this category on (defaults for those who never
    chose). Whether they can receive it (an address, an active account) is the outbox's question."""
    ids = sorted(set(user_ids))
    default = {ch for ch, on in DEFAULTS.items() if on}
    out = {uid: set(default) for uid in ids}
    if not ids:
        return out
    rows = session.execute(
        select(
            NotificationPreference.user_id, NotificationPreference.email, NotificationPreference.sms
        ).where(NotificationPreference.user_id.in_(ids), NotificationPreference.category == category)
    )
    for uid, email, sms in rows:
        out[uid] = {ch for ch, on in ((ChannelKind.email, email), (ChannelKind.sms, sms)) if on}
    return out
