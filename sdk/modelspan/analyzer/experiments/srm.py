"""Sample-ratio mismatch: are the arms getting the share of units the design promised?

A 50/50 split served 52/48 means the assignment, the logging or a crash path differs between arms,
and then no effect estimate can be trusted (Fabijan et al., "Diagnosing Sample Ratio Mismatch in
Online Controlled Experiments", KDD 2019). The check is Pearson's chi-square goodness of fit of the
observed unit counts against the design's weights, at a strict level (default ``0.001``) because it
is repeated at every look and a false alarm blocks every verdict. It runs before any effect is
reported; when it fires, the experiment's verdict is ``srm`` whatever the effects say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SampleRatio:
    """The check's outcome: the chi-square ``statistic`` and its ``p_value``, ``mismatch`` when
    ``p_value < alpha``, and the observed and expected shares per arm (same order as the counts)."""

    statistic: float
    p_value: float
    mismatch: bool
    observed: tuple[float, ...]
    expected: tuple[float, ...]


def sample_ratio_mismatch(counts: Sequence[int], weights: Sequence[float], alpha: float = 0.001) -> SampleRatio:
    """Chi-square goodness of fit of unit ``counts`` per arm against the design's ``weights``.

    >>> r = sample_ratio_mismatch([10400, 9600], [0.5, 0.5])
    >>> r.mismatch, round(r.statistic, 1)
    (True, 32.0)
    >>> sample_ratio_mismatch([10040, 9960], [0.5, 0.5]).mismatch
    False
    """
    from scipy import stats

    observed = np.asarray(counts, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if observed.shape != w.shape or observed.ndim != 1 or observed.size < 2:
        raise ValueError("counts and weights need one entry per arm, at least two arms")
    if np.any(w <= 0) or np.any(observed < 0):
        raise ValueError("weights must be positive and counts non-negative")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    expected_share = w / w.sum()
    total = observed.sum()
    if total == 0:
        return SampleRatio(0.0, 1.0, False, tuple(0.0 for _ in w), tuple(expected_share.tolist()))
    expected = expected_share * total
    statistic = float(np.sum(np.square(observed - expected) / expected))
    p_value = float(stats.chi2.sf(statistic, df=observed.size - 1))
    return SampleRatio(
        statistic=statistic,
        p_value=p_value,
        mismatch=p_value < alpha,
        observed=tuple((observed / total).tolist()),
        expected=tuple(expected_share.tolist()),
    )
