"""The office's instructor pool: profiles, themes, availability; external instructors registered by requesters.

An instructor is deactivated, never deleted: a deactivated one is offered for no new course and cannot be
newly assigned, while the courses they taught or teach keep them. Their login account (User.active) is a
separate matter that deactivating the profile does not touch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from courses import text
from courses.errors import N_, Errors, NotFound
from courses.models import Course, CourseStatus, InstructorProfile, Role, Theme, User
from courses.policy import may_manage_instructor, require

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
PHONE_RE = re.compile(r"[0-9+\- ]{7,20}")
AFFILIATION_MAX, AVAILABILITY_MAX, BIO_MAX = 120, 300, 2000
# Courses an instructor still has ahead of them (shown before deactivating).
UPCOMING = (CourseStatus.submitted, CourseStatus.approved, CourseStatus.running)


def list_pool(
    session: Session, actor: User, *, theme_id: int | None = None, include_inactive: bool = False
) -> list[InstructorProfile]:
    """The actor's office's instructors (active ones unless asked), optionally those teaching one theme."""
    require(actor.role in (Role.office_admin, Role.school_admin, Role.teacher))
    stmt = (
        select(InstructorProfile)
        .join(User, User.id == InstructorProfile.user_id)
        .options(selectinload(InstructorProfile.themes), selectinload(InstructorProfile.user))
        .where(InstructorProfile.office_id == actor.office_id, User.active)
        .order_by(InstructorProfile.active.desc(), InstructorProfile.external, User.name)
    )
    if not include_inactive:
        stmt = stmt.where(InstructorProfile.active)
    if theme_id is not None:
        stmt = stmt.where(InstructorProfile.themes.any(Theme.id == theme_id))
    return list(session.scalars(stmt))


@dataclass
class ProfileFields:
    """What an instructor's profile says about them, cleaned."""

    affiliation: str | None
    bio: str
    availability: str
    phone: str | None
    themes: list[Theme]


def _profile_fields(
    session: Session,
    e: Errors,
    *,
    affiliation: str,
    bio: str,
    availability: str,
    phone: str,
    theme_ids: list[int],
    keep_themes: list[Theme] | None = None,
) -> ProfileFields:
    """Check a profile's fields into `e` (each error names its field). Retired themes already held are kept."""
    affiliation, availability = text.clean(affiliation), text.clean(availability)
    bio, phone = text.clean(bio, multiline=True), text.clean(phone)
    if len(affiliation) > AFFILIATION_MAX:
        e.add("affiliation", N_("%(max)d자 이내로 입력하세요."), max=AFFILIATION_MAX)
    if len(availability) > AVAILABILITY_MAX:
        e.add("availability", N_("%(max)d자 이내로 입력하세요."), max=AVAILABILITY_MAX)
    if len(bio) > BIO_MAX:
        e.add("bio", N_("%(max)d자 이내로 입력하세요."), max=BIO_MAX)
    if phone and not PHONE_RE.fullmatch(phone):
        e.add("phone", N_("전화번호 형식이 올바르지 않습니다."))
    wanted = set(theme_ids)
    themes = list(session.scalars(select(Theme).where(Theme.id.in_(wanted)))) if wanted else []
    held = {t.id for t in keep_themes or []}
    if len(themes) != len(wanted):
        e.add("theme_ids", N_("주제를 찾을 수 없습니다."))
    elif any(not t.active and t.id not in held for t in themes):
        e.add("theme_ids", N_("사용이 중지된 주제는 새로 고를 수 없습니다."))
    return ProfileFields(affiliation or None, bio, availability, phone or None, themes)


