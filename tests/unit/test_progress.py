"""Watch-progress arithmetic: unions, the capped merge, the allowance, played-segments strings, retention."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media import progress as p


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("0-10", "list"),
        ([[1]], "pair"),
        ([[1, 2, 3]], "pair"),
        ([[-1, 2]], "negative"),
        ([[5, 2]], "end before"),
        ([[float("nan"), 2]], "finite"),
        ([[0, float("inf")]], "finite"),
        ([["0", "2"]], "finite"),
        ([[True, 2]], "finite"),
        ([[0, 1]] * 101, "at most"),
    ],
)
def test_bad_segments_are_refused(raw: object, error: str) -> None:
    with pytest.raises(p.BadSegments, match=error):
        p.parse_segments(raw)


def test_good_segments_parse() -> None:
    assert p.parse_segments([[0, 1.5], [3, 3]]) == [(0.0, 1.5), (3.0, 3.0)]


@pytest.mark.parametrize(
    ("segments", "union"),
    [
        ([], []),
        ([(0, 5), (3, 8)], [(0, 5 + 3)]),
        ([(10, 12), (0, 5), (5, 7)], [(0, 7), (10, 12)]),
        ([(4, 4)], []),
        ([(0, 10), (2, 3)], [(0, 10)]),
    ],
)
def test_normalise(segments: list[p.Interval], union: list[p.Interval]) -> None:
    assert p.normalise(segments) == union


def test_add_capped_credits_only_new_time_and_stops_at_the_allowance() -> None:
    union, credit = p.add_capped([(0, 10)], [(5, 15)], duration_s=100, allowance_s=100)
    assert union == [(0, 15)] and credit == pytest.approx(5)
    # Rewatching adds nothing.
    union, credit = p.add_capped(union, [(0, 15)], duration_s=100, allowance_s=100)
    assert credit == 0 and union == [(0, 15)]
    # A claimed minute with an allowance of 4 s credits 4 s, and the union holds exactly that.
    union, credit = p.add_capped(union, [(20, 80)], duration_s=100, allowance_s=4)
    assert credit == pytest.approx(4) and union == [(0, 15), (20, 24)]
    # Beyond the duration nothing counts.
    union, credit = p.add_capped([], [(90, 500)], duration_s=100, allowance_s=1000)
    assert union == [(90, 100)] and credit == pytest.approx(10)


def test_allowance_is_bounded_by_the_session_clock_and_the_shared_bucket() -> None:
    first = p.allowance(now=1000, session_last_beat=None, tokens=0, tokens_at=None)
    assert first.seconds == p.SLACK_S
    a = p.allowance(now=1010, session_last_beat=1000, tokens=0, tokens_at=1000)
    assert a.seconds == pytest.approx(20)  # 10 s at 2× (the bucket), the session window is 22
    # A second tab whose own clock allows 22 s still shares the bucket another tab just emptied.
    b = p.allowance(now=1010, session_last_beat=1000, tokens=0, tokens_at=1010)
    assert b.seconds == 0
    # Hours away fill the bucket only to its cap.
    c = p.allowance(now=100_000, session_last_beat=1000, tokens=0, tokens_at=1000)
    assert c.seconds == p.BURST_S


@pytest.mark.parametrize("rate", [0, -1, 0.01, 17, float("nan"), float("inf"), "2", True, None])
def test_absurd_rates_are_refused(rate: object) -> None:
    with pytest.raises(p.BadSegments):
        p.check_rate(rate)


def test_xapi_played_segments_round_trip() -> None:
    text = p.to_xapi([(0, 12), (14, 21)])
    assert text == "0.000[.]12.000[,]14.000[.]21.000"
    assert p.from_xapi(text) == [(0, 12), (14, 21)]
    assert p.to_xapi([]) == "" and p.from_xapi("") == []
    with pytest.raises(ValueError):
        p.from_xapi("0.000-12.000")


def test_retention_counts_viewers_per_bucket() -> None:
    unions = [[(0.0, 30.0)], [(0.0, 12.0)], [(25.0, 30.0)]]
    assert p.retention(unions, duration_s=30) == [2, 1, 2]
    assert p.retention([], duration_s=25) == [0, 0, 0]
    assert p.retention(unions, duration_s=0) == []


# -- no sequence of beats credits more than real time allows ---------------------------------------

segment = st.tuples(
    st.floats(min_value=0, max_value=700, allow_nan=False), st.floats(min_value=0, max_value=120)
).map(lambda t: (t[0], t[0] + t[1]))
beat = st.tuples(
    st.floats(min_value=0, max_value=30, allow_nan=False),  # seconds since the previous beat (server time)
    st.integers(min_value=0, max_value=2),  # which of three tabs/devices sends it
    st.lists(segment, max_size=5),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(beat, min_size=1, max_size=60), st.floats(min_value=1, max_value=600))
def test_no_sequence_of_beats_credits_more_than_real_time_allows(
    beats: list[tuple[float, int, list[p.Interval]]], duration: float
) -> None:
    now = 1_000_000.0
    union: list[p.Interval] = []
    tokens, tokens_at = 0.0, None
    session_last: dict[int, float] = {}
    credited_total = 0.0
    first = None
    for gap, tab, segments in beats:
        now += gap
        first = now if first is None else first
        a = p.allowance(now=now, session_last_beat=session_last.get(tab), tokens=tokens, tokens_at=tokens_at)
        union, credit = p.add_capped(union, segments, duration, a.seconds)
        assert 0 <= credit <= a.seconds + 1e-9
        tokens, tokens_at = a.tokens_after_refill - credit, now
        session_last[tab] = now
        credited_total += credit
        # The one truth: what was credited is the union, and the union fits in the video.
        assert math.isclose(p.total(union), credited_total, abs_tol=1e-6)
        assert p.total(union) <= duration + 1e-6
        assert all(0 <= s < e <= duration for s, e in union)
    assert first is not None
    assert credited_total <= p.SLACK_S + p.MAX_RATE * (now - first) + 1e-6
