"""Hellinger distance ``sqrt(1 - sum(sqrt(p * q)))`` over the bins (or categories).

Evidently computes it from density histograms times the (equal) bin width, which is the same
Bhattacharyya sum over shares; on the same bins the values agree to rounding. Significance:
chi-square homogeneity on the same counts.
"""

from __future__ import annotations

import numpy as np

from modelspan.analyzer.drift._core import Measure, Sample, aligned_counts, homogeneity_p_value, register, shares


@register("hellinger", ("numeric", "categorical", "text"), 0.1)
def hellinger(reference: Sample, current: Sample) -> Measure:
    """Between 0 (same shares) and 1 (no bin in common).

    >>> from modelspan.analyzer.drift import Categories
    >>> hellinger(Categories({"a": 3}), Categories({"b": 3})).score
    1.0
    """
    ref, cur = aligned_counts(reference, current)
    overlap = float(np.clip(np.sum(np.sqrt(shares(ref) * shares(cur))), 0.0, 1.0))
    return Measure(float(np.sqrt(1.0 - overlap)), homogeneity_p_value(ref, cur))
