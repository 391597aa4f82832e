"""The office's instructor pool: profiles, themes, availability; external instructors registered by requesters."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from courses import text
from courses.errors import N_, Errors
from courses.models import InstructorProfile, Role, Theme, User
from courses.policy import require

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


def list_pool(session: Session, actor: User, *, theme_id: int | None = None) -> list[InstructorProfile]:
    """The actor's office's instructors, optionally those teaching one theme."""
    require(actor.role in (Role.office_admin, Role.school_admin, Role.teacher))
    stmt = (
        select(InstructorProfile)
        .join(User, User.id == InstructorProfile.user_id)
        .options(selectinload(InstructorProfile.themes), selectinload(InstructorProfile.user))
        .where(InstructorProfile.office_id == actor.office_id, User.active)
        .order_by(InstructorProfile.external, User.name)
    )
    if theme_id is not None:
        stmt = stmt.where(InstructorProfile.themes.any(Theme.id == theme_id))
    return list(session.scalars(stmt))


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
    if len(bio) > 2000 or len(affiliation) > 120 or len(availability) > 300:
        e.add("bio", N_("입력이 너무 깁니다."))
    if phone and not re.fullmatch(r"[0-9+\- ]{7,20}", phone):
        e.add("phone", N_("전화번호 형식이 올바르지 않습니다."))
    themes = list(session.scalars(select(Theme).where(Theme.id.in_(theme_ids or []))))
    if len(themes) != len(set(theme_ids or [])):
        e.add("theme_ids", N_("주제를 찾을 수 없습니다."))
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
        affiliation=affiliation.strip() or None,
        bio=bio.strip(),
        availability=availability.strip(),
        phone=phone.strip() or None,
        registered_by_id=actor.id,
        themes=themes,
    )
    session.add(profile)
    session.flush()
    return profile
