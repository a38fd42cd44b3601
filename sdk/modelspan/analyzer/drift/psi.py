"""Population Stability Index: ``sum((p_ref - p_cur) * ln(p_ref / p_cur))`` over the bins.

Empty bins are smoothed with Evidently's epsilon rule (:func:`~modelspan.analyzer.drift._core.smoothed`),
so on the same bins the value equals Evidently's ``psi`` to rounding. Significance: the chi-square
homogeneity test on the same counts.
"""

from __future__ import annotations

import numpy as np

from modelspan.analyzer.drift._core import (
    Measure,
    Sample,
    aligned_counts,
    homogeneity_p_value,
    register,
    shares,
    smoothed,
)


@register("psi", ("numeric", "categorical", "text"), 0.1)
def psi(reference: Sample, current: Sample) -> Measure:
    """PSI of two histograms over the same bins (or two category counts).

    >>> from modelspan.analyzer.drift import Categories
    >>> round(psi(Categories({"a": 50, "b": 50}), Categories({"a": 90, "b": 10})).score, 4)
    0.8789
    """
    ref, cur = aligned_counts(reference, current)
    p, q = smoothed(shares(ref)), smoothed(shares(cur))
    return Measure(float(np.sum((p - q) * np.log(p / q))), homogeneity_p_value(ref, cur))
