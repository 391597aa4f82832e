"""Where the ffmpeg binary comes from: LMS_FFMPEG, then the PATH, then the static build in imageio-ffmpeg."""

from __future__ import annotations

import functools
import os
import shutil


class ToolMissing(RuntimeError):
    """No usable ffmpeg binary was found; the message says where we looked."""


@functools.cache
def ffmpeg_binary() -> str:
    """The path of the ffmpeg to run (cached; tests call ``ffmpeg_binary.cache_clear()`` or patch it)."""
    configured = os.environ.get("LMS_FFMPEG")
    if configured:
        found = shutil.which(configured)
        if found is None:
            # An explicit setting that points nowhere is a deployment mistake: say so instead of silently
            # falling back to another build with other codecs.
            raise ToolMissing(f"LMS_FFMPEG is set to {configured!r}, which is not an executable file")
        return found
    on_path = shutil.which("ffmpeg")
    if on_path is not None:
        return on_path
    try:
        import imageio_ffmpeg
    except ImportError:
        imageio_ffmpeg = None
    if imageio_ffmpeg is not None:
        try:
            exe = imageio_ffmpeg.get_ffmpeg_exe()
        except RuntimeError:
            exe = None
        if exe:
            return str(exe)
    raise ToolMissing(
        "ffmpeg was not found: set LMS_FFMPEG to its path, install it (apt-get install ffmpeg), "
        "or install the imageio-ffmpeg package, which ships a static build"
    )
