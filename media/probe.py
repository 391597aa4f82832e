"""Content-based probing of uploaded videos with PyAV: what the file really is, never what its name says."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import av.stream

# Enough packets to get past the leading junk of a cut MPEG-TS or a decoder's frame delay, few enough
# that refusing a garbage file stays fast.
_MAX_PACKETS_FOR_FIRST_FRAME = 300
_STILL_IMAGE_FORMATS = frozenset({"image2", "image2pipe", "gif_pipe", "apng"})


class NotAVideo(ValueError):
    """The file is not a playable video; str(e) is a readable reason (English)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # "unreadable", "no_video", "undecodable", "too_long" or "zero_duration"


@dataclass(frozen=True)
class ProbeResult:
    """What a video is, as decoded: display size after rotation, duration, rates and codecs."""

    duration_s: float
    width: int  # display width, rotation applied
    height: int  # display height, rotation applied
    rotation: int  # clockwise degrees a player turns the stored picture: 0, 90, 180 or 270
    fps: float | None
    variable_frame_rate: bool
    has_audio: bool
    video_codec: str
    audio_codec: str | None
    format_name: str
    video_stream: int = 0  # container index of the probed video stream (not cover art), for `-map 0:N`

    @property
    def short_side(self) -> int:
        """The smaller of the display width and height."""
        return min(self.width, self.height)


def _is_attached_picture(stream: av.stream.Stream) -> bool:
    return bool(int(stream.disposition) & int(av.stream.Disposition.attached_pic))


def _rate(value: Fraction | int | float | None) -> float | None:
    if value is None:
        return None
    rate = float(value)
    # Containers without a frame rate report their time base (1000 for WebM, 90000 for TS): not a rate.
    return rate if 0 < rate <= 240 else None


def _rotation(frame: av.VideoFrame, stream: av.stream.Stream) -> int:
    """Clockwise rotation (the convention of the legacy `rotate` tag and of phones: portrait = 90)."""
    ccw = getattr(frame, "rotation", None)  # PyAV >= 14: the display matrix, counterclockwise degrees
    if isinstance(ccw, int | float) and not math.isnan(ccw) and ccw != 0:
        return int(round(-ccw / 90)) * 90 % 360
    tag = stream.metadata.get("rotate")  # older FFmpeg builds exported the matrix as a tag instead
    if tag:
        try:
            return int(round(float(tag) / 90)) * 90 % 360
        except ValueError:
            return 0
    return 0


def _duration(container: Any, stream: av.stream.Stream) -> float | None:
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / av.time_base
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    return None


def _scan_duration(path: str, stream_index: int) -> float | None:
    """Duration from the last packet's end, for files with no header duration (browser-recorded WebM)."""
    end: float | None = None
    with av.open(path, metadata_errors="ignore") as container:
        stream = container.streams[stream_index]
        start = stream.start_time or 0
        for packet in container.demux(stream):
            if packet.pts is None or packet.time_base is None:
                continue
            t = float((packet.pts - start + (packet.duration or 0)) * packet.time_base)
            end = t if end is None else max(end, t)
    return end


def _cut_short(container: Any, file_size: int) -> bool:
    """Whether the container's sample index points past the end of the file: an upload or copy cut short.

    MP4 with the index in front ("faststart") still opens and decodes its first frames when its tail is
    missing, so decoding one frame is not proof enough. Formats without a full index (TS, WebM cues) are
    not checked here; ffmpeg itself fails on them later.
    """
    for stream in container.streams:
        entries = stream.index_entries
        if entries is None or len(entries) == 0:
            continue
        last = entries[len(entries) - 1]
        if last.size > 0 and last.pos >= 0 and last.pos + last.size > file_size:
            return True
    return False


def probe(path: str | os.PathLike[str], *, max_duration_s: float = 6 * 3600) -> ProbeResult:
    """Open the file, find its video stream and decode one frame; raise NotAVideo if it is not a video."""
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise FileNotFoundError(name)
    try:
        container = av.open(name, metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise NotAVideo(
            "unreadable", "The file is not a video file ffmpeg can read, or it is damaged."
        ) from exc
    with container:
        fmt = container.format.name
        videos = [s for s in container.streams.video if not _is_attached_picture(s)]
        audios = list(container.streams.audio)
        if not videos or fmt in _STILL_IMAGE_FORMATS or fmt.endswith("_pipe"):
            what = "an audio file" if audios else "a file without video"
            if videos:
                what = "a still image"
            raise NotAVideo("no_video", f"The file has no video track: it is {what}.")
        stream = videos[0]
        stream.thread_type = "AUTO"

        frame: av.VideoFrame | None = None
        packets = 0
        try:
            for packet in container.demux(stream):
                packets += 1
                try:
                    frames = packet.decode()
                except av.FFmpegError:
                    frames = []  # a broken packet at the start is survivable; a file of them is not
                for decoded in frames:
                    if isinstance(decoded, av.VideoFrame):
                        frame = decoded
                        break
                if frame is not None or packets >= _MAX_PACKETS_FOR_FIRST_FRAME:
                    break
        except av.FFmpegError as exc:
            raise NotAVideo("unreadable", "The file is damaged: its video data cannot be read.") from exc
        if frame is None:
            raise NotAVideo(
                "undecodable", "The video track could not be decoded (damaged or unsupported codec)."
            )

        width, height = frame.width, frame.height
        rotation = _rotation(frame, stream)
        if rotation in (90, 270):
            width, height = height, width
        video_codec = stream.codec_context.name
        audio_codec = audios[0].codec_context.name if audios else None
        avg = _rate(stream.average_rate)
        guessed = _rate(stream.guessed_rate) or _rate(stream.base_rate)
        duration = _duration(container, stream)
        if duration is None:
            duration = _scan_duration(name, stream.index)
        if duration is None or duration <= 0:
            raise NotAVideo("zero_duration", "The video has no duration.")
        if duration > max_duration_s:
            hours = max_duration_s / 3600
            raise NotAVideo("too_long", f"The video is longer than the limit of {hours:g} hours.")
        if _cut_short(container, os.path.getsize(name)):
            raise NotAVideo("unreadable", "The file is incomplete: it was cut short during upload or copy.")
        # Read before the container closes: a closed stream's fields are freed memory.
        index, nb_frames = stream.index, stream.frames

    fps = avg
    if fps is None and nb_frames:
        fps = _rate(nb_frames / duration)
    vfr = fps is not None and guessed is not None and abs(fps - guessed) / max(fps, guessed) > 0.1
    return ProbeResult(
        duration_s=duration,
        width=width,
        height=height,
        rotation=rotation,
        fps=fps,
        variable_frame_rate=vfr,
        has_audio=bool(audios),
        video_codec=video_codec,
        audio_codec=audio_codec,
        format_name=fmt,
        video_stream=index,
    )
