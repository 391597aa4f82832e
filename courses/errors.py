"""Domain errors. Messages are Korean msgids with %(name)s params; the web layer translates them."""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Mark a message for extraction; translation happens where it is shown."""
    return message


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status = 400

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


class NotFound(DomainError):
    """Missing, or outside the actor's scope: both look the same so nothing leaks."""

    status = 404

    def __init__(self, message: str = N_("찾을 수 없습니다."), **params: Any) -> None:
        super().__init__(message, **params)


class Forbidden(DomainError):
    """Visible to the actor, but the action is not theirs to take."""

    status = 403

    def __init__(self, message: str = N_("권한이 없습니다."), **params: Any) -> None:
        super().__init__(message, **params)


class ValidationError(DomainError):
    """One or more fields are invalid; `errors` maps field name → message (msgid, params)."""

    status = 422

    def __init__(self, errors: dict[str, tuple[str, dict[str, Any]]]) -> None:
        super().__init__(N_("입력값을 확인해 주세요."))
        self.errors = errors


class InvalidTransition(DomainError):
    """The course's status does not allow the requested change."""

    status = 409


class Conflict(DomainError):
    """The change would break something that depends on the record (e.g. deleting a theme courses use)."""

    status = 409


class Errors:
    """Collects field errors, then raises them together."""

    def __init__(self) -> None:
        self.errors: dict[str, tuple[str, dict[str, Any]]] = {}

    def add(self, field: str, message: str, **params: Any) -> None:
        self.errors.setdefault(field, (message, params))

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)
