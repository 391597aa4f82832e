"""The SFU's former all-in-one module, kept so that existing imports keep working.

The code now lives by responsibility (the map is in ``webrtc/__init__.py``): the protocol and
:func:`create_app` in ``signalling.py``, :class:`Sfu` in ``sfu.py``, :class:`SfuConfig` in ``config.py``.
"""

from __future__ import annotations

from .config import SfuConfig
from .sfu import Sfu
from .signalling import SFU_KEY, create_app

__all__ = ["SFU_KEY", "Sfu", "SfuConfig", "create_app"]
