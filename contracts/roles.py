"""Participant roles, what each may publish, and the recording modes a teacher's token can carry."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """A participant's role in a live class (the ``role`` claim of a join token)."""

    teacher = "teacher"
    student = "student"
    admin = "admin"  # an administrator in scope: runs and moderates the class like a teacher

    @property
    def runs_class(self) -> bool:
        """Teachers and admins run the class (start, stage, mute, remove, end)."""
        return self in RUNS_CLASS


RUNS_CLASS = frozenset({Role.teacher, Role.admin})


class PublishKind(enum.StrEnum):
    """What a participant may send: a microphone, a camera or a screen share."""

    audio = "audio"
    video = "video"
    screen = "screen"


# What a student brought on stage may publish; students never publish from their token alone.
STAGE_KINDS = frozenset({PublishKind.audio, PublishKind.video})


def token_publish_rights(role: Role) -> tuple[PublishKind, ...]:
    """The ``publish`` claim the app puts in a join token for this role."""
    return tuple(PublishKind) if role.runs_class else ()


class RecordMode(enum.StrEnum):
    """The ``record`` claim of a teacher's token: what the SFU records once the teacher starts the class."""

    none = ""  # not recorded (the claim is left out of the token)
    teacher = "teacher"  # the teacher's media only
    stage = "stage"  # the teacher and every student brought on stage

    def records(self, runs_class: bool) -> bool:
        """Whether a publisher's tracks belong in a recording made in this mode."""
        return self is not RecordMode.none and (runs_class or self is RecordMode.stage)
