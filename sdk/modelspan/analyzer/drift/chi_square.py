"""Chi-square goodness of fit of the current counts to the reference shares (``scipy.stats.chisquare``).

Expected counts are the reference shares times the current total, over the union of categories
(Evidently's construction). A category the reference never saw would have an expected count of 0 and
an infinite statistic; we give it the share :data:`~modelspan.analyzer.drift._core.EPSILON` (or the
smaller Evidently rule) and renormalise, so the test stays finite and such categories still weigh
heavily. Without unseen categories the p-value equals Evidently's ``chisquare``. The score is
Cramér's V-like effect size ``sqrt(chi2 / n_current / (k - 1))`` so a huge window does not turn a
tiny shift into a large number.
"""

from __future__ import annotations

import math

from scipy import stats

from modelspan.analyzer.drift._core import Measure, Sample, aligned_counts, register, shares, smoothed


@register("chi_square", ("categorical",), 0.05, decide_on="p_value")
def chi_square(reference: Sample, current: Sample) -> Measure:
    """Drifted when the p-value is below the threshold (0.05 by default, before any FDR control).

    >>> from modelspan.analyzer.drift import Categories
    >>> chi_square(Categories({"a": 500, "b": 500}), Categories({"a": 500, "b": 500})).p_value
    1.0
    """
    ref, cur = aligned_counts(reference, current)
    keep = (ref + cur) > 0
    ref, cur = ref[keep], cur[keep]
    if ref.size < 2:
        return Measure(0.0, 1.0)
    expected_share = smoothed(shares(ref))
    expected = expected_share / expected_share.sum() * cur.sum()
    result = stats.chisquare(cur, expected)
    statistic = float(result.statistic)
    effect = math.sqrt(statistic / cur.sum() / (cur.size - 1)) if cur.sum() else 0.0
    return Measure(effect, float(result.pvalue))
