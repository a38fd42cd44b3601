"""PSI: the formula by hand, Evidently on the same bins (1e-9), smoothing of empty bins."""

from __future__ import annotations

import numpy as np
import pytest

from modelspan.analyzer.drift import Binned, Categories, run
from modelspan.analyzer.drift._core import EPSILON, smoothed
from tests.sdk.analyzer.drift._data import SHAPES, rng_for, sample
from tests.sdk.analyzer.drift._peer import categories, evidently, evidently_bins


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("shift", [0.0, 0.2, 1.0])
def test_matches_evidently_on_the_same_bins(shape: str, shift: float) -> None:
    rng = rng_for(shape, shift)
    ref, cur = sample(rng, shape, 3000), sample(rng, shape, 2000, shift)
    if len(np.unique(ref)) <= 20:  # Evidently then uses the distinct values as categories
        ours = run("psi", categories(ref), categories(cur))
    else:
        ours = run("psi", *evidently_bins(ref, cur))
    assert ours.score == pytest.approx(evidently("psi", ref, cur), abs=1e-9)


def test_matches_evidently_on_categories_with_a_missing_one() -> None:
    rng = np.random.default_rng(3)
    ref = rng.choice(["a", "b", "c", "d"], 1000, p=[0.4, 0.3, 0.2, 0.1])
    cur = rng.choice(["a", "b", "c", "e"], 800, p=[0.2, 0.3, 0.2, 0.3])  # d vanishes, e appears
    ours = run("psi", categories(ref), categories(cur))
    assert ours.score == pytest.approx(evidently("psi", ref, cur, categorical=True), abs=1e-9)


def test_formula_by_hand() -> None:
    ref, cur = np.array([100.0, 300, 400, 200]), np.array([200.0, 300, 300, 200])
    p, q = ref / ref.sum(), cur / cur.sum()
    expected = float(np.sum((p - q) * np.log(p / q)))
    result = run("psi", Binned(ref, [0.0, 1, 2]), Binned(cur, [0.0, 1, 2]))
    assert result.score == pytest.approx(expected, rel=1e-12)
    assert result.p_value is not None and 0 < result.p_value < 1e-6


def test_empty_bins_get_evidentlys_epsilon() -> None:
    share = np.array([0.5, 0.5, 0.0])
    assert smoothed(share).tolist() == [0.5, 0.5, EPSILON]
    tiny = np.array([0.99995, 0.00005, 0.0])
    assert smoothed(tiny)[2] == pytest.approx(0.00005 / 1e6)
    result = run("psi", Categories({"a": 500, "b": 500}), Categories({"a": 500, "b": 400, "c": 100}))
    p, q = np.array([0.5, 0.5, EPSILON]), np.array([0.5, 0.4, 0.1])
    assert result.score == pytest.approx(float(np.sum((p - q) * np.log(p / q))), rel=1e-12)