def register_instructor(
    session: Session,
    actor: User,
    *,
    username: str,
    name: str,
    external: bool,
    affiliation: str = "",
    bio: str = "",
    availability: str = "",
    phone: str = "",
    theme_ids: list[int] | None = None,
) -> InstructorProfile:
    """Add an instructor: office admins add either kind; schools and teachers register external ones."""
    require(actor.role in (Role.office_admin, Role.school_admin, Role.teacher))
    if not external:
        require(actor.role == Role.office_admin)
    e = Errors()
    username, name = username.strip().lower(), text.clean(name)
    if not USERNAME_RE.match(username):
        e.add("username", N_("아이디는 영문 소문자·숫자·._- 3~64자입니다."))
    elif session.scalar(select(User.id).where(User.username == username)) is not None:
        e.add("username", N_("이미 쓰이는 아이디입니다."))
    if not 1 <= text.visible_length(name) <= 80:
        e.add("name", N_("이름은 1~%(max)d자로 입력하세요."), max=80)
    fields = _profile_fields(
        session,
        e,
        affiliation=affiliation,
        bio=bio,
        availability=availability,
        phone=phone,
        theme_ids=theme_ids or [],
    )
    e.raise_if_any()
    user = User(
        username=username,
        name=name,
        role=Role.instructor,
        org_id=actor.office_id,
        office_id=actor.office_id,
        password_hash=None,
    )
    session.add(user)
    session.flush()
    profile = InstructorProfile(
        user_id=user.id,
        office_id=actor.office_id,
        external=external,
        affiliation=fields.affiliation,
        bio=fields.bio,
        availability=fields.availability,
        phone=fields.phone,
        registered_by_id=actor.id,
        themes=fields.themes,
    )
    session.add(profile)
    session.flush()
    return profile


def get_profile(session: Session, actor: User, profile_id: int) -> InstructorProfile:
    """An instructor of the actor's office for its admins to manage (NotFound outside the office)."""
    profile = session.get(InstructorProfile, profile_id)
    if profile is None or profile.office_id != actor.office_id:
        raise NotFound()
    require(may_manage_instructor(actor, profile.office_id))
    return profile


def update_instructor(
    session: Session,
    actor: User,
    profile: InstructorProfile,
    *,
    affiliation: str,
    bio: str,
    availability: str,
    phone: str,
    theme_ids: list[int],
) -> InstructorProfile:
    """The office's admins edit an instructor's affiliation, introduction, availability, phone and themes."""
    require(may_manage_instructor(actor, profile.office_id))
    e = Errors()
    fields = _profile_fields(
        session,
        e,
        affiliation=affiliation,
        bio=bio,
        availability=availability,
        phone=phone,
        theme_ids=theme_ids,
        keep_themes=list(profile.themes),
    )
    e.raise_if_any()
    profile.affiliation, profile.bio, profile.availability = (
        fields.affiliation,
        fields.bio,
        fields.availability,
    )
    profile.phone, profile.themes = fields.phone, fields.themes
    return profile


def set_active(session: Session, actor: User, profile: InstructorProfile, active: bool) -> InstructorProfile:
    """Deactivate (no new assignments; past and current courses keep them) or reactivate an instructor."""
    require(may_manage_instructor(actor, profile.office_id))
    profile.active = active
    return profile


def upcoming_courses(session: Session, profile: InstructorProfile) -> list[Course]:
    """Courses not yet finished that the instructor is assigned to (deactivating does not take them away)."""
    return list(
        session.scalars(
            select(Course)
            .where(Course.instructor_id == profile.user_id, Course.status.in_(UPCOMING))
            .order_by(Course.start_date, Course.id)
        )
    )


def assignable_profile(session: Session, user_id: int) -> InstructorProfile | None:
    """The pool profile of a person, if they have one."""
    return session.scalar(select(InstructorProfile).where(InstructorProfile.user_id == user_id))


def affiliation_of(session: Session, person: User) -> str:
    """Where an instructor comes from, as the course page shows it: the pool's affiliation, else their school."""
    profile = assignable_profile(session, person.id)
    if profile is not None and profile.affiliation:
        return profile.affiliation
    if person.role == Role.teacher:
        return person.org.name
    return ""
