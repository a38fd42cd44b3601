"""High-cardinality categories: quiet on unchanged traffic, a new category still found (issue 12, item 5)."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

import modelspan
from modelspan import findings
from modelspan.analyzer._documents import Context
from modelspan.analyzer._drift_findings import drift_findings
from modelspan.store import ColumnStats, ModelStats, Operations, Window

WINDOW = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")
CONTEXT = Context(WINDOW, "baseline", None, "2026-11-22T11:00:05.000Z")
LEVELS = 400


def _draw(rng: np.random.Generator, n: int) -> list[str]:
    shares = 1.0 / np.arange(1, LEVELS + 1) ** 0.7
    return [f"L{k}" for k in rng.choice(LEVELS, n, p=shares / shares.sum())]


def _window(baseline: modelspan.Baseline, values: list[str]) -> ModelStats:
    """What a store returns for these values: counts per named category, a counted remainder of
    known ones, and the unseen ones (the most frequent named)."""
    profile = baseline.features["c"]
    counts = Counter(values)
    named = [counts.get(category, 0) for category in profile.categories]
    unseen = {value: count for value, count in counts.items() if value not in profile.known}
    other = len(values) - sum(named) - sum(unseen.values())
    examples = dict(sorted(unseen.items(), key=lambda item: -item[1])[:20])
    column = ColumnStats("c", "categorical", count=len(values), category_counts=named, other_count=other,
                         unseen_count=sum(unseen.values()), unseen_examples=examples)
    return ModelStats("m", "1", Operations(), {}, {}, 0, {}, {"c": column})


def test_unchanged_traffic_of_400_levels_is_not_drift() -> None:
    alarms = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        baseline = modelspan.Baseline.from_data({"c": _draw(rng, 2000)}, model="m", version="1", categorical=["c"])
        docs = drift_findings(CONTEXT, _window(baseline, _draw(rng, 2000)), None, baseline)
        alarms += [d[findings.SUMMARY] for d in docs if d[findings.TYPE] == findings.TYPE_DRIFT and d[findings.FLAGGED]]
    assert len(alarms) <= 1, alarms


def test_a_new_category_in_high_cardinality_traffic_is_found() -> None:
    rng = np.random.default_rng(1)
    baseline = modelspan.Baseline.from_data({"c": _draw(rng, 2000)}, model="m", version="1", categorical=["c"])
    values = _draw(rng, 2000)
    values[::5] = ["brand_new"] * len(values[::5])  # 20% of the window
    docs = drift_findings(CONTEXT, _window(baseline, values), None, baseline)
    (doc,) = [d for d in docs if d[findings.TYPE] == findings.TYPE_DRIFT]
    assert doc[findings.FLAGGED]
    rate = float(re.search(r"new_category_rate ([0-9.e-]+)", doc[findings.SUMMARY]).group(1))  # type: ignore[union-attr]
    assert 0.01 < rate <= 0.2  # 20% new, less the baseline's expected share of unseen categories
    shares = {d[findings.METRIC_NAME]: d for d in docs if d[findings.TYPE] == findings.TYPE_DISTRIBUTION}
    assert any("brand_new" in name for name in shares)  # the evidence still names it
