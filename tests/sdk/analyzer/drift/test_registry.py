"""The registry, run(), the minimum sample count and the defaults; every (kind, test) pair runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelspan.analyzer import drift
from modelspan.analyzer.drift import MIN_SAMPLES, REGISTRY, Binned, Categories, Rate, Raw, default_tests, run

EDGES = np.array([-1.0, 0.0, 1.0])
NAMES = {"psi", "jensen_shannon", "wasserstein", "ks", "hellinger", "chi_square", "new_category_rate", "oov_rate"}


def test_every_test_is_registered_with_a_threshold_and_kinds() -> None:
    assert set(REGISTRY) == NAMES
    for name, test in REGISTRY.items():
        assert test.name == name and test.default_threshold > 0
        assert test.kinds and test.kinds <= {"numeric", "categorical", "text"}


def _clean_and_shifted(name: str, kind: str, n: int) -> tuple[object, object, object]:
    """(reference, same-distribution current, shifted current) of the input the test takes."""
    test = REGISTRY[name]
    if Rate in test.inputs:
        return Rate(0.02, n), Rate(0.02, n), Rate(0.5, n)
    if kind == "categorical":
        ref = {"a": n // 2, "b": n // 4, "c": n - n // 2 - n // 4}
        shifted = {"a": n // 10, "b": n // 10, "c": n // 10, "new": n - 3 * (n // 10)}
        return Categories(ref), Categories(dict(ref)), Categories(shifted)
    counts = np.array([0.1, 0.4, 0.4, 0.1]) * n
    shifted = np.array([0.0, 0.0, 0.1, 0.9]) * n
    summary = {"min": -3.0, "max": 3.0, "std": 1.0}
    return Binned(counts, EDGES, **summary), Binned(counts, EDGES, **summary), Binned(shifted, EDGES, **summary)


PAIRS = sorted((kind, name) for name, test in REGISTRY.items() for kind in test.kinds)


@pytest.mark.parametrize(("kind", "name"), PAIRS)
def test_every_kind_and_test_pair_flags_a_shift_and_not_the_same_data(kind: str, name: str) -> None:
    reference, same, shifted = _clean_and_shifted(name, kind, 2000)
    clean = run(name, reference, same)  # type: ignore[arg-type]
    drifted = run(name, reference, shifted)  # type: ignore[arg-type]
    assert clean.enough_data and not clean.drifted
    assert drifted.enough_data and drifted.drifted, drifted
    assert drifted.score > clean.score
    assert clean.threshold == REGISTRY[name].default_threshold


@pytest.mark.parametrize(("kind", "name"), PAIRS)
def test_no_verdict_below_the_minimum_sample_count(kind: str, name: str) -> None:
    reference, _, shifted = _clean_and_shifted(name, kind, 2000)
    _, _, small = _clean_and_shifted(name, kind, MIN_SAMPLES - 10)
    result = run(name, reference, small)  # type: ignore[arg-type]
    assert not result.enough_data and not result.drifted and result.p_value is None
    assert math.isnan(result.score)
    assert run(name, reference, shifted).drifted  # type: ignore[arg-type]


def test_threshold_override_changes_the_verdict_only() -> None:
    ref = Binned([100, 400, 400, 100], EDGES)
    cur = Binned([150, 350, 350, 150], EDGES)
    default, strict = run("psi", ref, cur), run("psi", ref, cur, threshold=0.001)
    assert default.score == strict.score and not default.drifted and strict.drifted


def test_mismatched_inputs_are_clear_errors() -> None:
    with pytest.raises(KeyError, match="no drift test named"):
        run("nope", Raw([1.0]), Raw([1.0]))
    with pytest.raises(TypeError, match="two samples"):
        run("psi", Raw(np.ones(200)), Raw(np.ones(200)))
    with pytest.raises(TypeError, match="two samples"):
        run("ks", Binned([1, 1, 1, 1], EDGES), Raw(np.ones(200)))
    with pytest.raises(ValueError, match="same"):
        run("psi", Binned([100] * 4, EDGES), Binned([100] * 4, EDGES + 1))
    with pytest.raises(ValueError, match="len"):
        Binned([1, 2], EDGES)
    with pytest.raises(ValueError, match="increasing"):
        Binned([1, 2, 3, 4], [0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="non-negative"):
        Binned([1, -2, 3, 4], EDGES)


def test_binned_from_values_follows_the_baseline_convention() -> None:
    binned = Binned.from_values([-5, -1, -0.5, 0, 0.5, 1, 7, np.nan, np.inf], EDGES)
    # bin 0: x < -1; bin i: e[i-1] <= x < e[i]; last: x >= 1
    assert binned.counts.tolist() == [1, 2, 2, 2]
    assert (binned.min, binned.max) == (-5.0, 7.0)


def test_defaults_follow_kind_and_sample_size() -> None:
    assert default_tests("numeric", 1000) == ("ks",)
    assert default_tests("numeric", 1001) == ("wasserstein", "psi")
    assert default_tests("categorical", 200) == ("chi_square", "new_category_rate")
    assert default_tests("categorical", 10**6) == ("jensen_shannon", "new_category_rate")
    assert default_tests("text", 10) == ("ks", "oov_rate")
    assert default_tests("text", 10**5) == ("wasserstein", "oov_rate")
    for kind in ("numeric", "categorical", "text"):
        for n in (10, 10**6):
            assert all(kind in REGISTRY[name].kinds for name in default_tests(kind, n))
    with pytest.raises(ValueError, match="unknown column kind"):
        default_tests("image", 10)


def test_register_adds_a_test_run_can_use() -> None:
    @drift.register("_test_mean_shift", ("numeric",), 0.5, inputs=(Raw,))
    def mean_shift(reference: drift.Sample, current: drift.Sample) -> drift.Measure:
        assert isinstance(reference, Raw) and isinstance(current, Raw)
        return drift.Measure(abs(float(current.values.mean() - reference.values.mean())))

    try:
        assert run("_test_mean_shift", Raw(np.zeros(200)), Raw(np.ones(200))).drifted
        assert not run("_test_mean_shift", Raw(np.zeros(200)), Raw(np.zeros(200))).drifted
    finally:
        del REGISTRY["_test_mean_shift"]
    with pytest.raises(ValueError, match="unknown column kinds"):
        drift.register("x", ("image",), 0.1)
