"""Always-valid effects: the mixture sequential probability ratio test (mSPRT).

Method: Johari, Pekelis and Walsh, "Always Valid Inference: Bringing Sequential Analysis to A/B
Testing" (2017, arXiv:1512.04922; Operations Research 70(3), 2022), normal mixture on the difference
of two means (a proportion is the mean of a 0/1 metric). With ``theta_hat`` the observed difference
``mean_B - mean_A``, ``V = s_A^2 / n_A + s_B^2 / n_B`` its estimated variance and a normal mixing
distribution ``N(theta_0, tau^2)`` over the alternative, the mixture likelihood ratio is::

    Lambda_n(theta_0) = sqrt(V / (V + tau^2)) * exp(tau^2 (theta_hat - theta_0)^2 / (2 V (V + tau^2)))

Under ``theta = theta_0`` it is a non-negative martingale (asymptotically, with the variance
plugged in), so by Ville's inequality ``P(exists n: Lambda_n >= 1/alpha) <= alpha``: the analyzer may
look after every window, for as long as it likes, and stop whenever it likes. Inverting the test
gives the confidence sequence (the always-valid interval)::

    theta_hat +- sqrt(V (V + tau^2) / tau^2 * (2 log(1/alpha) + log((V + tau^2) / V)))

and the always-valid p-value ``min(1, 1 / Lambda_n(0))``. Both are valid at any data-dependent
look; across looks the running intersection of the intervals and the running minimum of the
p-values are valid too (:func:`running`).

Parameters are fixed when the experiment is created (:class:`Design`): ``alpha`` and ``tau`` (the
mixture's spread, in the metric's own units: a ``tau`` near the effect one hopes to detect gives the
most power there). Choosing them after seeing the data voids the guarantee.

Every function here is vectorised: arrays of cumulative per-arm sufficient statistics
``(count, sum, sum of squares)`` in, arrays out, so the simulation tests analyse 200 seeds x 336
windows in one call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

MIN_UNITS = 100
"""No effect is reported for an arm with fewer units than this (the plug-in variance is too rough)."""


@dataclass(frozen=True)
class Design:
    """The parameters of an experiment's statistics, fixed when the experiment is created.

    ``tau`` is the standard deviation of the mixture over effects, in the metric's units (0.02 for
    "about two points of error rate"); ``alpha`` the error rate of the always-valid intervals;
    ``srm_alpha`` the strict level of the sample-ratio-mismatch check; ``min_units`` the units per arm
    before any effect is reported; ``fdr`` the Benjamini-Hochberg level across metrics x arms.

    >>> Design(tau=0.02).alpha
    0.05
    """

    tau: float
    alpha: float = 0.05
    srm_alpha: float = 0.001
    min_units: int = MIN_UNITS
    fdr: float = 0.05

    def __post_init__(self) -> None:
        if not (self.tau > 0 and math.isfinite(self.tau)):
            raise ValueError(f"tau must be a positive number, got {self.tau}")
        for name in ("alpha", "srm_alpha", "fdr"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise ValueError(f"{name} must be in (0, 1), got {value}")
        if self.min_units < 2:
            raise ValueError(f"min_units must be at least 2, got {self.min_units}")


@dataclass(frozen=True)
class Sequential:
    """Arrays of the same shape: the effect ``difference`` (B - A), its always-valid interval
    ``[lower, upper]``, the always-valid ``p_value`` of "no difference", the plug-in ``variance`` of
    the difference and ``enough_data`` (both arms have ``min_units`` units and a non-zero variance).
    Where ``enough_data`` is False the interval is NaN and the p-value 1."""

    difference: Array
    lower: Array
    upper: Array
    p_value: Array
    variance: Array
    enough_data: npt.NDArray[np.bool_]


def _arm_variance(count: Array, total: Array, total_sq: Array) -> tuple[Array, Array]:
    """``(mean, variance of the mean)`` per arm from count, sum and sum of squares."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / count
        # Sample variance (n - 1); clipped at 0 against rounding in sum_sq - sum^2 / n.
        var = np.maximum(total_sq - total * mean, 0.0) / (count - 1)
        return mean, var / count


def msprt(
    control: tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike],
    treatment: tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike],
    design: Design,
) -> Sequential:
    """Always-valid difference ``treatment - control`` from cumulative ``(count, sum, sum_sq)`` per arm.

    For a 0/1 metric (an error), ``sum_sq == sum``.

    >>> r = msprt((20000, 4000, 4000), (20000, 4400, 4400), Design(tau=0.02))
    >>> round(float(r.difference), 3), bool(r.lower > 0), float(r.p_value) < 0.05
    (0.02, True, True)
    """
    n_a, s_a, q_a = (np.asarray(x, dtype=np.float64) for x in control)
    n_b, s_b, q_b = (np.asarray(x, dtype=np.float64) for x in treatment)
    mean_a, v_a = _arm_variance(n_a, s_a, q_a)
    mean_b, v_b = _arm_variance(n_b, s_b, q_b)
    diff = mean_b - mean_a
    variance = v_a + v_b
    enough = (n_a >= design.min_units) & (n_b >= design.min_units) & (variance > 0)
    v = np.where(enough, variance, 1.0)
    tau2 = design.tau**2
    log_ratio = np.log((v + tau2) / v)
    half = np.sqrt(v * (v + tau2) / tau2 * (2.0 * math.log(1.0 / design.alpha) + log_ratio))
    log_lambda = -0.5 * log_ratio + tau2 * np.square(np.where(enough, diff, 0.0)) / (2.0 * v * (v + tau2))
    p_value = np.where(enough, np.minimum(1.0, np.exp(-log_lambda)), 1.0)
    nan = np.full(np.shape(diff), np.nan)
    return Sequential(
        difference=diff,
        lower=np.where(enough, diff - half, nan),
        upper=np.where(enough, diff + half, nan),
        p_value=p_value,
        variance=variance,
        enough_data=enough,
    )


def running(result: Sequential) -> Sequential:
    """Intersect the intervals and take the minimum p-value along the last axis (the looks).

    Valid because each look's interval covers the truth at all looks at once with probability
    ``1 - alpha``; looks without enough data leave the running values unchanged.
    """
    lower = np.fmax.accumulate(result.lower, axis=-1)
    upper = np.fmin.accumulate(result.upper, axis=-1)
    return Sequential(
        difference=result.difference,
        lower=lower,
        upper=upper,
        p_value=np.minimum.accumulate(result.p_value, axis=-1),
        variance=result.variance,
        enough_data=np.logical_or.accumulate(result.enough_data, axis=-1),
    )


def naive_z_test(
    control: tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike],
    treatment: tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike],
) -> Array:
    """The fixed-horizon two-sided z-test's p-value; valid at ONE pre-planned look only.

    Kept for contrast (``docs/experiments.md``): applied after every window it declares a winner
    on identical arms far more often than its nominal 5%.
    """
    from scipy import stats

    n_a, s_a, q_a = (np.asarray(x, dtype=np.float64) for x in control)
    n_b, s_b, q_b = (np.asarray(x, dtype=np.float64) for x in treatment)
    mean_a, v_a = _arm_variance(n_a, s_a, q_a)
    mean_b, v_b = _arm_variance(n_b, s_b, q_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (mean_b - mean_a) / np.sqrt(v_a + v_b)
    p: Array = np.where(np.isfinite(z), 2.0 * stats.norm.sf(np.abs(z)), 1.0)
    return p
