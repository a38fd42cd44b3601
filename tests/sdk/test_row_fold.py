"""The lean single-row fold (``_row_fold``) gives what the general fold gives, value for value.

Random rows mix every kind of value a row may hold (numbers in and out of the baseline's range, NaN,
infinities, nulls, integers, booleans, numpy scalars, known, unseen and over-long categories, text,
numbers as strings, missing and extra features) and random names and orders; each row is summarised
both ways and the profiles, span attributes and data-quality findings are compared exactly (``repr``:
the order of features and the sign of a zero count too).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import modelspan
from modelspan.instrumentation import _feature_profiles, _profiles, _row_fold
from modelspan.instrumentation._checks import Quality, row_attributes
from modelspan.instrumentation._feature_profiles import CallSummary, summarise_input, summarise_output
from modelspan.profiling import _inputs


def _baseline() -> modelspan.Baseline:
    rng = np.random.default_rng(3)
    data = {"x": rng.normal(0.0, 1.0, 500).tolist(), "y": rng.uniform(-5, 5, 500).tolist(),
            "city": rng.choice(["a", "b", "c", "d"], 500).tolist(),
            "review": [" ".join(rng.choice(["good", "bad", "slow", "fast"], 3)) for _ in range(500)],
            "label": rng.choice(["yes", "no"], 500).tolist()}
    return modelspan.Baseline.from_data(data, model="m", version="1", output="label", categorical=["city"],
                                        text=["review"])


def _edge_values() -> list[float]:
    """Values on the baseline's bounds and bin edges, and zeros of both signs (ties decide min/max)."""
    profiles = _baseline().features
    return [profiles["x"].max, profiles["x"].min, *profiles["y"].edges[:3], 0.0, -0.0, 0.0]


EDGES = _edge_values()


def _value(rng: np.random.Generator) -> Any:
    choice = int(rng.integers(0, 17))
    return [lambda: float(rng.normal(0.0, 1.0)), lambda: float(rng.normal(0.0, 50.0)), lambda: math.nan,
            lambda: math.inf, lambda: -math.inf, lambda: None, lambda: int(rng.integers(-3, 3)), lambda: True,
            lambda: np.float64(rng.normal()), lambda: str(rng.choice(["a", "b", "c"])), lambda: "zzz",
            lambda: "q" * 300, lambda: "good slow unheard", lambda: "1.5", lambda: -0.0, lambda: [1.0],
            lambda: float(rng.choice(EDGES))][choice]()


