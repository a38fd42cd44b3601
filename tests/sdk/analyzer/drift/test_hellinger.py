"""Hellinger distance: by hand, and Evidently on the same (Sturges over distinct values) bins."""

from __future__ import annotations

import numpy as np
import pytest

from modelspan.analyzer.drift import Binned, run
from tests.sdk.analyzer.drift._data import SHAPES, rng_for, sample
from tests.sdk.analyzer.drift._peer import categories, evidently, evidently_hellinger_bins


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("shift", [0.0, 0.2, 1.0])
def test_matches_evidently_on_the_same_bins(shape: str, shift: float) -> None:
    rng = rng_for(shape, shift, "hellinger")
    ref, cur = sample(rng, shape, 3000), sample(rng, shape, 2000, shift)
    ours = run("hellinger", *evidently_hellinger_bins(ref, cur))
    assert ours.score == pytest.approx(evidently("hellinger", ref, cur), abs=1e-9)


def test_categories_match_evidently() -> None:
    rng = np.random.default_rng(9)
    ref = rng.choice(["a", "b", "c"], 1000, p=[0.6, 0.3, 0.1])
    cur = rng.choice(["a", "b", "d"], 900, p=[0.3, 0.3, 0.4])
    ours = run("hellinger", categories(ref), categories(cur))
    assert ours.score == pytest.approx(evidently("hellinger", ref, cur, categorical=True), abs=1e-9)


def test_formula_by_hand() -> None:
    ref, cur = np.array([100.0, 300, 400, 200]), np.array([250.0, 250, 250, 250])
    p, q = ref / ref.sum(), cur / cur.sum()
    expected = np.sqrt(1 - np.sum(np.sqrt(p * q)))
    assert run("hellinger", Binned(ref, [0.0, 1, 2]), Binned(cur, [0.0, 1, 2])).score == pytest.approx(expected)
