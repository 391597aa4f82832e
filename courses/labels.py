"""Labels the platform makes up itself — "5학년 1반", "3차시", a theme's name — in the reader's language.

Stored names stay Korean ("1반", "3차시" are what schools type and import); only the labels built from them
are translated when they are shown. The domain does not import Flask: the app installs its gettext here at
start-up (`install`), and without it (a script, a test of the domain) labels are Korean.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from courses.errors import N_

_CLASS_NUMBER = re.compile(r"^\s*(\d{1,3})\s*반\s*$")
_LESSON_NUMBER = re.compile(r"^\s*(\d{1,4})\s*차시\s*$")


class _Hooks:
    """What the app installs: gettext and the current locale (Korean until then)."""

    gettext: Callable[[str], str] = staticmethod(lambda s: s)
    locale: Callable[[], str] = staticmethod(lambda: "ko")


def install(gettext: Callable[[str], str], locale: Callable[[], str]) -> None:
    """Use the app's translations for generated labels."""
    _Hooks.gettext = staticmethod(gettext)
    _Hooks.locale = staticmethod(locale)


def _t(msgid: str, stored: bool, **params: object) -> str:
    return (msgid if stored else _Hooks.gettext(msgid)) % params


def grade_label(grade: int, *, stored: bool = False) -> str:
    """ "5학년" / "Grade 5". `stored`: for text kept in the database (history, notices), always Korean."""
    return _t(N_("%(grade)d학년"), stored, grade=grade)


def class_name(name: str, *, stored: bool = False) -> str:
    """A class's own name: "1반" / "Class 1"; a name that is not a number ("햇살반") is kept as it is."""
    m = _CLASS_NUMBER.match(name or "")
    return _t(N_("%(n)d반"), stored, n=int(m.group(1))) if m else (name or "")


def class_label(grade: int | None, name: str, *, stored: bool = False) -> str:
    """ "5학년 1반" / "Grade 5 Class 1"; just the name when the grade is unknown."""
    if not grade:
        return class_name(name, stored=stored)
    return _t(
        N_("%(grade)s %(name)s"),
        stored,
        grade=grade_label(grade, stored=stored),
        name=class_name(name, stored=stored),
    )


def lesson_title(title: str) -> str:
    """A lesson's title: the generated "3차시" becomes "Lesson 3" in English; a title someone wrote stays."""
    m = _LESSON_NUMBER.match(title or "")
    return _t(N_("%(n)d차시"), False, n=int(m.group(1))) if m else (title or "")


def theme_name(name: str, name_en: str | None) -> str:
    """A theme's name in the reader's language (its English name where one was given)."""
    return name_en if name_en and _Hooks.locale() == "en" else name