def _rows(n: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    names = ["x", "y", "city", "review", "extra", "other.name", "_private", ""]
    rows = []
    for _ in range(n):
        chosen = [str(name) for name in rng.permutation(names)[: int(rng.integers(0, len(names) + 1))]]
        if rng.random() < 0.5:  # the commonest rows: numbers and categories of the right kind
            rows.append({name: (str(rng.choice(["a", "b", "zzz"])) if name == "city" else
                                float(rng.choice(EDGES)) if rng.random() < 0.3 else float(rng.normal(0, 3)))
                         for name in chosen if name != "review"})
        else:
            rows.append({name: _value(rng) for name in chosen})
    return rows


def _result(rng: np.random.Generator) -> Any:
    return [0.25, math.nan, "yes", "maybe", float(rng.normal())][int(rng.integers(0, 5))]


def _summaries(row: dict[str, Any], baseline: modelspan.Baseline | None, result: Any,
               path: list[str]) -> tuple[CallSummary, CallSummary | None]:
    general = CallSummary()
    summarise_input(_inputs.Row(row), baseline, {}, general)
    lean: CallSummary | None = CallSummary()
    assert lean is not None
    if not _row_fold.summarise_row(row, baseline, {}, lean, Quality()):
        lean = None
    for summary in (general, lean):
        if summary is not None:
            summarise_output(result, None, True, baseline, summary, path, {}, None)
    return general, lean


def _state(profiles: _profiles._Profiles) -> str:
    (profile,) = profiles.take()
    records = [fold.record(name) for (name, _), fold in profile.features.items()]
    return repr((records, profile.checks, profile.paths, profile.features_dropped))


@pytest.mark.parametrize("with_baseline", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_lean_fold_gives_the_general_profile(with_baseline: bool, seed: int) -> None:
    baseline = _baseline() if with_baseline else None
    rng = np.random.default_rng(100 + seed)
    general, lean = _profiles._Profiles(), _profiles._Profiles()
    taken = 0
    for row in _rows(400, seed):
        path = ["a", "b"] if rng.random() < 0.3 else []
        by_general, by_lean = _summaries(row, baseline, _result(rng), path)
        general.record("m", "1", "", 0, 1_000, False, 1.0, False, by_general)
        lean.record("m", "1", "", 0, 1_000, False, 1.0, False, by_lean or by_general)
        taken += by_lean is not None
    assert taken > 150  # the lean way was taken, and so was the general one
    assert _state(lean) == _state(general)


def test_the_lean_fold_keeps_the_feature_bound_and_its_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_feature_profiles, "MAX_FEATURES", 4)
    baseline = _baseline()
    general, lean = _profiles._Profiles(), _profiles._Profiles()
    for row in _rows(200, 7):
        by_general, by_lean = _summaries(row, baseline, 0.5, [])
        general.record("m", "1", "", 0, 1_000, False, 1.0, False, by_general)
        lean.record("m", "1", "", 0, 1_000, False, 1.0, False, by_lean or by_general)
    assert _state(lean) == _state(general)


@pytest.mark.parametrize("with_baseline", [True, False])
def test_the_lean_summary_writes_the_span_attributes_and_findings_of_the_general_one(with_baseline: bool) -> None:
    baseline = _baseline() if with_baseline else None
    taken = 0
    for row in _rows(400, 11):
        general: dict[str, Any] = {"ml.batch.size": 1}
        lean: dict[str, Any] = {"ml.batch.size": 1}
        found_general, found_lean = Quality(), Quality()
        row_attributes(row, baseline, {}, general, found_general)
        if _row_fold.summarise_row(row, baseline, {}, CallSummary(), found_lean, lean):
            taken += 1
            assert repr(lean) == repr(general)
            assert (found_lean.counts, found_lean.features) == (found_general.counts, found_general.features)
        else:  # the general way is taken with nothing written
            assert lean == {"ml.batch.size": 1} and not found_lean.counts
    assert taken > 150


def test_rows_the_lean_way_cannot_take_go_the_general_way() -> None:
    baseline = _baseline()
    for row in ({"x": 1}, {"x": True}, {"x": None}, {"x": "1.5"}, {"city": 2.0}, {"review": "good"},
                {"review": 3.0}, {1: 2.0}, {"k" * 200: 1.0}, {"x": np.float64(1.0)}):
        assert not _row_fold.summarise_row(row, baseline, {}, CallSummary(), Quality())
    assert not _row_fold.summarise_row({"x": 1.0}, baseline, {"x": "drop"}, CallSummary(), Quality())
    assert _row_fold.summarise_row({"x": math.nan, "city": "zzz", "y": 1e9}, baseline, {}, CallSummary(), Quality())


def test_plans_are_cached_per_names_and_baseline_and_bounded() -> None:
    baseline, other = _baseline(), _baseline()
    plan = _row_fold.plan_for({"x": 1.0}, baseline)
    assert plan is not None and _row_fold.plan_for({"x": 2.0}, baseline) is plan
    assert _row_fold.plan_for({"x": 2.0}, other) is not plan  # another baseline object: its own plan
    for i in range(_row_fold.MAX_PLANS + 5):
        _row_fold.plan_for({f"n{i}": 1.0}, None)
    assert len(_row_fold._PLANS) <= _row_fold.MAX_PLANS


@pytest.mark.parametrize("zeros", [[0.0, -0.0], [-0.0, 0.0]])
def test_ties_keep_the_first_value_as_the_general_fold_does(zeros: list[float]) -> None:
    general, lean = _profiles._Profiles(), _profiles._Profiles()
    for zero in zeros:
        by_general, by_lean = _summaries({"z": zero}, None, zero, [])
        assert by_lean is not None
        general.record("m", "1", "", 0, 1_000, False, 1.0, False, by_general)
        lean.record("m", "1", "", 0, 1_000, False, 1.0, False, by_lean)
    assert _state(lean) == _state(general)


@pytest.mark.parametrize("with_baseline", [True, False])
def test_rows_of_floats_held_and_folded_at_once_add_up_as_one_by_one(with_baseline: bool) -> None:
    """Thousands of rows of one plan (several full buffers), sums that lose precision and overflow."""
    baseline = _baseline() if with_baseline else None
    rng = np.random.default_rng(5)
    general, lean = _profiles._Profiles(), _profiles._Profiles()
    scales = [1.0, 1e-300, 1e15, 1e200]
    for i in range(3_000):
        row = {"x": float(rng.normal(0.0, scales[i % 4])), "y": float(rng.choice(EDGES)),
               "extra": float(rng.normal(1e8, 1.0))}
        by_general, by_lean = _summaries(row, baseline, 0.5, [])
        general.record("m", "1", "", 0, 1_000, False, 1.0, False, by_general)
        lean.record("m", "1", "", 0, 1_000, False, 1.0, False, by_lean or by_general)
    assert _row_fold.PENDING_VALUES < 3 * 3_000  # the buffer was folded while full, not only when taken
    assert _state(lean) == _state(general)


def test_a_sum_that_overflows_is_infinite_held_and_null_in_the_record() -> None:
    profiles = _profiles._Profiles()
    for _ in range(3):
        _, by_lean = _summaries({"x": 1e308}, None, 0.5, [])
        profiles.record("m", "1", "", 0, 1_000, False, 1.0, False, by_lean)
    (profile,) = profiles.take()
    fold = profile.features[("x", None)]
    assert (fold.sum, fold.sum_sq, fold.record("x")["sum"], fold.record("x")["count"]) == (math.inf, math.inf, None, 3)
