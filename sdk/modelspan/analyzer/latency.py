"""Latency regressions on p95, and percentiles from raw durations.

Percentile definition: numpy's ``linear`` interpolation (``np.percentile(method="linear")``, the
"type 7" of Hyndman and Fan). The SQLite store computes exact percentiles this way from the
durations; Elasticsearch's ``percentiles`` aggregation uses a t-digest, which approximates the same
quantity closely but not exactly (typically well under 1% of the value on a few thousand calls), so
a threshold should never rely on the last digit.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from modelspan.store import Operations

PERCENTS: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0)


def percentiles(durations_ms: npt.ArrayLike, percents: tuple[float, ...] = PERCENTS) -> dict[float, float | None]:
    """``{percent: value}`` of the finite durations (None for every percent when there are none).

    >>> percentiles([10, 20, 30, 40, 50], (50, 75, 90))
    {50.0: 30.0, 75.0: 40.0, 90.0: 46.0}
    """
    values = np.asarray(durations_ms, dtype=np.float64).reshape(-1)
    values = values[np.isfinite(values)]
    if not values.size:
        return {float(p): None for p in percents}
    result = np.percentile(values, np.asarray(percents, dtype=np.float64), method="linear")
    return {float(p): float(v) for p, v in zip(percents, result, strict=True)}


def regressed(
    reference: Operations,
    current: Operations,
    ratio: float = 1.5,
    min_delta_ms: float = 5.0,
    min_calls: int = 50,
    percent: float = 95.0,
) -> tuple[bool, float | None]:
    """``(flagged, current_p95 / reference_p95)``.

    Flagged only when both windows have ``min_calls`` calls (a p95 of ten calls is its largest value),
    the ratio is at least ``ratio`` and the p95 grew by at least ``min_delta_ms`` (a 0.2 ms model going
    to 0.4 ms is not an incident). The ratio is None when either p95 is unknown; infinite when the
    reference p95 is 0 and the current one is not.

    >>> before = Operations(calls=100, latency_ms={95.0: 20.0})
    >>> regressed(before, Operations(calls=100, latency_ms={95.0: 45.0}))
    (True, 2.25)
    >>> regressed(before, Operations(calls=10, latency_ms={95.0: 45.0}))
    (False, 2.25)
    """
    before, after = reference.latency_ms.get(percent), current.latency_ms.get(percent)
    if before is None or after is None or not (math.isfinite(before) and math.isfinite(after)):
        return False, None
    # A zero reference p95 (sub-resolution timings): any positive current value is an infinite ratio.
    change = after / before if before > 0 else (math.inf if after > 0 else 1.0)
    enough = reference.calls >= min_calls and current.calls >= min_calls
    flagged = enough and change >= ratio and after - before >= min_delta_ms
    return bool(flagged), change
