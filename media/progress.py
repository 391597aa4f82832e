"""Watch-progress arithmetic (pure): unions of played intervals, the credit allowance real time gives, the
xAPI Video Profile's `played-segments` string and audience retention.

Credit is the growth of one union of played intervals per student and lesson, clamped to the video's
duration, so skipping credits nothing and rewatching adds nothing. How fast that union may grow is bounded
twice, both by server time:
- per watch session, by the wall-clock time since that session's previous beat × MAX_RATE + SLACK_S (a beat
  that comes a second after the last can credit at most a couple of seconds);
- per student and lesson, by a token bucket that fills at MAX_RATE per wall-clock second up to BURST_S and
  that every session (tabs, devices) draws from, so two players together never credit more than one could.

Over any sequence of beats the credit a student gets for a lesson is therefore at most
SLACK_S + MAX_RATE × (time of the last beat − time of the first), whatever the beats claim.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

Interval = tuple[float, float]

MAX_RATE: Final = 2.0  # the fastest playback the player offers; credit never outruns it
SLACK_S: Final = 2.0  # clock jitter and a beat's own latency
BURST_S: Final = 60.0  # the most credit the bucket holds: a minute of 2× play between two beats
MIN_RATE: Final = 0.0625  # HTMLMediaElement's practical range; anything outside is a malformed beat
MAX_REPORTED_RATE: Final = 16.0
EPSILON: Final = 1e-6
MAX_SEGMENTS_PER_BEAT: Final = 100


class BadSegments(ValueError):
    """Segments that are not finite, ordered pairs of non-negative media seconds."""


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_segments(raw: object, *, max_segments: int = MAX_SEGMENTS_PER_BEAT) -> list[Interval]:
    """Validate a beat's `segments`: a list of [start, end] with 0 ≤ start ≤ end, finite; BadSegments else."""
    if not isinstance(raw, list):
        raise BadSegments("segments must be a list of [start, end] pairs")
    if len(raw) > max_segments:
        raise BadSegments(f"at most {max_segments} segments per beat")
    out: list[Interval] = []
    for item in raw:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise BadSegments("each segment must be a [start, end] pair")
        start, end = item
        if not (_finite(start) and _finite(end)):
            raise BadSegments("segment bounds must be finite numbers")
        if start < 0 or end < 0:
            raise BadSegments("segment bounds must not be negative")
        if end < start:
            raise BadSegments("a segment must not end before it starts")
        out.append((float(start), float(end)))
    return out


def normalise(segments: Iterable[Interval]) -> list[Interval]:
    """Sort and merge overlapping or touching intervals; empty ones are dropped."""
    merged: list[Interval] = []
    for start, end in sorted(s for s in segments if s[1] - s[0] > EPSILON):
        if merged and start <= merged[-1][1] + EPSILON:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def clamp(segments: Iterable[Interval], duration_s: float) -> list[Interval]:
    """Cut intervals to [0, duration]."""
    return [(max(0.0, s), min(duration_s, e)) for s, e in segments if s < duration_s and e > 0]


def total(segments: Iterable[Interval]) -> float:
    """The length of a normalised union."""
    return sum(e - s for s, e in segments)


def _uncovered(union: Sequence[Interval], start: float, end: float) -> list[Interval]:
    """The parts of [start, end] the union does not cover, in order."""
    pieces: list[Interval] = []
    cursor = start
    for s, e in union:
        if e <= cursor:
            continue
        if s >= end:
            break
        if s > cursor:
            pieces.append((cursor, min(s, end)))
        cursor = max(cursor, e)
        if cursor >= end:
            break
    if cursor < end:
        pieces.append((cursor, end))
    return [p for p in pieces if p[1] - p[0] > EPSILON]


def add_capped(
    union: Sequence[Interval], new: Iterable[Interval], duration_s: float, allowance_s: float
) -> tuple[list[Interval], float]:
    """Merge `new` into `union`, crediting at most `allowance_s` seconds of not-yet-watched time.

    New time is taken in the order the player reported it; the segment that crosses the allowance is cut
    there, so the union never holds time that was not credited. Returns the new union and the credit.
    """
    merged = normalise(union)
    budget = max(0.0, allowance_s)
    credited = 0.0
    for start, end in clamp(new, duration_s):
        if budget - credited <= EPSILON:
            break
        for s, e in _uncovered(merged, start, end):
            room = budget - credited
            if room <= EPSILON:
                break
            take_end = min(e, s + room)
            merged = normalise([*merged, (s, take_end)])
            credited += take_end - s
    return merged, credited


@dataclass(frozen=True, slots=True)
class Allowance:
    """How much new watched time a beat may credit, and the bucket once it has been drawn from."""

    seconds: float
    tokens_after_refill: float


def allowance(
    *,
    now: float,
    session_last_beat: float | None,
    tokens: float,
    tokens_at: float | None,
) -> Allowance:
    """The credit a beat arriving at `now` (server seconds) may add; see the module docstring."""
    if tokens_at is None:  # the student's first beat on this lesson: the bucket starts with the slack only
        bucket = SLACK_S
    else:
        bucket = min(BURST_S, max(0.0, tokens) + max(0.0, now - tokens_at) * MAX_RATE)
    # A session's first beat opens its clock: it can credit only the slack.
    window = SLACK_S if session_last_beat is None else max(0.0, now - session_last_beat) * MAX_RATE + SLACK_S
    return Allowance(seconds=max(0.0, min(window, bucket)), tokens_after_refill=bucket)


def check_rate(rate: object) -> float:
    """A reported playback rate within what a media element can do; BadSegments else."""
    if not _finite(rate) or not MIN_RATE <= float(rate) <= MAX_REPORTED_RATE:  # type: ignore[arg-type]
        raise BadSegments(f"rate must be between {MIN_RATE} and {MAX_REPORTED_RATE}")
    return float(rate)  # type: ignore[arg-type]


def to_xapi(segments: Iterable[Interval]) -> str:
    """The xAPI Video Profile's played-segments form: ``0.000[.]12.000[,]14.000[.]21.000``."""
    return "[,]".join(f"{s:.3f}[.]{e:.3f}" for s, e in segments)


def from_xapi(text: str) -> list[Interval]:
    """Parse the played-segments form back into intervals (ValueError on anything else)."""
    if not text:
        return []
    out: list[Interval] = []
    for part in text.split("[,]"):
        start, sep, end = part.partition("[.]")
        if not sep:
            raise ValueError(f"not a played segment: {part!r}")
        out.append((float(start), float(end)))
    return out


def retention(unions: Iterable[Sequence[Interval]], duration_s: float, bucket_s: float = 10.0) -> list[int]:
    """Audience retention: per `bucket_s` of the video, how many viewers watched at least half of it."""
    if duration_s <= 0:
        return []
    buckets = max(1, math.ceil(duration_s / bucket_s))
    counts = [0] * buckets
    for union in unions:
        for i in range(buckets):
            lo, hi = i * bucket_s, min(duration_s, (i + 1) * bucket_s)
            covered = sum(max(0.0, min(e, hi) - max(s, lo)) for s, e in union)
            if covered >= (hi - lo) / 2 - EPSILON:
                counts[i] += 1
    return counts
