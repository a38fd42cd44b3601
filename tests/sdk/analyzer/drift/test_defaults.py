"""The defaults behave: 50 clean features flag nothing, planted problems are found (default tests + BH)."""

from __future__ import annotations

import numpy as np
import pytest

from modelspan.analyzer.drift import OTHER, Binned, Categories, DriftResult, default_tests, run
from modelspan.analyzer.multiple_testing import benjamini_hochberg
from modelspan.baseline import FeatureProfile
from tests.sdk.analyzer.drift._data import SHAPES, rng_for, sample

LEVELS = np.array(["a", "b", "c", "d", "e", "f"])
SHARES = np.array([0.3, 0.25, 0.2, 0.1, 0.1, 0.05])


def _numeric(profile: FeatureProfile, values: np.ndarray) -> tuple[Binned, Binned]:
    edges = np.asarray(profile.edges, dtype=float)
    reference = Binned(np.asarray(profile.bin_counts, dtype=float), edges, profile.min, profile.max, profile.std)
    return reference, Binned.from_values(values, edges)


def _categorical(profile: FeatureProfile, values: np.ndarray) -> tuple[Categories, Categories]:
    reference = dict(zip(profile.categories, profile.category_counts, strict=True))
    if profile.other_count:
        reference[OTHER] = profile.other_count
    keys, counts = np.unique(values, return_counts=True)
    current = {str(k): int(c) for k, c in zip(keys, counts, strict=True)}
    return Categories(reference), Categories(current)


def _flagged(columns: list[list[DriftResult]]) -> list[int]:
    """The engine's rule: some test over its threshold and the column's p-value survives BH."""
    p_values = [next((r.p_value for r in results if r.p_value is not None), None) for results in columns]
    rejected, _ = benjamini_hochberg(p_values)
    return [i for i, results in enumerate(columns)
            if any(r.drifted for r in results) and (p_values[i] is None or rejected[i])]


def _model(seed: int, n_ref: int, n_cur: int, plant: dict[int, str]) -> list[int]:
    rng = rng_for(seed, n_ref, "model")
    columns = []
    for i in range(50):
        problem = plant.get(i)
        if i % 5 == 4:  # every fifth feature categorical
            ref = rng.choice(LEVELS, n_ref, p=SHARES)
            cur = rng.choice(LEVELS, n_cur, p=SHARES)
            if problem == "new category":
                cur[: n_cur // 20] = "zebra"
            profile = FeatureProfile.from_values(f"f{i}", ref.tolist(), kind="categorical")
            pair: tuple[Binned, Binned] | tuple[Categories, Categories] = _categorical(profile, cur)
        else:
            shape = SHAPES[i % len(SHAPES)]
            ref, cur = sample(rng, shape, n_ref), sample(rng, shape, n_cur, 0.5 if problem == "shift" else 0.0)
            if problem == "unit change":
                cur = cur * 1.8 + 32
            pair = _numeric(FeatureProfile.from_values(f"f{i}", ref.tolist()), cur)
        kind = "categorical" if isinstance(pair[0], Categories) else "numeric"
        columns.append([run(test, *pair) for test in default_tests(kind, n_ref)])  # type: ignore[arg-type]
    return _flagged(columns)


@pytest.mark.parametrize("seed", range(3))
def test_clean_traffic_over_fifty_features_flags_nothing_at_large_n(seed: int) -> None:
    """Above 1,000 reference rows the verdict is on effect sizes: sampling noise stays far below them."""
    assert _model(seed, 5000, 3000, {}) == []


def test_clean_traffic_at_small_n_is_flagged_about_as_often_as_bh_allows() -> None:
    """At or below 1,000 rows the verdict is on p-values (KS, chi-square) with BH at 0.05 across the model:
    under the global null BH bounds the chance that a run flags anything by 0.05, so a clean model is
    quiet in about 19 runs out of 20 rather than never."""
    flagged_runs = [bool(_model(seed, 800, 600, {})) for seed in range(20)]
    assert sum(flagged_runs) <= 3  # expected ~1; P(> 3 | 20 runs, 0.05) is about 1.6%


def test_planted_problems_are_found_and_only_they_at_large_n() -> None:
    plant = {0: "shift", 6: "unit change", 9: "new category"}
    assert _model(7, 5000, 3000, plant) == sorted(plant)


def test_planted_problems_are_found_at_small_n() -> None:
    plant = {0: "shift", 6: "unit change", 9: "new category"}
    flagged = _model(8, 800, 600, plant)
    assert set(plant) <= set(flagged) and len(flagged) <= len(plant) + 1  # BH: false discoveries are rare
