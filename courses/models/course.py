"""A cross-curricular course from request to evaluation, with its targets, lessons and history."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, Enum, ForeignKey, Index, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from courses.db import Base, utcnow
from courses.labels import lesson_title
from courses.models.catalog import ContentElement, Delivery, Theme
from courses.models.notify import NoticeCategory
from courses.models.org import Organisation, SchoolClass
from courses.models.people import User


class CourseLevel(enum.StrEnum):
    office = "office"
    school = "school"
    class_ = "class"


class InstructorMode(enum.StrEnum):
    office = "office"  # office-provided instructor from the pool
    external = "external"  # external instructor registered by the requester
    school = "school"  # a teacher the school designates
    homeroom = "homeroom"  # the class's own teacher


class RecordingPolicy(enum.StrEnum):
    none = "none"
    teacher_only = "teacher_only"
    full = "full"


class CourseStatus(enum.StrEnum):
    submitted = "submitted"
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"
    running = "running"
    completed = "completed"
    confirmed = "confirmed"
    paid = "paid"
    evaluated = "evaluated"
    cancelled = "cancelled"


class Course(Base):
    """A requested cross-curricular course; the request and the course are one record with a status."""

    __tablename__ = "course"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[CourseLevel] = mapped_column(Enum(CourseLevel, native_enum=False, length=20))
    status: Mapped[CourseStatus] = mapped_column(
        Enum(CourseStatus, native_enum=False, length=20), default=CourseStatus.submitted, index=True
    )
    office_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("school_class.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id"))
    content_element_id: Mapped[int | None] = mapped_column(ForeignKey("content_element.id"))
    title: Mapped[str] = mapped_column(String(120))
    goals: Mapped[str] = mapped_column(Text)
    delivery: Mapped[Delivery] = mapped_column(Enum(Delivery, native_enum=False, length=20))
    lesson_count: Mapped[int]
    hours: Mapped[int]  # 차시: class periods the course is worth
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    schedule_note: Mapped[str] = mapped_column(String(300), default="")
    instructor_mode: Mapped[InstructorMode] = mapped_column(
        Enum(InstructorMode, native_enum=False, length=20)
    )
    instructor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    recording_policy: Mapped[RecordingPolicy] = mapped_column(
        Enum(RecordingPolicy, native_enum=False, length=20), default=RecordingPolicy.none
    )
    # A live lesson is attended once the student was present for this share of its scheduled time.
    completion_threshold_pct: Mapped[int] = mapped_column(default=85)
    # A recorded lesson is complete once this share of its video was watched (union of played intervals).
    watch_threshold_pct: Mapped[int] = mapped_column(default=90, server_default="90")
    # Until a student first completes a lesson, the player does not seek past the furthest point watched.
    seek_lock: Mapped[bool] = mapped_column(default=False, server_default=false())
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    office: Mapped[Organisation] = relationship(foreign_keys=[office_id])
    school: Mapped[Organisation | None] = relationship(foreign_keys=[school_id])
    school_class: Mapped[SchoolClass | None] = relationship(foreign_keys=[class_id])
    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    instructor: Mapped[User | None] = relationship(foreign_keys=[instructor_id])
    theme: Mapped[Theme] = relationship()
    content_element: Mapped[ContentElement | None] = relationship()
    targets: Mapped[list[CourseTarget]] = relationship(
        back_populates="course", cascade="all, delete-orphan", order_by="CourseTarget.id"
    )
    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="course", cascade="all, delete-orphan", order_by="Lesson.number"
    )
    materials: Mapped[list[Material]] = relationship(cascade="all, delete-orphan", order_by="Material.id")
    history: Mapped[list[CourseEvent]] = relationship(cascade="all, delete-orphan", order_by="CourseEvent.id")

    __table_args__ = (Index("ix_course_office_status", "office_id", "status"),)


class CourseTarget(Base):
    """Who a course is for: a school, optionally narrowed to a grade or one class."""

    __tablename__ = "course_target"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    grade: Mapped[int | None]
    class_id: Mapped[int | None] = mapped_column(ForeignKey("school_class.id"))

    course: Mapped[Course] = relationship(back_populates="targets")
    school: Mapped[Organisation] = relationship()
    school_class: Mapped[SchoolClass | None] = relationship()


class LessonKind(enum.StrEnum):
    live = "live"
    recorded = "recorded"


class Lesson(Base):
    """One lesson (차시 group) of a course: a live session or a recorded lecture."""

    __tablename__ = "lesson"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(120))
    kind: Mapped[LessonKind] = mapped_column(Enum(LessonKind, native_enum=False, length=20))
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    description: Mapped[str] = mapped_column(Text, default="")
    # The class periods (차시) this lesson is worth towards the course's credit hours.
    credit_hours: Mapped[int] = mapped_column(default=1, server_default="1")
    # Whether completing the course requires this lesson (an optional lesson still shows progress).
    required: Mapped[bool] = mapped_column(default=True, server_default=true())

    course: Mapped[Course] = relationship(back_populates="lessons")

    # the reminder scan looks for live lessons starting soon
    __table_args__ = (UniqueConstraint("course_id", "number"), Index("ix_lesson_starts_at", "starts_at"))

    @property
    def label(self) -> str:
        """The title as shown: a generated "3차시" in the reader's language, a written title as it is."""
        return lesson_title(self.title)


class Material(Base):
    """A course material: a link or a stored file."""

    __tablename__ = "material"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    url: Mapped[str | None] = mapped_column(String(500))
    storage_key: Mapped[str | None] = mapped_column(String(300))
    added_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Enrolment(Base):
    """A student's registration in a course."""

    __tablename__ = "enrolment"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_accessed_at: Mapped[datetime | None]

    course: Mapped[Course] = relationship(foreign_keys=[course_id])
    student: Mapped[User] = relationship(foreign_keys=[student_id])

    __table_args__ = (UniqueConstraint("course_id", "student_id"),)


class EventKind(enum.StrEnum):
    status = "status"
    enrolment = "enrolment"
    instructor = "instructor"
    edit = "edit"
    completion = "completion"  # a school confirmed or un-confirmed its students' completion


class CourseEvent(Base):
    """History: who changed what on a course, when, from → to."""

    __tablename__ = "course_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[EventKind] = mapped_column(Enum(EventKind, native_enum=False, length=20))
    from_value: Mapped[str | None] = mapped_column(String(40))
    to_value: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship()


class Notification(Base):
    """An in-app notification (알림) for one user."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(1000), default="")
    link: Mapped[str | None] = mapped_column(String(300))
    category: Mapped[NoticeCategory] = mapped_column(
        Enum(NoticeCategory, native_enum=False, length=20),
        default=NoticeCategory.other,
        server_default=NoticeCategory.other.value,
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_notification_user_read", "user_id", "read_at"),)
