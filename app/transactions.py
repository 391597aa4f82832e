"""One transaction per request, committed at the boundary: views and API handlers never commit.

A response below 400 commits what the request wrote; an error response, or a view that called
`discard()` (it shows a form again, or redirects with a message, after a refused change), commits nothing:
Flask-SQLAlchemy removes the session at teardown, which rolls the transaction back (exceptions too).
"""

from __future__ import annotations

from flask import Flask, Response, g

from app import jobs
from app.extensions import dbs


def discard() -> None:
    """Undo what this request wrote so far, and commit nothing at its end."""
    dbs().rollback()
    g.discard_changes = True


def init_app(app: Flask) -> None:
    """Commit at the end of every successful request."""

    @app.after_request
    def commit_at_boundary(response: Response) -> Response:
        if response.status_code < 400 and not g.get("discard_changes"):
            dbs().commit()
            jobs.flush()  # a worker must find what it is told about
        # Otherwise nothing is committed: removing the session at teardown rolls the transaction back.
        return response
