"""The ffmpeg argument builders and the progress parser, without running ffmpeg."""

from __future__ import annotations

import re

import pytest

from media.ffmpeg import (
    LADDER,
    hls_args,
    ladder_for,
    output_fps,
    plan_for,
    poster_args,
    sprite_args,
    sprite_grid,
    sprite_vtt,
)
from media.probe import ProbeResult
from media.transcode import parse_progress, read_master, summarise_stderr


def clip(
    width: int = 1920,
    height: int = 1080,
    *,
    duration_s: float = 60.0,
    rotation: int = 0,
    fps: float | None = 25.0,
    vfr: bool = False,
    has_audio: bool = True,
    video_stream: int = 0,
) -> ProbeResult:
    return ProbeResult(
        duration_s=duration_s,
        width=width,
        height=height,
        rotation=rotation,
        fps=fps,
        variable_frame_rate=vfr,
        has_audio=has_audio,
        video_codec="h264",
        audio_codec="aac" if has_audio else None,
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        video_stream=video_stream,
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (clip(1920, 1080), [1080, 720, 480, 360]),
        (clip(3840, 2160), [1080, 720, 480, 360]),
        (clip(1280, 720), [720, 480, 360]),
        (clip(480, 854), [480, 360]),  # portrait phone clip: the short side is the width
        (clip(1080, 1920, rotation=90), [1080, 720, 480, 360]),  # display size after rotation
        (clip(640, 360), [360]),
        (clip(320, 240), [240]),
        (clip(641, 359), [358]),  # odd and under the smallest rung: the source's size, rounded to even
        (clip(3, 3), [2]),
    ],
)
def test_ladder_never_upscales(source: ProbeResult, expected: list[int]) -> None:
    rungs = ladder_for(source)
    assert [r.short_side for r in rungs] == expected
    assert all(r.short_side <= source.short_side and r.short_side % 2 == 0 for r in rungs)


def test_ladder_rates_and_buffers() -> None:
    assert [(r.name, r.crf, r.maxrate_kbps) for r in LADDER] == [
        ("1080p", 23, 5000),
        ("720p", 23, 2800),
        ("480p", 24, 1400),
        ("360p", 25, 800),
    ]
    assert all(r.bufsize_kbps == 2 * r.maxrate_kbps for r in LADDER)
    tiny = ladder_for(clip(320, 240))[0]
    assert (tiny.name, tiny.crf, tiny.maxrate_kbps) == ("240p", 25, 800)


def test_plan_layout() -> None:
    plan = plan_for(clip(1280, 720), segment_s=4)
    assert plan.segment_s == 4 and plan.master == "master.m3u8"
    assert (plan.variant_playlist(1), plan.init_segment(1), plan.segment_template(1)) == (
        "v1/index.m3u8",
        "v1/init.mp4",
        "v1/seg_%05d.m4s",
    )
    with pytest.raises(ValueError):
        plan_for(clip(), segment_s=0)


