"""Running ffmpeg for a lecture video: HLS ladder, poster and sprite, with progress and readable errors."""

from __future__ import annotations

import collections
import re
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from media import ffmpeg as args_for
from media.ffmpeg import HlsPlan
from media.probe import ProbeResult, probe
from media.tools import ffmpeg_binary

STDERR_LINES_KEPT = 200
SUMMARY_MAX_CHARS = 600
HLS_SHARE = 0.95  # the ladder is nearly all of the work; poster and sprite take the rest
POSTER_AT_S = 10.0
SPRITE_EVERY_S = 10
SPRITE_COLUMNS = 10
SPRITE_TILE_W = 160


class FfmpegError(RuntimeError):
    """ffmpeg failed; ``summary`` (also str(e)) is a short readable reason, ``log`` the kept stderr tail."""

    def __init__(self, summary: str, *, returncode: int | None = None, log: str = "") -> None:
        super().__init__(summary)
        self.summary = summary
        self.returncode = returncode
        self.log = log


def _progress_time_s(key: str, value: str) -> float | None:
    if value in ("", "N/A") or value.startswith("-"):
        return None  # before the first packet ffmpeg prints N/A or a huge negative placeholder
    try:
        if key in ("out_time_us", "out_time_ms"):
            return int(value) / 1_000_000  # out_time_ms is microseconds too (a long-standing ffmpeg quirk)
        h, m, s = value.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        return None


def parse_progress(lines: Iterable[str], duration_s: float) -> Iterator[float]:
    """Fractions 0..1 from ffmpeg ``-progress`` key=value blocks, one per block, never decreasing."""
    done = 0.0
    block_time: float | None = None
    for raw in lines:
        key, sep, value = raw.strip().partition("=")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key in ("out_time_us", "out_time_ms", "out_time"):
            t = _progress_time_s(key, value)
            # out_time_us is the most precise; a later, coarser key of the same block must not override it.
            if t is not None and (block_time is None or key == "out_time_us"):
                block_time = t
        elif key == "progress":
            if value == "end":
                done = 1.0
            elif block_time is not None and duration_s > 0:
                done = max(done, min(1.0, max(0.0, block_time / duration_s)))
            block_time = None
            yield done


_NOISE = re.compile(
    r"^(Press \[q\]|Conversion failed!|Exiting normally|frame=\s*\d|size=\s*\S+ time=|video:\S+ audio:|"
    r"\s*Last message repeated|\s*$)"
)
_ADDRESS = re.compile(r" @ 0x[0-9a-fA-F]+")


def summarise_stderr(lines: Iterable[str], returncode: int | None) -> str:
    """A one-paragraph reason: the last few meaningful stderr lines, context pointers stripped."""
    meaningful: list[str] = []
    for line in lines:
        text = _ADDRESS.sub("", line.rstrip())
        if _NOISE.match(text):
            continue
        if text not in meaningful[-3:]:
            meaningful.append(text)
    head = "ffmpeg failed" if returncode is None else f"ffmpeg failed (exit {returncode})"
    tail = "; ".join(s.strip() for s in meaningful[-3:]) or "no error message"
    summary = f"{head}: {tail}"
    return summary if len(summary) <= SUMMARY_MAX_CHARS else summary[: SUMMARY_MAX_CHARS - 1] + "…"


def _drain(stream: IO[str], sink: collections.deque[str]) -> None:
    for line in stream:
        sink.append(line)


def run_ffmpeg(
    args: list[str],
    *,
    duration_s: float,
    on_progress: Callable[[float], None] | None = None,
    timeout_s: float | None = None,
) -> None:
    """Run ffmpeg, feeding ``-progress pipe:1`` output to ``on_progress``; raise FfmpegError on failure."""
    stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise FfmpegError(f"ffmpeg could not be started: {exc}") from exc
    assert proc.stdout is not None and proc.stderr is not None
    # stderr on its own thread: a chatty ffmpeg must never block on a full pipe while we read stdout.
    drainer = threading.Thread(target=_drain, args=(proc.stderr, stderr_tail), daemon=True)
    drainer.start()
    timed_out = threading.Event()

    def _kill_on_timeout() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout_s, _kill_on_timeout) if timeout_s is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        last = -1.0
        for fraction in parse_progress(proc.stdout, duration_s):
            if on_progress is not None and fraction > last:
                on_progress(fraction)
                last = fraction
        returncode = proc.wait()
    finally:
        if timer is not None:
            timer.cancel()
        if proc.poll() is None:  # the callback raised: do not leave an encoder running
            proc.kill()
            proc.wait()
        drainer.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
    log = "".join(stderr_tail)
    if timed_out.is_set():
        raise FfmpegError(
            f"ffmpeg timed out after {timeout_s:g} s and was stopped", returncode=returncode, log=log
        )
    if returncode != 0:
        raise FfmpegError(summarise_stderr(stderr_tail, returncode), returncode=returncode, log=log)


