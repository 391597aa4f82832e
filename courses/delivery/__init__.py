"""Notices beyond the app: channels (e-mail over SMTP, the school messaging service's hook), the outbox that
notifications write into in their own transaction, and the per-person preferences that decide what goes where.

Nothing here sends inside a web request: the request writes outbox rows; the worker (an RQ job, the embedded
run's thread, or the sweep) claims each row under a lease and sends it (app.delivery runs that loop)."""
