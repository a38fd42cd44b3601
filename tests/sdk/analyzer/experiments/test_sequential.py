"""Always-valid inference survives peeking: A/A false winners, power at +2 points, coverage.

Every test simulates 200 seeds x 14 days x 24 hourly looks in a handful of numpy calls: per hour and
arm a Poisson number of units (60 on average, about 20,000 per arm over the 14 days) and a binomial
number of errors; the analysis at each look sees the cumulative statistics since the start, which is
exactly what the analyzer sees when it runs every window.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from modelspan.analyzer.experiments import Design, msprt, naive_z_test, running

SEEDS = 200
LOOKS = 14 * 24
UNITS_PER_HOUR = 60
DESIGN = Design(tau=0.02)

Arm = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]


def simulate(seed: int, rate_a: float, rate_b: float) -> tuple[Arm, Arm]:
    rng = np.random.default_rng(seed)
    arms = []
    for rate in (rate_a, rate_b):
        units = rng.poisson(UNITS_PER_HOUR, (SEEDS, LOOKS))
        errors = rng.binomial(units, rate)
        arms.append((units.cumsum(axis=1), errors.cumsum(axis=1), errors.cumsum(axis=1)))
    return arms[0], arms[1]


@pytest.mark.parametrize("base_rate", [0.2, 0.05])
def test_a_a_false_winner_rate_stays_below_alpha_under_hourly_peeking(base_rate: float) -> None:
    control, treatment = simulate(1, base_rate, base_rate)
    result = msprt(control, treatment, DESIGN)
    ours = float(np.mean(np.any((result.lower > 0) | (result.upper < 0), axis=1)))
    enough = (control[0] >= DESIGN.min_units) & (treatment[0] >= DESIGN.min_units)
    naive = float(np.mean(np.any((naive_z_test(control, treatment) < 0.05) & enough, axis=1)))
    print(f"A/A at {base_rate:.0%}, {SEEDS} seeds x {LOOKS} looks: mSPRT false winners {ours:.1%}, "
          f"naive repeated z-test {naive:.1%}")
    assert ours <= DESIGN.alpha
    assert naive >= 4 * DESIGN.alpha  # the reason this module exists
    # The always-valid p-value agrees with the interval: p < alpha exactly when 0 is excluded.
    excluded = (result.lower > 0) | (result.upper < 0)
    assert np.array_equal(excluded, result.p_value < DESIGN.alpha)


def test_two_point_error_rate_difference_is_found_by_20000_units_per_arm() -> None:
    control, treatment = simulate(2, 0.20, 0.22)
    result = msprt(control, treatment, DESIGN)
    detected = result.lower > 0
    first = np.where(detected.any(axis=1), detected.argmax(axis=1), LOOKS - 1)
    units_at_detection = np.where(detected.any(axis=1), control[0][np.arange(SEEDS), first], np.iinfo(np.int64).max)
    by_20000 = float(np.mean(units_at_detection <= 20_000))
    by_1000 = float(np.mean(units_at_detection <= 1_000))
    print(f"+2 points on 20%: found by 20,000 units/arm in {by_20000:.1%} of seeds, "
          f"median units at detection {np.median(units_at_detection):.0f}, by 1,000 units {by_1000:.1%}")
    assert by_20000 >= 0.9
    assert by_1000 <= 0.2  # found by the data, not by a too-narrow interval
    assert not np.any(result.upper < 0)  # never the wrong sign


def test_intervals_cover_the_true_difference_at_every_look_together() -> None:
    control, treatment = simulate(3, 0.20, 0.22)
    result = msprt(control, treatment, DESIGN)
    missed = np.any((result.lower > 0.02) | (result.upper < 0.02), axis=1)
    coverage = 1.0 - float(np.mean(missed))
    print(f"time-uniform coverage over {SEEDS} seeds x {LOOKS} looks: {coverage:.1%}")
    assert coverage >= 0.95
    # The running intersection misses exactly when some single look misses.
    run = running(result)
    assert np.array_equal(np.any((run.lower > 0.02) | (run.upper < 0.02), axis=1), missed)
    steps = np.diff(run.upper - run.lower, axis=1)
    assert np.all(steps[np.isfinite(steps)] <= 1e-12)  # the running interval only narrows


def test_continuous_metric_difference_of_means() -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(100.0, 15.0, 5000)
    b = rng.normal(103.0, 15.0, 5000)
    stats = [(x.size, x.sum(), np.square(x).sum()) for x in (a, b)]
    result = msprt(stats[0], stats[1], Design(tau=3.0))
    assert float(result.difference) == pytest.approx(b.mean() - a.mean())
    assert float(result.variance) == pytest.approx(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert 0 < float(result.lower) < 3.0 < float(result.upper)


def test_closed_form_matches_the_mixture_likelihood_ratio_by_quadrature() -> None:
    # Lambda = integral of N(theta_hat; theta, V) / N(theta_hat; 0, V) over theta ~ N(0, tau^2).
    from scipy import integrate, stats

    n, design = 3000, Design(tau=0.03)
    result = msprt((n, 600, 600), (n, 680, 680), design)
    theta_hat, v = float(result.difference), float(result.variance)

    def integrand(theta: float) -> float:
        ratio = stats.norm.pdf(theta_hat, theta, np.sqrt(v)) / stats.norm.pdf(theta_hat, 0.0, np.sqrt(v))
        return float(ratio * stats.norm.pdf(theta, 0.0, design.tau))

    lam, _ = integrate.quad(integrand, -1, 1, points=[0.0, theta_hat])
    assert float(result.p_value) == pytest.approx(min(1.0, 1.0 / lam), rel=1e-6)


def test_not_enough_data_reports_no_interval() -> None:
    result = msprt((50, 10, 10), (50, 30, 30), DESIGN)
    assert not bool(result.enough_data)
    assert np.isnan(result.lower) and float(result.p_value) == 1.0
    zero_variance = msprt((500, 0, 0), (500, 0, 0), DESIGN)
    assert not bool(zero_variance.enough_data)


@pytest.mark.parametrize("bad", [{"tau": 0.0}, {"tau": 0.02, "alpha": 1.5}, {"tau": 0.02, "min_units": 1}])
def test_design_rejects_bad_parameters(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Design(**bad)  # type: ignore[arg-type]
