"""이음 live-class SFU: signalling, class rules, webhooks and the RTP forwarding path.

What the SFU agrees on with the app (join tokens, roles, webhooks) is in ``contracts``; the app never
imports this package, and this package never imports the app (``app``, ``courses``, Flask, SQLAlchemy).
"""