@dataclass(frozen=True)
class TranscodeResult:
    """What transcode wrote under ``out_dir`` (paths relative to it) and what the player needs to know."""

    probe: ProbeResult
    plan: HlsPlan
    out_dir: Path
    files: list[Path]
    poster: str
    sprite: str
    sprite_vtt: str
    renditions: list[dict[str, Any]]


_STREAM_INF = re.compile(r"^#EXT-X-STREAM-INF:(.*)$")
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def read_master(text: str) -> list[tuple[dict[str, str], str]]:
    """The (attributes, uri) of each variant in a master playlist."""
    variants: list[tuple[dict[str, str], str]] = []
    pending: dict[str, str] | None = None
    for line in text.splitlines():
        line = line.strip()
        match = _STREAM_INF.match(line)
        if match:
            pending = {k: v.strip('"') for k, v in _ATTRIBUTE.findall(match.group(1))}
        elif pending is not None and line and not line.startswith("#"):
            variants.append((pending, line))
            pending = None
    return variants


def _normalise_init_segments(out: Path, plan: HlsPlan) -> None:
    # ffmpeg names the init segment init_<i>.mp4 as soon as there is more than one variant, whatever the
    # option says; rename it to the plan's v{i}/init.mp4 and point the playlist's EXT-X-MAP at it.
    for i in range(len(plan.rungs)):
        wanted = out / plan.init_segment(i)
        if wanted.exists():
            continue
        found = sorted(wanted.parent.glob("init*.mp4"))
        if len(found) != 1:
            raise FfmpegError(f"ffmpeg wrote no init segment for rendition {i}")
        found[0].rename(wanted)
        playlist = out / plan.variant_playlist(i)
        text = playlist.read_text(encoding="utf-8")
        playlist.write_text(text.replace(f'URI="{found[0].name}"', f'URI="{wanted.name}"'), encoding="utf-8")


def _renditions(out: Path, plan: HlsPlan, source: ProbeResult) -> list[dict[str, Any]]:
    listed = {uri: attrs for attrs, uri in read_master((out / plan.master).read_text(encoding="utf-8"))}
    renditions: list[dict[str, Any]] = []
    for i, rung in enumerate(plan.rungs):
        attrs = listed.get(plan.variant_playlist(i), {})
        width, height = args_for.rung_size(source, rung)
        if "x" in attrs.get("RESOLUTION", ""):
            w, h = attrs["RESOLUTION"].split("x", 1)
            width, height = int(w), int(h)
        bandwidth = (
            int(attrs.get("BANDWIDTH", 0)) or (rung.maxrate_kbps + (128 if source.has_audio else 0)) * 1000
        )
        renditions.append({"name": rung.name, "width": width, "height": height, "bandwidth": bandwidth})
    return renditions


def _image_size(path: Path) -> tuple[int, int]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.width, stream.codec_context.height


def transcode(
    source: str | Path,
    out_dir: str | Path,
    *,
    on_progress: Callable[[float], None] | None = None,
    probe_result: ProbeResult | None = None,
    segment_s: int = 2,
    threads: int = 0,
) -> TranscodeResult:
    """Probe, encode the HLS ladder, then the poster and the thumbnail sprite, all under ``out_dir``."""
    src = str(source)
    info = probe_result if probe_result is not None else probe(src)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = args_for.plan_for(info, segment_s)
    exe = ffmpeg_binary()

    def report(fraction: float) -> None:
        if on_progress is not None:
            on_progress(fraction)

    report(0.0)
    run_ffmpeg(
        args_for.hls_args(exe, src, str(out), info, plan, threads=threads),
        duration_s=info.duration_s,
        on_progress=lambda f: report(f * HLS_SHARE),
    )
    _normalise_init_segments(out, plan)

    poster, sprite, vtt = "poster.jpg", "sprite.jpg", "sprite.vtt"
    run_ffmpeg(args_for.poster_args(exe, src, str(out / poster), info, at_s=POSTER_AT_S), duration_s=0)
    report(0.97)
    run_ffmpeg(
        args_for.sprite_args(
            exe,
            src,
            str(out / sprite),
            info,
            every_s=SPRITE_EVERY_S,
            columns=SPRITE_COLUMNS,
            tile_w=SPRITE_TILE_W,
        ),
        duration_s=0,
    )
    # The tile height is read back from the sheet, so the cues match what ffmpeg drew even where its
    # rounding of an odd aspect ratio differs from ours.
    _, rows = args_for.sprite_grid(info.duration_s, SPRITE_EVERY_S, SPRITE_COLUMNS)
    tile_h = _image_size(out / sprite)[1] // rows
    (out / vtt).write_text(
        args_for.sprite_vtt(info.duration_s, SPRITE_EVERY_S, SPRITE_COLUMNS, SPRITE_TILE_W, tile_h, sprite),
        encoding="utf-8",
    )

    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    result = TranscodeResult(
        probe=info,
        plan=plan,
        out_dir=out,
        files=files,
        poster=poster,
        sprite=sprite,
        sprite_vtt=vtt,
        renditions=_renditions(out, plan, info),
    )
    report(1.0)
    return result
