"""Jensen-Shannon distance (natural log, like ``scipy.spatial.distance.jensenshannon`` and Evidently).

No smoothing is needed: a bin empty in one sample contributes ``p * ln 2 / 2`` finitely. Over the
union of categories for categorical columns. Significance: chi-square homogeneity on the same counts.
"""

from __future__ import annotations

import numpy as np

from modelspan.analyzer.drift._core import Measure, Sample, aligned_counts, homogeneity_p_value, register, shares


def _kl_terms(p: np.ndarray, m: np.ndarray) -> float:
    positive = p > 0
    return float(np.sum(p[positive] * np.log(p[positive] / m[positive])))


@register("jensen_shannon", ("numeric", "categorical", "text"), 0.1)
def jensen_shannon(reference: Sample, current: Sample) -> Measure:
    """``sqrt((KL(p||m) + KL(q||m)) / 2)`` with ``m = (p + q) / 2``; between 0 and sqrt(ln 2).

    >>> from modelspan.analyzer.drift import Categories
    >>> round(jensen_shannon(Categories({"a": 1}), Categories({"b": 1})).score ** 2, 6)  # ln 2
    0.693147
    """
    ref, cur = aligned_counts(reference, current)
    p, q = shares(ref), shares(cur)
    m = (p + q) / 2
    divergence = max((_kl_terms(p, m) + _kl_terms(q, m)) / 2, 0.0)
    return Measure(float(np.sqrt(divergence)), homogeneity_p_value(ref, cur))
