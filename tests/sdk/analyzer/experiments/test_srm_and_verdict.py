"""The sample-ratio-mismatch gate and the verdict built on it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from modelspan.analyzer.experiments import Design, Moments, evaluate, sample_ratio_mismatch

DESIGN = Design(tau=0.02)


def test_srm_matches_scipy_chisquare() -> None:
    counts, weights = [5230, 4890, 10100], [0.25, 0.25, 0.5]
    ours = sample_ratio_mismatch(counts, weights)
    expected = np.asarray(weights) * sum(counts)
    ref = stats.chisquare(counts, expected)
    assert ours.statistic == pytest.approx(ref.statistic)
    assert ours.p_value == pytest.approx(ref.pvalue)


def test_fifty_fifty_served_fifty_two_forty_eight_raises_srm_and_suppresses_the_effect() -> None:
    units = {"champion": 10_400, "challenger": 9_600}
    # A real and large effect is present, but the arms are not comparable: no verdict on it.
    metrics = {"error": {"champion": Moments(10_400, 2_080, 2_080), "challenger": Moments(9_600, 1_440, 1_440)}}
    verdict = evaluate(units, {"champion": 0.5, "challenger": 0.5}, metrics, "champion", DESIGN, ["error"])
    assert verdict.sample_ratio.mismatch
    assert verdict.status == "srm" and verdict.effects == ()
    assert dict(verdict.arms) == {"challenger": "srm"}
    # The same effect with the promised split is reported as a win.
    metrics = {"error": {"champion": Moments(10_000, 2_000, 2_000), "challenger": Moments(10_000, 1_500, 1_500)}}
    fair = evaluate({"champion": 10_000, "challenger": 10_000}, {"champion": 0.5, "challenger": 0.5},
                    metrics, "champion", DESIGN, ["error"])
    assert not fair.sample_ratio.mismatch
    assert dict(fair.arms) == {"challenger": "win"}
    (effect,) = fair.effects
    assert effect.direction == "better" and effect.upper is not None and effect.upper < 0


def test_srm_false_alarms_stay_rare_under_hourly_peeking() -> None:
    rng = np.random.default_rng(5)
    units = rng.binomial(120, 0.5, (200, 336))
    a, b = units.cumsum(axis=1), (120 - units).cumsum(axis=1)
    expected = (a + b) / 2
    chi = (np.square(a - expected) + np.square(b - expected)) / expected
    rate = float(np.mean(np.any(stats.chi2.sf(chi, 1) < DESIGN.srm_alpha, axis=1)))
    print(f"SRM false alarms over 200 seeds x 336 looks at alpha={DESIGN.srm_alpha}: {rate:.1%}")
    assert rate <= 0.05


def test_a_worse_metric_makes_an_arm_lose_and_bh_guards_many_metrics() -> None:
    n = 20_000
    metrics = {
        "error": {"A": Moments(n, 4_000, 4_000), "B": Moments(n, 4_800, 4_800)},  # B worse by 4 points
        "accuracy": {"A": Moments(n, 16_000, 16_000), "B": Moments(n, 16_010, 16_010)},  # no effect
    }
    verdict = evaluate({"A": n, "B": n}, {"A": 0.5, "B": 0.5}, metrics, "A", DESIGN, ["error"])
    by_metric = {e.metric: e for e in verdict.effects}
    assert by_metric["error"].direction == "worse" and by_metric["accuracy"].direction == "none"
    assert dict(verdict.arms) == {"B": "lose"}
    assert all(e.q_value is not None and e.p_value is not None and e.q_value >= e.p_value for e in verdict.effects)


def test_too_few_units_is_not_enough_data_not_a_pass() -> None:
    verdict = evaluate({"A": 40, "B": 40}, {"A": 0.5, "B": 0.5},
                       {"error": {"A": Moments(40, 4, 4), "B": Moments(40, 20, 20)}}, "A", DESIGN, ["error"])
    assert verdict.status == "not_enough_data" and dict(verdict.arms) == {"B": "not_enough_data"}


def test_unknown_control_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="control arm"):
        evaluate({"A": 1}, {"A": 1.0}, {}, "Z", DESIGN)
