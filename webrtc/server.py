"""The SFU's former all-in-one module, kept so that existing imports keep working.

The SFU is split by responsibility (as mediasoup and LiveKit are): ``signalling.py`` (the WebSocket
protocol, documented there, the HTTP endpoints and :func:`create_app`), ``sfu.py`` (the process: rooms and
lifecycle), ``router.py`` (who receives which track), ``peers.py`` (publisher and subscriber peer
connections), ``forward.py`` (the RTP/RTCP path), ``rtp.py`` (the RTP/VP8/H.264 parser), ``classroom.py``
(the class rules and their webhooks), ``recording.py`` / ``recorder.py``, ``metrics.py``, ``config.py`` and
``internals.py`` (every use of aiortc's, aioice's and pylibsrtp's private internals).
"""

from __future__ import annotations

from .config import SfuConfig
from .sfu import Sfu
from .signalling import SFU_KEY, create_app

__all__ = ["SFU_KEY", "Sfu", "SfuConfig", "create_app"]
