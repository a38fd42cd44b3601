"""Wasserstein-1 distance normalised by the reference standard deviation (Evidently's ``wasserstein``).

Raw values: ``scipy.stats.wasserstein_distance(ref, cur) / max(std(ref), 0.001)`` (population std,
as Evidently), so both agree to rounding.

Histograms over the same edges: ``W = integral |F_r(x) - F_c(x)| dx``. Interior bins have known
edges; the two open-ended bins run to the smaller ``min`` / larger ``max`` of the two samples (width
unknown, and the bound infinite, when a ``min``/``max`` is missing). Inside each bin the ECDFs are
taken as linear (values spread uniformly) and the integral of ``|linear|`` is exact. The exact
integrand lies in ``[L_i, U_i]`` in bin i, where with ``g`` the ECDF gap at the bin's lower edge and
``r_i``, ``c_i`` the bin masses the gap ranges over ``[g - c_i, g + r_i]`` (so ``U_i`` is its largest
absolute value and ``L_i`` its smallest, 0 if it straddles 0); the interpolated integrand lies in
the same range. Hence ``|W_binned - W| <= sum_i w_i (U_i - L_i)``, divided by the same norm: that is
``bound``. It is loose for quantile bins (the worst case piles each bin's mass at one end); the
typical error is far smaller (see tests/sdk/analyzer/drift/test_wasserstein.py). The reference std
is ``reference.std`` if given (the baseline's), else estimated from bin mid-points.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from modelspan.analyzer.drift._core import Binned, FloatArray, Measure, Raw, Sample, aligned_counts, register, shares

NORM_FLOOR = 0.001
"""Smallest norm (Evidently's), so a constant reference column does not divide by zero."""


def _widths(reference: Binned, current: Binned) -> tuple[FloatArray, bool]:
    """Bin widths, and whether the open-ended ones are known from min/max."""
    edges = reference.edges
    lows = [v for v in (reference.min, current.min) if v is not None]
    highs = [v for v in (reference.max, current.max) if v is not None]
    known = len(lows) == 2 and len(highs) == 2
    low = min([*lows, float(edges[0])])
    high = max([*highs, float(edges[-1])])
    return np.diff(np.concatenate([[low], edges, [high]])), known


def _abs_linear_integral(a: FloatArray, b: FloatArray, width: FloatArray) -> FloatArray:
    """Integral of ``|a + (b - a) t|`` for t over [0, 1], times ``width``."""
    same_sign = a * b >= 0
    magnitude = np.abs(a) + np.abs(b)
    crossing = np.divide(a * a + b * b, 2 * magnitude, out=np.zeros_like(a), where=magnitude > 0)
    return width * np.where(same_sign, magnitude / 2, crossing)


def _reference_std(reference: Binned, widths: FloatArray) -> float:
    if reference.std is not None:
        return float(reference.std)
    lower = np.concatenate([[reference.edges[0] - widths[0]], reference.edges])
    middles = lower + widths / 2
    p = shares(reference.counts)
    mean = float(np.sum(p * middles))
    return math.sqrt(max(float(np.sum(p * (middles - mean) ** 2)), 0.0))


def binned_distance(reference: Binned, current: Binned) -> tuple[float, float]:
    """``(normalised W, bound)`` from two histograms over the same edges."""
    ref, cur = aligned_counts(reference, current)
    if not reference.edges.size:
        return 0.0, math.inf
    r, c = shares(ref), shares(cur)
    widths, known = _widths(reference, current)
    upper_gap = np.cumsum(r) - np.cumsum(c)
    upper_gap[-1] = 0.0  # both ECDFs reach 1 at the maximum; avoid rounding residue
    lower_gap = np.concatenate([[0.0], upper_gap[:-1]])
    distance = float(np.sum(_abs_linear_integral(lower_gap, upper_gap, widths)))
    top = np.maximum(np.abs(lower_gap - c), np.abs(lower_gap + r))
    straddles = (lower_gap - c <= 0) & (lower_gap + r >= 0)
    bottom = np.where(straddles, 0.0, np.minimum(np.abs(lower_gap - c), np.abs(lower_gap + r)))
    norm = max(_reference_std(reference, widths), NORM_FLOOR)
    bound = float(np.sum(widths * (top - bottom))) / norm if known else math.inf
    return distance / norm, bound


@register("wasserstein", ("numeric", "text"), 0.1, inputs=(Binned, Raw))
def wasserstein(reference: Sample, current: Sample) -> Measure:
    """Drifted when the normalised distance is at least 0.1 (Evidently's default).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> round(wasserstein(Raw(rng.normal(size=5000)), Raw(rng.normal(0.5, size=5000))).score, 1)
    0.5
    """
    if isinstance(reference, Raw) and isinstance(current, Raw):
        if not reference.values.size or not current.values.size:
            return Measure(0.0)
        norm = max(float(np.std(reference.values)), NORM_FLOOR)
        return Measure(float(stats.wasserstein_distance(reference.values, current.values)) / norm)
    assert isinstance(reference, Binned) and isinstance(current, Binned)
    score, bound = binned_distance(reference, current)
    return Measure(score, None, bound)
