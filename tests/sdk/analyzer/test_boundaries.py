"""Every threshold comparison of the statistics, at the threshold itself and one step either side.

A verdict that flips from ``>=`` to ``>`` (or ``<`` to ``<=``) changes what users are alerted on only
at the boundary, which random data never hits; these tests put values exactly there.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelspan.analyzer.drift import MIN_SAMPLES, REGISTRY, Binned, Categories, Rate, Raw, run
from modelspan.analyzer.drift._core import Sample
from modelspan.analyzer.multiple_testing import benjamini_hochberg

EDGES = np.array([-1.0, 0.0, 1.0])


def _pair(kind: type, n_ref: float = 400, n_cur: float = 400) -> tuple[Sample, Sample]:
    """A reference and a shifted current sample of type ``kind`` with the given totals."""
    if kind is Binned:
        return (Binned(np.array([0.1, 0.4, 0.4, 0.1]) * n_ref, EDGES, -2.0, 2.0, 0.8),
                Binned(np.array([0.05, 0.25, 0.45, 0.25]) * n_cur, EDGES, -2.0, 2.5, 0.9))
    if kind is Categories:
        return (Categories({"a": 0.5 * n_ref, "b": 0.5 * n_ref}),
                Categories({"a": 0.4 * n_cur, "b": 0.5 * n_cur, "new": 0.1 * n_cur}))
    if kind is Raw:
        rng = np.random.default_rng(7)
        return Raw(rng.normal(0, 1, int(n_ref))), Raw(rng.normal(0.3, 1, int(n_cur)))
    return Rate(0.02, int(n_ref)), Rate(0.09, int(n_cur))


CASES = [(name, kind) for name, test in sorted(REGISTRY.items()) for kind in test.inputs]


@pytest.mark.parametrize(("name", "kind"), CASES, ids=[f"{n}-{k.__name__}" for n, k in CASES])
def test_verdict_at_the_threshold(name: str, kind: type) -> None:
    reference, current = _pair(kind)
    measured = run(name, reference, current)
    assert measured.enough_data and math.isfinite(measured.score)
    if REGISTRY[name].decide_on == "p_value":
        p = measured.p_value
        assert p is not None and 0 < p < 1
        assert run(name, reference, current, threshold=p).drifted is False  # p < threshold, strictly
        assert run(name, reference, current, threshold=float(np.nextafter(p, 1))).drifted is True
        assert run(name, reference, current, threshold=float(np.nextafter(p, 0))).drifted is False
    else:
        score = measured.score
        assert score > 0
        assert run(name, reference, current, threshold=score).drifted is True  # score >= threshold
        assert run(name, reference, current, threshold=float(np.nextafter(score, math.inf))).drifted is False
        assert run(name, reference, current, threshold=float(np.nextafter(score, 0))).drifted is True


@pytest.mark.parametrize(("name", "kind"), CASES, ids=[f"{n}-{k.__name__}" for n, k in CASES])
def test_minimum_sample_count_on_either_side(name: str, kind: type) -> None:
    at_limit = run(name, *_pair(kind, MIN_SAMPLES, MIN_SAMPLES), threshold=0.0 if name != "ks" else 1.0)
    assert at_limit.enough_data and at_limit.reference_count == MIN_SAMPLES == at_limit.current_count
    for n_ref, n_cur in ((MIN_SAMPLES - 1, MIN_SAMPLES), (MIN_SAMPLES, MIN_SAMPLES - 1), (0, 0)):
        below = run(name, *_pair(kind, n_ref, n_cur), threshold=0.0)
        assert not below.enough_data and not below.drifted and math.isnan(below.score)
        assert below.p_value is None and (below.reference_count, below.current_count) == (n_ref, n_cur)


def test_fractional_counts_just_below_the_minimum_give_no_verdict() -> None:
    reference = Binned(np.array([10.0, 40.0, 39.5, 10.0]), EDGES)
    current = _pair(Binned, 1000, 1000)[1]
    assert reference.total == MIN_SAMPLES - 0.5
    assert not run("psi", reference, current).enough_data
    assert run("psi", Binned(np.array([10.0, 40.0, 40.0, 10.0]), EDGES), current).enough_data


def test_default_thresholds_are_the_documented_ones() -> None:
    assert {name: (test.default_threshold, test.decide_on) for name, test in REGISTRY.items()} == {
        "chi_square": (0.05, "p_value"), "hellinger": (0.1, "score"), "jensen_shannon": (0.1, "score"),
        "ks": (0.05, "p_value"), "new_category_rate": (0.01, "score"), "oov_rate": (0.05, "score"),
        "psi": (0.1, "score"), "wasserstein": (0.1, "score"),
    }
    assert MIN_SAMPLES == 100
    assert run("psi", *_pair(Binned)).threshold == 0.1


@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.2])
def test_benjamini_hochberg_rejects_at_exactly_alpha(alpha: float) -> None:
    rejected, adjusted = benjamini_hochberg([alpha], alpha)
    assert adjusted.tolist() == [alpha] and rejected.tolist() == [True]
    assert benjamini_hochberg([float(np.nextafter(alpha, 1))], alpha)[0].tolist() == [False]
    # two tests: q of the smaller is min(2 p1, p2); at exactly alpha both are rejected
    rejected, adjusted = benjamini_hochberg([alpha / 2, alpha], alpha)
    assert rejected.tolist() == [True, True] and adjusted.tolist() == pytest.approx([alpha, alpha])


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.5])
def test_benjamini_hochberg_alpha_must_lie_strictly_between_0_and_1(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        benjamini_hochberg([0.5], alpha)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_p_values_at_the_ends_of_0_1_are_valid(p: float) -> None:
    rejected, adjusted = benjamini_hochberg([p, 0.5])
    assert adjusted[0] == (0.0 if p == 0.0 else 1.0) and rejected[0] == (p == 0.0)


@pytest.mark.parametrize("p", [-1e-12, 1 + 1e-12])
def test_p_values_outside_0_1_are_refused(p: float) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        benjamini_hochberg([p])


def test_benjamini_hochberg_takes_two_dimensional_input_and_keeps_the_order() -> None:
    rejected, adjusted = benjamini_hochberg(np.array([[0.04, 0.001], [0.5, 0.03]]))
    expected_q = [0.16 / 3, 0.004, 0.5, 0.16 / 3]  # p * 4 / rank, then the running minimum from the top
    assert adjusted.tolist() == pytest.approx(expected_q) and rejected.tolist() == [False, True, False, False]
    assert benjamini_hochberg(np.array([[0.04, 0.001], [0.5, 0.03]]), 0.06)[0].tolist() == [True, True, False, True]
