"""Summaries of timing samples: percentiles, and the `Row` every benchmark reports.

A `Row` is one line of a results table: a figure for us, the baseline figure measured in
the same run, their ratio, and an optional target the ratio or value must meet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation; NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Summary:
    """p50/p95/p99 of a list of samples (same unit as the samples)."""

    n: int
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Summary:
        return cls(
            len(samples), percentile(samples, 50), percentile(samples, 95), percentile(samples, 99)
        )


def ratio(ours: float, baseline: float) -> float:
    if baseline == 0 or math.isnan(baseline) or math.isnan(ours):
        return math.nan
    return ours / baseline


@dataclass(slots=True)
class Row:
    """One measured figure next to its same-run baseline."""

    name: str
    unit: str
    ours: float
    baseline: float
    baseline_name: str
    target: str = ""  # human-readable target, e.g. "<= 0.1x and < 30 µs"
    met: bool | None = None  # None: no target
    note: str = ""

    @property
    def ratio(self) -> float:
        return ratio(self.ours, self.baseline)


@dataclass(slots=True)
class Section:
    """One benchmark's results: a title, rows, free-text notes and its chart file."""

    key: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    chart: str | None = None  # path relative to bench/, set by the report
    error: str | None = None  # the benchmark could not run: why
    markdown: list[str] = field(default_factory=list)  # extra lines (a table) after the rows


def fmt(value: float, unit: str = "") -> str:
    """Three significant figures, with a unit."""
    if math.isnan(value):
        return "n/a"
    if value == 0:
        text = "0"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()
