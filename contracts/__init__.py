"""What the app and the SFU agree on: join-token claims, roles, publish rights, recording modes, room names,
recording object keys, webhook event types and signing.

Both sides import this package, so it depends on the standard library and PyJWT only; the app (``app/``,
``courses/``) never imports ``webrtc/``, and ``webrtc/`` never imports the app (``tests/unit/test_layering.py``).
"""
