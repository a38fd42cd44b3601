"""p95 regression rule and the percentile definition (numpy linear)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelspan.analyzer.latency import PERCENTS, percentiles, regressed
from modelspan.store import Operations
from modelspan.store._answers import PERCENTS as STORE_PERCENTS


def ops(p95: float | None, calls: int = 100) -> Operations:
    return Operations(calls=calls, latency_ms={95.0: p95})


def test_percentiles_are_numpy_linear_and_cover_the_stores_percents() -> None:
    rng = np.random.default_rng(2)
    durations = rng.lognormal(3, 0.5, 1001)
    result = percentiles(durations)
    assert tuple(result) == tuple(float(p) for p in STORE_PERCENTS) == PERCENTS
    for p, value in result.items():
        assert value == pytest.approx(float(np.percentile(durations, p)), rel=1e-12)
    # Type 7 by hand: rank h = (n - 1) p / 100, interpolate between the neighbours.
    ordered = np.sort(durations)
    h = (ordered.size - 1) * 0.95
    assert result[95.0] == pytest.approx(ordered[int(h)] + (h - int(h)) * (ordered[int(h) + 1] - ordered[int(h)]))


def test_percentiles_of_nothing_are_unknown() -> None:
    assert percentiles([np.nan, np.inf]) == dict.fromkeys(PERCENTS)


@pytest.mark.parametrize(
    ("before", "after", "calls", "flagged", "ratio"),
    [
        (20.0, 45.0, 100, True, 2.25),     # slower by 2.25x and 25 ms
        (20.0, 29.0, 100, False, 1.45),    # below the ratio
        (2.0, 6.0, 100, False, 3.0),       # 3x, but only 4 ms more
        (20.0, 45.0, 49, False, 2.25),     # too few calls for a p95
        (0.0, 6.0, 100, True, math.inf),   # from sub-resolution to 6 ms
        (30.0, 10.0, 100, False, 1 / 3),   # faster
    ],
)
def test_regression_rule(before: float, after: float, calls: int, flagged: bool, ratio: float) -> None:
    result = regressed(ops(before), ops(after, calls))
    assert result[0] is flagged and result[1] == pytest.approx(ratio)


def test_unknown_p95_gives_no_ratio() -> None:
    assert regressed(ops(None), ops(40.0)) == (False, None)
    assert regressed(Operations(calls=100), ops(40.0)) == (False, None)


def test_thresholds_are_arguments() -> None:
    assert regressed(ops(20.0), ops(29.0), ratio=1.4)[0]
    assert not regressed(ops(20.0), ops(45.0), min_delta_ms=30.0)[0]
    assert regressed(ops(20.0), ops(45.0, calls=10), min_calls=10)[0]
