"""People: users with one role, class memberships, parent links and the instructor pool."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    Column,
    Enum,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from courses.db import Base, utcnow
from courses.models.org import Organisation, SchoolClass

if TYPE_CHECKING:
    from courses.models.catalog import Theme


class Role(enum.StrEnum):
    office_admin = "office_admin"
    school_admin = "school_admin"
    teacher = "teacher"
    instructor = "instructor"
    student = "student"
    parent = "parent"


class User(Base):
    """A person who logs in. `org_id` is their office (office admins, instructors) or school."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    sourced_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when an admin gave a one-time password: the person must choose their own before anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]  # set by each successful login (password checked)

    org: Mapped[Organisation] = relationship(foreign_keys=[org_id])

    # Flask-Login protocol, kept here so the domain user is the login user.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return str(self.id)

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class MemberRole(enum.StrEnum):
    student = "student"
    teacher = "teacher"


class ClassMembership(Base):
    """A student's place in a class, or a teacher teaching it (homeroom or subject)."""

    __tablename__ = "class_membership"

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("school_class.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    role: Mapped[MemberRole] = mapped_column(Enum(MemberRole, native_enum=False, length=20))
    number: Mapped[int | None]  # 번호 within the class

    school_class: Mapped[SchoolClass] = relationship()
    user: Mapped[User] = relationship()

    __table_args__ = (
        UniqueConstraint("class_id", "user_id"),
        Index("ix_class_membership_class_role", "class_id", "role"),
    )


class ParentLink(Base):
    """A parent (보호자) linked to a child."""

    __tablename__ = "parent_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)

    __table_args__ = (UniqueConstraint("parent_id", "child_id"),)


instructor_theme = Table(
    "instructor_theme",
    Base.metadata,
    Column("instructor_id", ForeignKey("instructor_profile.id", ondelete="CASCADE"), primary_key=True),
    Column("theme_id", ForeignKey("theme.id", ondelete="CASCADE"), primary_key=True),
)


class InstructorProfile(Base):
    """An instructor in an office's pool: office-provided or external, with themes and availability."""

    __tablename__ = "instructor_profile"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), unique=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    affiliation: Mapped[str | None] = mapped_column(String(120))
    bio: Mapped[str] = mapped_column(Text, default="")
    availability: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str | None] = mapped_column(String(30))
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # A deactivated instructor is offered for no new course; their past and current courses keep them.
    # Their login account is a separate matter (User.active).
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    themes: Mapped[list[Theme]] = relationship(secondary=instructor_theme)
