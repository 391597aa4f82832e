"""Pure ffmpeg argument building for the lecture-video pipeline: the HLS ladder, the poster and the sprite.

Nothing here runs a process or touches the filesystem, so every decision is unit-tested without ffmpeg.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from media.probe import ProbeResult


@dataclass(frozen=True)
class Rung:
    """One rendition of the ladder: its short side in pixels and its H.264 rate control."""

    name: str
    short_side: int
    crf: int
    maxrate_kbps: int
    bufsize_kbps: int


# Capped CRF: lecture slides and screen captures compress far below the cap, camera footage hits it.
# The buffer is two seconds' worth of the cap, i.e. one segment at the default segment length.
LADDER: tuple[Rung, ...] = (
    Rung("1080p", 1080, 23, 5000, 10000),
    Rung("720p", 720, 23, 2800, 5600),
    Rung("480p", 480, 24, 1400, 2800),
    Rung("360p", 360, 25, 800, 1600),
)

MAX_FPS = 30.0  # lectures gain nothing from 50/60 fps and it doubles the encode time on small servers
AUDIO_ARGS = ("-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000")
POSTER_MAX_WIDTH = 1280


@dataclass(frozen=True)
class HlsPlan:
    """The renditions and file layout of one HLS package; paths are relative to the output directory."""

    rungs: list[Rung]
    segment_s: int
    master: str = "master.m3u8"
    variant_playlist_pattern: str = field(default="v{i}/index.m3u8")
    init_pattern: str = field(default="v{i}/init.mp4")
    segment_pattern: str = field(default="v{i}/seg_%05d.m4s")

    def variant_playlist(self, i: int) -> str:
        """The media playlist of rung ``i``, e.g. ``v0/index.m3u8``."""
        return self.variant_playlist_pattern.format(i=i)

    def init_segment(self, i: int) -> str:
        """The fMP4 initialisation segment of rung ``i``, e.g. ``v0/init.mp4``."""
        return self.init_pattern.format(i=i)

    def segment_template(self, i: int) -> str:
        """The printf-style segment name of rung ``i``, e.g. ``v0/seg_%05d.m4s``."""
        return self.segment_pattern.format(i=i)


def _even_down(n: int) -> int:
    return max(2, n - n % 2)


def _rescale_even(a: int, b: int, c: int) -> int:
    # What ffmpeg's scale filter does for a "-2" side: av_rescale(a, b, 2c) * 2, rounding half up.
    return max(2, (a * b + c) // (2 * c) * 2)


def ladder_for(probe: ProbeResult) -> list[Rung]:
    """The rungs to encode: those not larger than the source's short side, or one at the source's size."""
    short = probe.short_side
    rungs = [r for r in LADDER if r.short_side <= short]
    if rungs:
        return rungs
    # Smaller than the smallest rung: keep the source's size (never upscale) with the smallest rung's caps.
    base = LADDER[-1]
    side = _even_down(short)
    return [Rung(f"{side}p", side, base.crf, base.maxrate_kbps, base.bufsize_kbps)]


def plan_for(probe: ProbeResult, segment_s: int = 2) -> HlsPlan:
    """The HLS plan for a probed source: its ladder and the segment length."""
    if segment_s < 1:
        raise ValueError("segment_s must be at least 1 second")
    return HlsPlan(rungs=ladder_for(probe), segment_s=segment_s)


def rung_size(probe: ProbeResult, rung: Rung) -> tuple[int, int]:
    """The (width, height) ffmpeg's scale filter gives the rung for this source (short side = rung's)."""
    w, h, s = probe.width, probe.height, rung.short_side
    if w >= h:
        return _rescale_even(s, w, h), s
    return s, _rescale_even(s, h, w)


def output_fps(probe: ProbeResult) -> Fraction | None:
    """The frame rate to force with ``-r``, or None to keep the source's (known, constant, <= 30 fps).

    ``-fps_mode cfr`` always makes the output constant-rate, but at the rate of the filter graph, which for
    variable-rate input (phones, browser recordings) is the container's guess and can be absurd (WebM
    reports 1000). So ``-r`` is passed when the rate is unknown, variable, or above 30 fps; high rates are
    divided by a whole number (60 -> 30, 59.94 -> 29.97, 50 -> 25) so that motion stays smooth.
    """
    fps = probe.fps
    if fps is None or fps <= 0:
        return Fraction(30)
    if fps <= MAX_FPS and not probe.variable_frame_rate:
        return None
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= MAX_FPS:
        return rate
    divided = rate / math.ceil(rate / Fraction(MAX_FPS))
    return divided if divided >= 24 else Fraction(30)


def _rate_arg(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def _scale_expr(short_side: int) -> str:
    # Orientation-agnostic: the short side becomes `short_side`, the long side keeps the aspect, rounded
    # to even (yuv420p needs even sizes). Frames arrive already autorotated, so iw/ih are display sizes.
    s = short_side
    return f"scale=w='if(gte(iw,ih),-2,{s})':h='if(gte(iw,ih),{s},-2)'"


def _common_head(ffmpeg: str, progress: str | None) -> list[str]:
    head = [ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error", "-y"]
    if progress is not None:
        head += ["-progress", progress]
    return head


def hls_args(
    ffmpeg: str,
    source: str,
    out_dir: str,
    probe: ProbeResult,
    plan: HlsPlan,
    *,
    threads: int = 0,
    progress: str = "pipe:1",
) -> list[str]:
    """One ffmpeg run that encodes every rung of the plan into an fMP4 HLS package under ``out_dir``."""
    n = len(plan.rungs)
    if n == 0:
        raise ValueError("the plan has no rungs")
    out = out_dir.rstrip("/") or "/"
    splits = "".join(f"[s{i}]" for i in range(n))
    graph = [f"[0:{probe.video_stream}]split={n}{splits}"]
    graph += [f"[s{i}]{_scale_expr(r.short_side)},setsar=1[v{i}]" for i, r in enumerate(plan.rungs)]

    args = _common_head(ffmpeg, progress)
    args += ["-i", source, "-filter_complex", ";".join(graph)]
    for i in range(n):
        args += ["-map", f"[v{i}]"]
    if probe.has_audio:
        # The same source audio in every variant: each rung is a self-contained muxed stream.
        for _ in range(n):
            args += ["-map", "0:a:0"]

    args += ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p"]
    for i, r in enumerate(plan.rungs):
        args += [f"-crf:v:{i}", str(r.crf)]
        args += [f"-maxrate:v:{i}", f"{r.maxrate_kbps}k", f"-bufsize:v:{i}", f"{r.bufsize_kbps}k"]

    forced = output_fps(probe)
    rate = float(forced) if forced is not None else (probe.fps or MAX_FPS)
    # Keyframes at the same instants in every rung, so a player can switch rungs at any segment boundary:
    # forced at each segment start, no scene-cut keyframes, and a GOP cap of one segment.
    args += ["-force_key_frames", f"expr:gte(t,n_forced*{plan.segment_s})", "-sc_threshold", "0"]
    args += ["-g", str(max(1, math.ceil(rate * plan.segment_s)))]
    args += ["-fps_mode", "cfr"]
    if forced is not None:
        args += ["-r", _rate_arg(forced)]
    if probe.has_audio:
        args += list(AUDIO_ARGS)
    else:
        args += ["-an"]
    args += ["-sn", "-dn"]
    if threads > 0:
        args += ["-threads", str(threads)]

    if probe.has_audio:
        stream_map = " ".join(f"v:{i},a:{i}" for i in range(n))
    else:
        stream_map = " ".join(f"v:{i}" for i in range(n))
    # No `name:` in the stream map: ffmpeg would substitute it for %v and break the v{i}/ layout.
    args += [
        "-f",
        "hls",
        "-hls_time",
        str(plan.segment_s),
        "-hls_playlist_type",
        "vod",
        "-hls_segment_type",
        "fmp4",
        "-hls_fmp4_init_filename",
        "init.mp4",
        "-hls_flags",
        "independent_segments",
        "-hls_segment_filename",
        f"{out}/v%v/seg_%05d.m4s",
        "-master_pl_name",
        plan.master,
        "-var_stream_map",
        stream_map,
        f"{out}/v%v/index.m3u8",
    ]
    return args


def poster_time(probe: ProbeResult, at_s: float) -> float:
    """Where the poster frame is taken: ``at_s``, but never past the middle of a short clip."""
    return max(0.0, min(at_s, probe.duration_s / 2))


def poster_args(ffmpeg: str, source: str, out_path: str, probe: ProbeResult, *, at_s: float) -> list[str]:
    """One JPEG frame at min(at_s, duration/2), at most 1280 px wide."""
    args = _common_head(ffmpeg, None)
    args += ["-ss", f"{poster_time(probe, at_s):.3f}", "-i", source, "-map", f"0:{probe.video_stream}"]
    args += ["-vf", f"scale=w='min({POSTER_MAX_WIDTH},iw)':h=-2", "-frames:v", "1", "-q:v", "3"]
    args += ["-an", "-sn", "-dn", "-update", "1", out_path]
    return args


def sprite_count(duration_s: float, every_s: int) -> int:
    """How many thumbnails a sprite has: one per started ``every_s`` seconds, at least one."""
    if every_s < 1:
        raise ValueError("every_s must be at least 1 second")
    return max(1, math.ceil(duration_s / every_s - 1e-9))


def sprite_grid(duration_s: float, every_s: int, columns: int) -> tuple[int, int]:
    """The (columns, rows) of the sprite sheet; a short clip gets fewer columns than asked."""
    if columns < 1:
        raise ValueError("columns must be at least 1")
    n = sprite_count(duration_s, every_s)
    cols = min(columns, n)
    return cols, math.ceil(n / cols)


def sprite_tile_height(probe: ProbeResult, tile_w: int) -> int:
    """The height ffmpeg gives a tile scaled to ``tile_w`` wide (``scale=tile_w:-2``)."""
    return _rescale_even(tile_w, probe.height, probe.width)


def sprite_args(
    ffmpeg: str,
    source: str,
    out_path: str,
    probe: ProbeResult,
    *,
    every_s: int,
    columns: int,
    tile_w: int = 160,
) -> list[str]:
    """One JPEG tile sheet with a thumbnail every ``every_s`` seconds, ``columns`` per row."""
    cols, rows = sprite_grid(probe.duration_s, every_s, columns)
    # The first frame of each every_s window, rather than fps=1/every_s: the fps filter emits nothing for
    # a clip shorter than about every_s/2, and floor() keeps picks from drifting over a long lecture.
    pick = f"select='isnan(prev_selected_t)+gte(floor(t/{every_s})-floor(prev_selected_t/{every_s}),1)'"
    vf = f"{pick},scale={tile_w}:-2,tile={cols}x{rows}"
    args = _common_head(ffmpeg, None)
    args += ["-i", source, "-map", f"0:{probe.video_stream}", "-vf", vf, "-frames:v", "1", "-q:v", "5"]
    args += ["-an", "-sn", "-dn", "-update", "1", out_path]
    return args


def _vtt_time(t: float) -> str:
    ms = round(t * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def sprite_vtt(
    duration_s: float, every_s: int, columns: int, tile_w: int, tile_h: int, sprite_url: str
) -> str:
    """WebVTT thumbnail track: one cue per tile, pointing into the sprite with a ``#xywh=`` fragment."""
    n = sprite_count(duration_s, every_s)
    cols = min(columns, n)
    lines = ["WEBVTT", ""]
    for i in range(n):
        start = i * every_s
        end = min((i + 1) * every_s, duration_s) if duration_s > start else start + every_s
        x, y = (i % cols) * tile_w, (i // cols) * tile_h
        lines += [
            f"{_vtt_time(start)} --> {_vtt_time(end)}",
            f"{sprite_url}#xywh={x},{y},{tile_w},{tile_h}",
            "",
        ]
    return "\n".join(lines)


def lavfi_clip_args(
    ffmpeg: str,
    out_path: str,
    *,
    seconds: float,
    width: int = 1280,
    height: int = 720,
    rate: int = 25,
    audio: bool = True,
    progress: str | None = None,
) -> list[str]:
    """A generated lecture-like clip (testsrc2 picture, a sine tone): the demo lesson, benchmarks and tests."""
    args = _common_head(ffmpeg, progress)
    args += ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={rate}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    args += ["-t", f"{seconds:g}", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    args += ["-g", str(rate * 2)]
    if audio:
        args += ["-c:a", "aac", "-b:a", "96k"]
    return [*args, "-movflags", "+faststart", out_path]
