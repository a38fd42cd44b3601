"""Per-unit moments: units count once however many requests they make; unit-less calls are exact units."""

from __future__ import annotations

import numpy as np
import pytest

from modelspan.analyzer.experiments.analysis import unit_moments
from modelspan.store._experiment_stats import UnitStats


def test_a_heavy_unit_counts_once() -> None:
    units = [UnitStats("A", "u1", 100, 100, 1000.0, 10_000.0), UnitStats("A", "u2", 1, 0, 10.0, 100.0)]
    metrics, counts = unit_moments(units)
    assert counts == {"A": 2}
    error = metrics["error_rate"]["A"]
    assert (error.count, error.total, error.total_sq) == (2, 1.0, 1.0)  # unit means 1.0 and 0.0, not 100/101


def test_unit_less_calls_are_units_of_one_call_exactly() -> None:
    durations = np.array([1.0, 2.0, 4.0])
    pooled = UnitStats("B", None, 3, 1, float(durations.sum()), float(np.square(durations).sum()), 2, 1)
    metrics, counts = unit_moments([pooled])
    assert counts == {"B": 3}
    latency = metrics["latency_ms"]["B"]
    assert (latency.count, latency.total, latency.total_sq) == (3, 7.0, 21.0)
    assert metrics["error_rate"]["B"].total == 1 and metrics["accuracy"]["B"].count == 2
    assert latency.total_sq / latency.count - (latency.total / latency.count) ** 2 == pytest.approx(durations.var())
