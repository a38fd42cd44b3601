"""Jensen-Shannon distance: scipy on the same shares, Evidently on the same bins (1e-9)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import distance

from modelspan.analyzer.drift import Binned, Categories, run
from tests.sdk.analyzer.drift._data import SHAPES, rng_for, sample
from tests.sdk.analyzer.drift._peer import categories, evidently, evidently_bins


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("shift", [0.0, 0.2, 1.0])
def test_matches_evidently_and_scipy_on_the_same_bins(shape: str, shift: float) -> None:
    rng = rng_for(shape, shift, "js")
    ref, cur = sample(rng, shape, 3000), sample(rng, shape, 2000, shift)
    pair = (categories(ref), categories(cur)) if len(np.unique(ref)) <= 20 else evidently_bins(ref, cur)
    ours = run("jensen_shannon", *pair)
    assert ours.score == pytest.approx(evidently("jensen_shannon", ref, cur), abs=1e-9)
    if isinstance(pair[0], Binned) and isinstance(pair[1], Binned):
        assert ours.score == pytest.approx(distance.jensenshannon(pair[0].counts, pair[1].counts), abs=1e-9)


def test_categories_over_the_union_match_evidently() -> None:
    rng = np.random.default_rng(5)
    ref = rng.choice(["x", "y", "z"], 2000, p=[0.5, 0.3, 0.2])
    cur = rng.choice(["x", "y", "w"], 1500, p=[0.3, 0.3, 0.4])
    ours = run("jensen_shannon", categories(ref), categories(cur))
    assert ours.score == pytest.approx(evidently("jensen_shannon", ref, cur, categorical=True), abs=1e-9)


def test_extremes() -> None:
    same = run("jensen_shannon", Categories({"a": 300, "b": 700}), Categories({"a": 600, "b": 1400}))
    apart = run("jensen_shannon", Categories({"a": 300}), Categories({"b": 300}))
    assert same.score == pytest.approx(0.0, abs=1e-12) and not same.drifted
    assert apart.score == pytest.approx(np.sqrt(np.log(2)), abs=1e-12) and apart.drifted