def _value(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def _values(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


@pytest.mark.parametrize("segment_s", [2, 6])
def test_hls_keyframes_and_container(segment_s: int) -> None:
    source = clip(1280, 720, fps=25.0)
    args = hls_args("ffmpeg", "in.mp4", "/out", source, plan_for(source, segment_s))
    assert args[0] == "ffmpeg" and _value(args, "-i") == "in.mp4"
    assert _value(args, "-force_key_frames") == f"expr:gte(t,n_forced*{segment_s})"
    assert _value(args, "-sc_threshold") == "0"
    assert _value(args, "-g") == str(25 * segment_s)
    assert _value(args, "-hls_time") == str(segment_s)
    assert _value(args, "-hls_segment_type") == "fmp4"
    assert _value(args, "-hls_playlist_type") == "vod"
    assert _value(args, "-hls_fmp4_init_filename") == "init.mp4"
    assert _value(args, "-hls_segment_filename") == "/out/v%v/seg_%05d.m4s"
    assert _value(args, "-master_pl_name") == "master.m3u8"
    assert args[-1] == "/out/v%v/index.m3u8"
    assert (_value(args, "-c:v"), _value(args, "-preset"), _value(args, "-pix_fmt")) == (
        "libx264",
        "veryfast",
        "yuv420p",
    )
    assert _value(args, "-fps_mode") == "cfr"
    assert "-r" not in args  # a known constant rate <= 30 fps is kept as it is
    assert _value(args, "-progress") == "pipe:1" and "-nostats" in args
    assert _value(args, "-loglevel") == "error" and "-y" in args
    assert "-threads" not in args


def test_hls_rate_control_per_rung() -> None:
    source = clip(1920, 1080)
    plan = plan_for(source)
    args = hls_args("ffmpeg", "in.mp4", "/out", source, plan, threads=2)
    for i, rung in enumerate(plan.rungs):
        assert _value(args, f"-crf:v:{i}") == str(rung.crf)
        assert _value(args, f"-maxrate:v:{i}") == f"{rung.maxrate_kbps}k"
        assert _value(args, f"-bufsize:v:{i}") == f"{rung.bufsize_kbps}k"
    assert _value(args, "-threads") == "2"


@pytest.mark.parametrize(
    ("source", "stream_map", "audio_maps"),
    [
        (clip(1280, 720), "v:0,a:0 v:1,a:1 v:2,a:2", 3),
        (clip(1280, 720, has_audio=False), "v:0 v:1 v:2", 0),
        (clip(320, 240), "v:0,a:0", 1),
    ],
)
def test_hls_stream_map_with_and_without_audio(source: ProbeResult, stream_map: str, audio_maps: int) -> None:
    args = hls_args("ffmpeg", "in.mp4", "/out", source, plan_for(source))
    assert _value(args, "-var_stream_map") == stream_map
    assert _values(args, "-map").count("0:a:0") == audio_maps
    if audio_maps:
        assert (_value(args, "-c:a"), _value(args, "-b:a"), _value(args, "-ac"), _value(args, "-ar")) == (
            "aac",
            "128k",
            "2",
            "48000",
        )
    else:
        assert "-an" in args and "-c:a" not in args


@pytest.mark.parametrize(
    "source",
    [clip(1920, 1080), clip(480, 854), clip(1080, 1920, rotation=90), clip(641, 359), clip(320, 240)],
)
def test_hls_scales_short_side_and_never_up(source: ProbeResult) -> None:
    args = hls_args("ffmpeg", "in.mp4", "/out", source, plan_for(source))
    graph = _value(args, "-filter_complex")
    sides = [int(s) for s in re.findall(r"if\(gte\(iw,ih\),-2,(\d+)\)", graph)]
    assert sides == [r.short_side for r in ladder_for(source)]
    assert all(s <= source.short_side for s in sides)
    for s in sides:  # both branches name the same short side: landscape sets h, portrait sets w
        assert f"h='if(gte(iw,ih),{s},-2)'" in graph
    assert graph.startswith(f"[0:{source.video_stream}]split={len(sides)}")
    assert _values(args, "-map")[: len(sides)] == [f"[v{i}]" for i in range(len(sides))]


def test_hls_maps_the_probed_video_stream_not_cover_art() -> None:
    source = clip(1280, 720, video_stream=2)
    assert _value(hls_args("f", "in", "/o", source, plan_for(source)), "-filter_complex").startswith(
        "[0:2]split"
    )
    assert _value(poster_args("f", "in", "p.jpg", source, at_s=5), "-map") == "0:2"


@pytest.mark.parametrize(
    ("fps", "vfr", "rate", "gop"),
    [
        (25.0, False, None, "50"),
        (30000 / 1001, False, None, "60"),
        (60.0, False, "30", "60"),
        (60000 / 1001, False, "30000/1001", "60"),
        (50.0, False, "25", "50"),
        (120.0, False, "30", "60"),
        (45.0, False, "30", "60"),
        (None, False, "30", "60"),  # unknown rate: a fixed one, so -fps_mode cfr has something sane
        (20.0, True, "20", "40"),  # variable rate: the average, not the container's guess
    ],
)
def test_frame_rate_forced_only_when_needed(fps: float | None, vfr: bool, rate: str | None, gop: str) -> None:
    source = clip(1280, 720, fps=fps, vfr=vfr)
    args = hls_args("ffmpeg", "in.mp4", "/out", source, plan_for(source))
    assert (args[args.index("-r") + 1] if "-r" in args else None) == rate
    assert _value(args, "-g") == gop
    assert _value(args, "-fps_mode") == "cfr"
    assert (output_fps(source) is None) == (rate is None)


@pytest.mark.parametrize(("duration", "at_s", "expected"), [(60.0, 10.0, "10.000"), (4.0, 10.0, "2.000")])
def test_poster_args(duration: float, at_s: float, expected: str) -> None:
    args = poster_args("ffmpeg", "in.mp4", "/out/poster.jpg", clip(duration_s=duration), at_s=at_s)
    assert _value(args, "-ss") == expected
    assert args.index("-ss") < args.index("-i")  # input seeking: fast on long lectures
    assert _value(args, "-frames:v") == "1"
    assert _value(args, "-vf") == "scale=w='min(1280,iw)':h=-2"
    assert args[-1] == "/out/poster.jpg"


@pytest.mark.parametrize(
    ("duration", "columns", "tile"),
    [(4.0, 10, "tile=1x1"), (25.0, 10, "tile=3x1"), (95.0, 10, "tile=10x1"), (3600.0, 10, "tile=10x36")],
)
def test_sprite_args(duration: float, columns: int, tile: str) -> None:
    args = sprite_args(
        "ffmpeg", "in.mp4", "/out/sprite.jpg", clip(duration_s=duration), every_s=10, columns=columns
    )
    vf = _value(args, "-vf")
    assert vf.endswith(f",scale=160:-2,{tile}")
    assert "floor(t/10)" in vf
    assert _value(args, "-frames:v") == "1" and args[-1] == "/out/sprite.jpg"


def test_sprite_vtt_cue_math() -> None:
    vtt = sprite_vtt(25.0, 10, 2, 160, 90, "sprite.jpg")
    assert vtt.splitlines() == [
        "WEBVTT",
        "",
        "00:00:00.000 --> 00:00:10.000",
        "sprite.jpg#xywh=0,0,160,90",
        "",
        "00:00:10.000 --> 00:00:20.000",
        "sprite.jpg#xywh=160,0,160,90",
        "",
        "00:00:20.000 --> 00:00:25.000",
        "sprite.jpg#xywh=0,90,160,90",
    ]


@pytest.mark.parametrize(
    ("duration", "every_s", "columns", "cues", "grid", "last"),
    [
        (4.0, 10, 10, 1, (1, 1), "00:00:00.000 --> 00:00:04.000"),
        (30.0, 10, 10, 3, (3, 1), "00:00:20.000 --> 00:00:30.000"),
        (30.5, 10, 10, 4, (4, 1), "00:00:30.000 --> 00:00:30.500"),
        (3725.25, 10, 10, 373, (10, 38), "01:02:00.000 --> 01:02:05.250"),
    ],
)
def test_sprite_vtt_counts(
    duration: float, every_s: int, columns: int, cues: int, grid: tuple[int, int], last: str
) -> None:
    vtt = sprite_vtt(duration, every_s, columns, 160, 90, "s.jpg")
    timings = [line for line in vtt.splitlines() if "-->" in line]
    assert len(timings) == cues and timings[-1] == last
    assert sprite_grid(duration, every_s, columns) == grid
    x, y = re.findall(r"#xywh=(\d+),(\d+),", vtt)[-1]
    assert (int(x), int(y)) == (((cues - 1) % grid[0]) * 160, ((cues - 1) // grid[0]) * 90)


# Captured from `ffmpeg -progress pipe:1` (5.1) on a 4 s clip, with the first block as ffmpeg prints it before
# any packet is out; out_time_ms carries microseconds, like out_time_us.
PROGRESS_SAMPLE = """\
frame=0
fps=0.00
stream_0_0_q=0.0
bitrate=N/A
total_size=N/A
out_time_us=N/A
out_time_ms=N/A
out_time=N/A
dup_frames=0
drop_frames=0
speed=N/A
progress=continue
frame=1
fps=0.00
stream_0_0_q=0.0
stream_0_1_q=0.0
bitrate=N/A
total_size=N/A
out_time_us=42667
out_time_ms=42667
out_time=00:00:00.042667
dup_frames=0
drop_frames=0
speed=2.43x
progress=continue
frame=82
fps=0.00
stream_0_0_q=30.0
stream_0_1_q=31.0
bitrate=N/A
total_size=N/A
out_time_us=3328000
out_time_ms=3328000
out_time=00:00:03.328000
dup_frames=0
drop_frames=0
speed=6.41x
progress=continue
frame=100
fps=0.00
stream_0_0_q=-1.0
stream_0_1_q=-1.0
bitrate=N/A
total_size=N/A
out_time_us=4010667
out_time_ms=4010667
out_time=00:00:04.010667
dup_frames=0
drop_frames=0
speed= 5.7x
progress=end
"""


def test_parse_progress_on_real_output() -> None:
    fractions = list(parse_progress(PROGRESS_SAMPLE.splitlines(keepends=True), 4.0))
    assert fractions == pytest.approx([0.0, 0.0106667, 0.832, 1.0], abs=1e-6)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("out_time_ms=1500000\nprogress=continue\n", 0.5),  # microseconds despite the name
        ("out_time=00:00:01.500000\nprogress=continue\n", 0.5),
        ("out_time_us=N/A\nout_time=00:00:00.750000\nprogress=continue\n", 0.25),
        ("out_time_us=-9223372036854775807\nout_time=-2562047:47:16.854775\nprogress=continue\n", 0.0),
        ("out_time_us=9000000\nprogress=continue\n", 1.0),  # clamped
        ("out_time_us=N/A\nprogress=end\n", 1.0),
    ],
)
def test_parse_progress_keys(block: str, expected: float) -> None:
    assert list(parse_progress(block.splitlines(), 3.0)) == [pytest.approx(expected)]


def test_parse_progress_never_goes_back_and_survives_zero_duration() -> None:
    lines = "out_time_us=2000000\nprogress=continue\nout_time_us=1000000\nprogress=continue\n".splitlines()
    assert list(parse_progress(lines, 4.0)) == [0.5, 0.5]
    assert list(parse_progress(["out_time_us=5\n", "progress=continue\n", "progress=end\n"], 0)) == [0.0, 1.0]


def test_stderr_summary_keeps_the_reason_not_the_log() -> None:
    log = ["Press [q] to stop, [?] for help\n"] * 3 + [
        "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d1c0a4b2c0] moov atom not found\n",
        "/tmp/upload.mp4: Invalid data found when processing input\n",
        "\n",
        "Conversion failed!\n",
    ]
    summary = summarise_stderr(log, 1)
    assert summary == (
        "ffmpeg failed (exit 1): [mov,mp4,m4a,3gp,3g2,mj2] moov atom not found; "
        "/tmp/upload.mp4: Invalid data found when processing input"
    )
    assert summarise_stderr([], 137) == "ffmpeg failed (exit 137): no error message"
    assert len(summarise_stderr([f"error {i} " + "x" * 400 + "\n" for i in range(200)], 1)) <= 600


def test_read_master() -> None:
    text = (
        "#EXTM3U\n#EXT-X-VERSION:7\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=1020800,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2"\nv0/index.m3u8\n\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=690800,RESOLUTION=426x240,CODECS="avc1.640015"\nv1/index.m3u8\n'
    )
    variants = read_master(text)
    assert [uri for _, uri in variants] == ["v0/index.m3u8", "v1/index.m3u8"]
    assert variants[0][0] == {
        "BANDWIDTH": "1020800",
        "RESOLUTION": "640x360",
        "CODECS": "avc1.64001e,mp4a.40.2",
    }


def test_ffmpeg_binary_lookup_order(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from media import tools

    tools.ffmpeg_binary.cache_clear()
    monkeypatch.setenv("LMS_FFMPEG", sys.executable)
    try:
        assert tools.ffmpeg_binary() == sys.executable
        tools.ffmpeg_binary.cache_clear()
        monkeypatch.setenv("LMS_FFMPEG", "/nonexistent/ffmpeg")
        with pytest.raises(tools.ToolMissing, match="LMS_FFMPEG"):
            tools.ffmpeg_binary()
        tools.ffmpeg_binary.cache_clear()
        monkeypatch.delenv("LMS_FFMPEG")
        monkeypatch.setattr(tools.shutil, "which", lambda name: None)
        monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # the import fails: not installed
        with pytest.raises(tools.ToolMissing, match="imageio-ffmpeg"):
            tools.ffmpeg_binary()
    finally:
        tools.ffmpeg_binary.cache_clear()
