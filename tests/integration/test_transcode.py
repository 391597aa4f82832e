"""The media pipeline against a real ffmpeg on tiny generated clips: probe, HLS ladder, poster, sprite."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from media import ffmpeg as ffargs
from media.ffmpeg import Rung
from media.probe import NotAVideo, ProbeResult, probe
from media.tools import ToolMissing, ffmpeg_binary
from media.transcode import FfmpegError, TranscodeResult, read_master, run_ffmpeg, transcode

try:
    FFMPEG = ffmpeg_binary()
except ToolMissing as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"no ffmpeg binary: {exc}", allow_module_level=True)

LAVFI_VIDEO = ["-f", "lavfi", "-i"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def _ffmpeg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _make(path: Path, *args: str) -> Path:
    done = _ffmpeg(*args, str(path))
    assert done.returncode == 0, done.stderr
    return path


def _rotate(src: Path, dst: Path) -> Path:
    """A remux of ``src`` that a player turns 90 degrees clockwise (a phone held upright)."""
    # ffmpeg >= 6 has -display_rotation (counterclockwise degrees); 5.x only honours the rotate tag when
    # muxing MP4, with the same matrix for rotate=270 as -display_rotation 270.
    done = _ffmpeg("-display_rotation", "270", "-i", str(src), "-c", "copy", str(dst))
    if done.returncode != 0:
        _make(dst, "-i", str(src), "-c", "copy", "-metadata:s:v:0", "rotate=270")
    return dst


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    sine = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    c: dict[str, Path] = {}
    c["landscape"] = _make(
        d / "landscape.mp4",
        *LAVFI_VIDEO,
        "testsrc2=size=640x360:rate=25",
        *sine,
        "-t",
        "4",
        *X264,
        "-c:a",
        "aac",
    )
    c["portrait"] = _make(
        d / "portrait.mp4",
        *LAVFI_VIDEO,
        "testsrc2=size=360x640:rate=25",
        *sine,
        "-t",
        "3",
        *X264,
        "-c:a",
        "aac",
    )
    c["rotated"] = _rotate(c["landscape"], d / "rotated.mp4")
    # testsrc2 rounds odd sizes down and 4:2:0 cannot be odd: scale to odd and keep full chroma.
    c["odd"] = _make(
        d / "odd.mp4",
        *LAVFI_VIDEO,
        "testsrc2=size=322x182:rate=25",
        "-t",
        "3",
        "-vf",
        "scale=321:181",
        *X264[:4],
        "-pix_fmt",
        "yuv444p",
    )
    c["silent"] = _make(d / "silent.mp4", *LAVFI_VIDEO, "testsrc2=size=320x180:rate=30", "-t", "3", *X264)
    # Variable frame rate: 2 s at 25 fps then 2 s at 10 fps, timestamps kept as they are.
    c["vfr"] = _make(
        d / "vfr.mp4",
        *LAVFI_VIDEO,
        "testsrc2=size=320x180:rate=25:duration=2",
        *LAVFI_VIDEO,
        "testsrc2=size=320x180:rate=10:duration=2",
        "-filter_complex",
        "[0:v][1:v]concat=n=2:v=1:a=0[v]",
        "-map",
        "[v]",
        *X264,
        "-fps_mode",
        "vfr",
    )
    c["mp3"] = _make(d / "audio.mp3", *sine, "-t", "2", "-c:a", "libmp3lame")
    cover = _make(d / "cover.jpg", *LAVFI_VIDEO, "testsrc2=size=320x320:rate=1", "-frames:v", "1")
    c["mp3_cover"] = _make(
        d / "album.mp3",
        "-i",
        str(c["mp3"]),
        "-i",
        str(cover),
        "-map",
        "0",
        "-map",
        "1",
        "-c",
        "copy",
        "-disposition:v",
        "attached_pic",
    )
    c["text"] = d / "notes.mp4"
    c["text"].write_text("These are my lecture notes, not a video.\n" * 50, encoding="utf-8")
    whole = c["landscape"].read_bytes()
    c["truncated"] = d / "truncated.mp4"  # ffmpeg writes the index last: the cut file has none
    c["truncated"].write_bytes(whole[: len(whole) * 3 // 10])
    # Index in front ("faststart"): it still opens and its first frames decode; only the index betrays it.
    faststart = _make(d / "faststart.mp4", "-i", str(c["landscape"]), "-c", "copy", "-movflags", "+faststart")
    data = faststart.read_bytes()
    c["faststart_truncated"] = d / "faststart_truncated.mp4"
    c["faststart_truncated"].write_bytes(data[: len(data) * 3 // 10])
    return c


@pytest.mark.parametrize(
    ("name", "width", "height", "rotation", "has_audio"),
    [
        ("landscape", 640, 360, 0, True),
        ("portrait", 360, 640, 0, True),
        ("rotated", 360, 640, 90, True),
        ("odd", 321, 181, 0, False),
        ("silent", 320, 180, 0, False),
        ("vfr", 320, 180, 0, False),
    ],
)
def test_probe_reads_display_geometry(
    clips: dict[str, Path], name: str, width: int, height: int, rotation: int, has_audio: bool
) -> None:
    result = probe(clips[name])
    assert (result.width, result.height, result.rotation, result.has_audio) == (
        width,
        height,
        rotation,
        has_audio,
    )
    assert result.video_codec == "h264" and result.format_name.startswith("mov,mp4")
    assert result.audio_codec == ("aac" if has_audio else None)
    assert result.duration_s == pytest.approx({"landscape": 4, "rotated": 4, "vfr": 4}.get(name, 3), abs=0.2)


def test_probe_flags_variable_frame_rate(clips: dict[str, Path]) -> None:
    assert probe(clips["vfr"]).variable_frame_rate
    assert not probe(clips["landscape"]).variable_frame_rate
    assert probe(clips["landscape"]).fps == pytest.approx(25)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("text", "unreadable"),
        ("truncated", "unreadable"),
        ("faststart_truncated", "unreadable"),
        ("mp3", "no_video"),
        ("mp3_cover", "no_video"),  # cover art is a video stream, but not a video
    ],
)
def test_probe_refuses_what_is_not_a_video(clips: dict[str, Path], name: str, reason: str) -> None:
    with pytest.raises(NotAVideo) as caught:
        probe(clips[name])
    assert caught.value.reason == reason
    assert str(caught.value) and "Errno" not in str(caught.value)


def test_probe_limits_duration(clips: dict[str, Path]) -> None:
    with pytest.raises(NotAVideo) as caught:
        probe(clips["landscape"], max_duration_s=2)
    assert caught.value.reason == "too_long"


def _run(source: Path, out: Path) -> tuple[TranscodeResult, list[float]]:
    seen: list[float] = []
    return transcode(source, out, on_progress=seen.append), seen


def _variant_durations(playlist: Path) -> list[float]:
    return [float(v) for v in re.findall(r"#EXTINF:([0-9.]+),", playlist.read_text(encoding="utf-8"))]


def _check_package(result: TranscodeResult, source: ProbeResult, seen: list[float]) -> None:
    out = result.out_dir
    variants = read_master((out / "master.m3u8").read_text(encoding="utf-8"))
    assert [uri for _, uri in variants] == [
        result.plan.variant_playlist(i) for i in range(len(result.plan.rungs))
    ]
    for i, (attrs, uri) in enumerate(variants):
        w, h = (int(v) for v in attrs["RESOLUTION"].split("x"))
        assert min(w, h) == result.plan.rungs[i].short_side <= source.short_side
        assert w % 2 == 0 and h % 2 == 0
        assert (w >= h) == (source.width >= source.height)  # orientation kept, rotation applied
        assert int(attrs["BANDWIDTH"]) > 0
        playlist = out / uri
        text = playlist.read_text(encoding="utf-8")
        assert '#EXT-X-MAP:URI="init.mp4"' in text and (playlist.parent / "init.mp4").is_file()
        durations = _variant_durations(playlist)
        assert len(durations) >= 2 and all(d <= 2.1 for d in durations[:-1])
        assert sum(durations) == pytest.approx(source.duration_s, abs=0.3)
        init = (playlist.parent / "init.mp4").read_bytes()
        for segment in re.findall(r"^(seg_\d+\.m4s)$", text, flags=re.M):
            # Each segment must start on a keyframe so that players can switch rungs at any boundary.
            joined = out / f"check_{i}_{segment}.mp4"
            joined.write_bytes(init + (playlist.parent / segment).read_bytes())
            try:
                with av.open(str(joined)) as container:
                    first = next(container.demux(container.streams.video[0]))
                    assert first.is_keyframe, f"{uri}/{segment} does not start with a keyframe"
            finally:
                joined.unlink()
        with av.open(str(playlist)) as container:
            stream = container.streams.video[0]
            times = [f.time for f in container.decode(stream) if f.time is not None]
            assert stream.codec_context.name == "h264"
            frame_s = 1 / float(stream.average_rate or 25)
            assert max(times) - min(times) + frame_s == pytest.approx(source.duration_s, abs=0.3)
    assert result.renditions == [
        {"name": r.name, "width": w, "height": h, "bandwidth": int(a["BANDWIDTH"])}
        for r, (a, _), (w, h) in zip(
            result.plan.rungs,
            variants,
            [tuple(int(v) for v in a["RESOLUTION"].split("x")) for a, _ in variants],
            strict=True,
        )
    ]
    for name in (result.poster, result.sprite):
        with av.open(str(out / name)) as container:
            poster = container.streams.video[0].codec_context
            assert poster.width <= 1280 and (poster.width >= poster.height) == (source.width >= source.height)
    vtt = (out / result.sprite_vtt).read_text(encoding="utf-8").splitlines()
    assert vtt[0] == "WEBVTT"
    cues = [line for line in vtt if "-->" in line]
    assert len(cues) == ffargs.sprite_count(source.duration_s, 10)
    with av.open(str(out / "sprite.jpg")) as container:
        sheet = container.streams.video[0].codec_context
        for x, y, w, h in re.findall(
            r"^sprite\.jpg#xywh=(\d+),(\d+),(\d+),(\d+)$", "\n".join(vtt), flags=re.M
        ):
            assert int(x) + int(w) <= sheet.width and int(y) + int(h) <= sheet.height
    assert set(result.files) == {p.relative_to(out) for p in out.rglob("*") if p.is_file()}
    assert result.files == sorted(result.files)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen) and len(seen) >= 3


def test_transcode_two_rungs_with_audio(
    clips: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A ladder scaled down to the test clip's size, so that rung switching is tested at 640x360.
    small = (Rung("360p", 360, 25, 800, 1600), Rung("180p", 180, 26, 300, 600))
    monkeypatch.setattr(ffargs, "LADDER", small)
    source = probe(clips["landscape"])
    result, seen = _run(clips["landscape"], tmp_path / "out")
    assert [r.name for r in result.plan.rungs] == ["360p", "180p"]
    assert [(r["width"], r["height"]) for r in result.renditions] == [(640, 360), (320, 180)]
    _check_package(result, source, seen)
    for i in range(2):  # every rung carries the audio
        with av.open(str(tmp_path / "out" / f"v{i}" / "index.m3u8")) as container:
            audio = container.streams.audio[0]
            assert (audio.codec_context.name, audio.sample_rate, audio.channels) == ("aac", 48000, 2)
    # Keyframes at the same instants in both rungs.
    assert _variant_durations(tmp_path / "out/v0/index.m3u8") == _variant_durations(
        tmp_path / "out/v1/index.m3u8"
    )


@pytest.mark.parametrize("name", ["rotated", "odd", "vfr", "silent"])
def test_transcode_awkward_sources(clips: dict[str, Path], tmp_path: Path, name: str) -> None:
    source = probe(clips[name])
    result, seen = _run(clips[name], tmp_path / name)
    _check_package(result, source, seen)
    if name == "rotated":
        assert [(r["width"], r["height"]) for r in result.renditions] == [(360, 640)]
    if name == "odd":
        assert [r["height"] for r in result.renditions] == [180]
    if not source.has_audio:
        with av.open(str(tmp_path / name / "v0" / "index.m3u8")) as container:
            assert not container.streams.audio


def test_run_ffmpeg_failure_is_summarised(clips: dict[str, Path], tmp_path: Path) -> None:
    fake = probe(clips["landscape"])
    args = ffargs.hls_args(FFMPEG, str(clips["text"]), str(tmp_path), fake, ffargs.plan_for(fake))
    with pytest.raises(FfmpegError) as caught:
        run_ffmpeg(args, duration_s=4.0)
    summary = caught.value.summary
    assert summary.startswith("ffmpeg failed (exit ") and "Invalid data found" in summary
    assert "\n" not in summary and len(summary) < 600 and str(caught.value) == summary
    assert caught.value.returncode not in (0, None) and caught.value.log


def test_run_ffmpeg_timeout_kills(tmp_path: Path) -> None:
    args = [FFMPEG, "-nostdin", "-re", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=5", "-f", "null", "-"]
    started = time.monotonic()
    with pytest.raises(FfmpegError, match="timed out"):
        run_ffmpeg(args, duration_s=60, timeout_s=1)
    assert time.monotonic() - started < 10


def test_progress_callback_errors_stop_ffmpeg(clips: dict[str, Path], tmp_path: Path) -> None:
    source = probe(clips["landscape"])
    args = ffargs.hls_args(FFMPEG, str(clips["landscape"]), str(tmp_path), source, ffargs.plan_for(source))

    def cancel(_: float) -> None:
        raise KeyboardInterrupt

    stop: Callable[[float], None] = cancel
    with pytest.raises(KeyboardInterrupt):
        run_ffmpeg(args, duration_s=source.duration_s, on_progress=stop)
