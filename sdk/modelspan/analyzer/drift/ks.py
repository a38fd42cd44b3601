"""Two-sample Kolmogorov-Smirnov: exact on raw values, bounded from histograms.

Raw values: ``scipy.stats.ks_2samp`` (score = D, p-value as scipy and Evidently give it).

Histograms over the same edges: the ECDFs are known exactly at the edges, so the binned statistic
``D_b = max_j |F_r(e_j-) - F_c(e_j-)|`` is the exact sup over those points and ``D_b <= D``. Inside
bin i (``e_{i-1} <= x < e_i``), with ``g = F_r(e_{i-1}-) - F_c(e_{i-1}-)`` and bin masses ``r_i``,
``c_i``, monotonicity gives ``g - c_i <= F_r(x) - F_c(x) <= g + r_i``. Hence

    D <= max(D_b, max_i max(g_i + r_i, c_i - g_i)) <= D_b + max_i max(r_i, c_i),

and ``bound`` is the first (tighter) excess over ``D_b``: the exact D lies in ``[D_b, D_b + bound]``.
The p-value is Smirnov's asymptotic distribution at ``D_b`` (``kstwo.sf(D_b, round(n m / (n + m)))``,
what ``ks_2samp(method="asymp")`` uses); since ``D_b <= D`` it can only err towards no drift.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from modelspan.analyzer.drift._core import Binned, Measure, Raw, Sample, aligned_counts, register, shares


def binned_statistic(reference: Binned, current: Binned) -> tuple[float, float]:
    """``(D_b, bound)`` from two histograms over the same edges (see the module docstring)."""
    ref, cur = aligned_counts(reference, current)
    r, c = shares(ref), shares(cur)
    gaps = np.cumsum(r)[:-1] - np.cumsum(c)[:-1]
    d_binned = float(np.max(np.abs(gaps))) if gaps.size else 0.0
    below = np.concatenate([[0.0], gaps])  # g at the lower edge of each bin; 0 below the first
    worst = float(np.max(np.maximum(below + r, c - below)))
    return d_binned, max(worst - d_binned, 0.0)


@register("ks", ("numeric", "text"), 0.05, decide_on="p_value", inputs=(Binned, Raw))
def ks(reference: Sample, current: Sample) -> Measure:
    """Drifted when the p-value is below the threshold (0.05 by default, before any FDR control).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ks(Raw(rng.normal(size=500)), Raw(rng.normal(1, size=500))).p_value < 1e-10
    True
    """
    if isinstance(reference, Raw) and isinstance(current, Raw):
        with warnings.catch_warnings():  # scipy falls back from exact to asymptotic with a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            result = stats.ks_2samp(reference.values, current.values)
        return Measure(float(result.statistic), float(result.pvalue))
    assert isinstance(reference, Binned) and isinstance(current, Binned)
    statistic, bound = binned_statistic(reference, current)
    n, m = reference.total, current.total
    p_value = float(np.clip(stats.kstwo.sf(statistic, np.round(n * m / (n + m))), 0.0, 1.0))
    return Measure(statistic, p_value, bound)
