"""Recording reads and exports of students' records from a view (who, what, when, from where)."""

from __future__ import annotations

from flask import request

from app.auth import actor
from app.extensions import dbs
from courses.audit import record_access
from courses.models import AccessAction


def audit(action: AccessAction, subject_type: str, subject_id: int | None, detail: str = "") -> None:
    """Log this request's read or export by the current user; kept only if the request succeeds."""
    record_access(
        dbs(), actor(), action, subject_type, subject_id, ip=request.remote_addr or "", detail=detail
    )
