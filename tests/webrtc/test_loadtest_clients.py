"""The load test's viewers behave like browsers: receiver reports the SFU accepts, NACKs for gaps."""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import pytest

from webrtc import loadtest, rtp


def test_a_report_block_says_what_was_lost_since_the_last_one() -> None:
    s = loadtest.StreamCount(first=100, max_ext=109, received=8)  # 100..109 with two missing
    block = s.report_block(0xABCD)
    ssrc, lost_word, highest, _jitter, _lsr, _dlsr = struct.unpack("!IIIIII", block)
    assert ssrc == 0xABCD and highest == 109
    assert lost_word >> 24 == (2 << 8) // 10 and lost_word & 0xFFFFFF == 2
    s.max_ext, s.received = 119, 18  # the next ten all arrived
    assert struct.unpack("!IIIIII", s.report_block(0xABCD))[1] == 2  # fraction 0, still 2 lost in all


def test_only_video_ssrcs_are_nacked() -> None:
    sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ssrc:11 cname:x\r\nm=video 9 UDP 96\r\na=ssrc:22 cname:x\r\n"
    assert loadtest._video_ssrcs(sdp) == {22}


def test_the_floor_is_a_positive_cost_per_packet() -> None:
    sizes = [1113, 1113, 140]
    assert 0 < loadtest.measure_floor(sizes, seconds=0.2) < 1000


@pytest.mark.timeout(180)
async def test_a_small_run_sends_receiver_reports_and_nacks_the_sfu_answers(tmp_path: Path) -> None:
    args = argparse.Namespace(
        viewers=4,
        duration=3.0,
        ramp=8.0,
        sfu=None,
        procs=2,
        video_kbps=300,
        sfu_log_level="WARNING",
        ice_host=["127.0.0.1"],
        profile=None,
        settle=1.5,
        media_dir=str(tmp_path),
        no_rtcp=False,
        client_nice=0,
        viewer_loss=3.0,
        workers=2,  # half the viewers on a relay worker: its NACK answers count too
        gallery=2,  # two students publish a gallery camera; the teacher turns pages of one
        gallery_page=1,
        page_s=1.0,
        speakers=1,  # the last student comes on stage with a microphone: heard by the others, not in the loss
    )
    summary = await loadtest.run(args)
    assert summary["viewers_held"] == 4 and summary["consent_failures"] == 0
    assert summary["viewer_rtcp_sent"] >= 4 and summary["sfu_rtcp_in"] >= summary["viewer_rtcp_sent"] // 2
    # 3 % of video lost on arrival: the viewers NACK, the SFU retransmits, most gaps are filled.
    assert summary["viewer_nacks_sent"] > 0 and summary["sfu_nacks_in"] > 0 and summary["sfu_retransmits"] > 0
    assert summary["viewer_recovered"] > 0 and summary["loss_pct"] < 3.0
    assert summary["floor_us_per_packet"] > 0 and summary["sfu_cost_over_floor"] > 0
    assert summary["workers"] == 2 and [w["worker"] for w in summary["per_worker"]] == [0, 1]
    # Each page brought its camera (and only it) to the teacher, and the cameras' packets came.
    assert summary["gallery_cameras"] == 2 and summary["gallery_pages_turned"] >= 2
    assert summary["gallery_switch_timeouts"] == 0 and summary["gallery_switch_p95_s"] < 3.0
    assert summary["gallery_rx_pps"] > 0
    # Three of the four hear the speaker (about 50 Opus packets a second each).
    assert summary["speakers"] == 1 and 20 < summary["speaker_pps_per_viewer"] < 50
    assert all(w["out_pps"] > 0 for w in summary["per_worker"]), summary["per_worker"]
    assert rtp.is_rtcp(rtp.build_rr(1, [])), "the viewers' reports are RTCP"
