"""What can be requested: cross-curricular themes (범교과 학습 주제) and their content elements."""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from courses.db import Base
from courses.labels import theme_name


class Delivery(enum.StrEnum):
    live = "live"
    recorded = "recorded"
    blended = "blended"


class Theme(Base):
    """A cross-curricular theme; seeded from the national list, editable by office admins."""

    __tablename__ = "theme"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    elements: Mapped[list[ContentElement]] = relationship(
        back_populates="theme", order_by="ContentElement.position", cascade="all, delete-orphan"
    )

    @property
    def label(self) -> str:
        """The theme's name in the reader's language."""
        return theme_name(self.name, self.name_en)


class ContentElement(Base):
    """A content element (내용 요소) within a theme, e.g. 생활안전 under 안전·건강."""

    __tablename__ = "content_element"

    id: Mapped[int] = mapped_column(primary_key=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(default=0)

    theme: Mapped[Theme] = relationship(back_populates="elements")
