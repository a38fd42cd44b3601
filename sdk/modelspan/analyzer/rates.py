"""Is a failure rate higher than it would be with nothing changed? Calibrated one-sided tests.

A data-quality check counts failing values (missing, NaN, wrong type, outside the baseline's range,
a category the baseline never saw). Some failures are expected even on unchanged traffic, and the
test must compare with *that* rate, not with zero:

* **Out of range** of a baseline of ``m`` finite values: the baseline's own min and max leave out
  the two extreme spacings of the distribution, whose total mass is ``Beta(2, m - 1)`` (order
  statistics of a continuous variable), mean ``2 / (m + 1)``. So ``k`` of ``n`` fresh values outside
  is beta-binomial ``BetaBinomial(n, 2, m - 1)`` with nothing changed, exactly, whatever the
  distribution (ties and discrete values only make it smaller, so the test stays conservative).
  :func:`out_of_range_p_value` is its upper tail.
* **A count against a reference count** (missing values vs the baseline's, any check vs a reference
  window, unseen categories vs the baseline's rare ones): Fisher's exact test, one-sided
  (:func:`excess_p_value`), exact at any count, including a reference of 0 failures.
* **Unseen categories** of a baseline profile: a fresh value falls outside the categories a sample
  of ``m`` saw with probability about ``N1 / m`` (Good-Turing: ``N1`` categories seen once). A
  profile names only its top categories, so :func:`unseen_reference_count` bounds ``N1`` from above.

>>> round(out_of_range_p_value(2, 200, 200), 3)  # two of 200 outside a 200-value range: usual
0.5
>>> out_of_range_p_value(40, 200, 200) < 1e-10
True
"""

from __future__ import annotations

from collections.abc import Sequence

from scipy import stats


def out_of_range_p_value(failed: int, n: int, reference_count: int) -> float:
    """``P(K >= failed)`` for ``K ~ BetaBinomial(n, 2, reference_count - 1)``.

    ``reference_count``: finite values the baseline's min and max came from (at least 2).

    >>> import scipy.stats as s
    >>> out_of_range_p_value(5, 1000, 1000) == float(s.betabinom.sf(4, 1000, 2, 999))
    True
    """
    if failed <= 0:
        return 1.0
    if reference_count < 2 or n <= 0:
        raise ValueError(f"need n > 0 and a reference of at least 2 values, got n={n}, m={reference_count}")
    return float(stats.betabinom.sf(failed - 1, n, 2, reference_count - 1))


def expected_out_of_range(reference_count: int) -> float:
    """Expected share of fresh values outside the min/max of ``reference_count`` values: ``2 / (m + 1)``."""
    return 2.0 / (reference_count + 1) if reference_count > 0 else 0.0


def excess_p_value(failed: int, n: int, reference_failed: int, reference_n: int) -> float:
    """One-sided Fisher exact p-value that ``failed / n`` is above ``reference_failed / reference_n``.

    >>> round(excess_p_value(10, 100, 0, 100), 4)
    0.0008
    >>> excess_p_value(0, 100, 5, 100)
    1.0
    """
    if n <= 0 or reference_n <= 0:
        raise ValueError("both sides need values")
    if failed <= 0:
        return 1.0
    table = [[failed, n - failed], [reference_failed, reference_n - reference_failed]]
    return float(stats.fisher_exact(table, alternative="greater").pvalue)


def unseen_reference_count(category_counts: Sequence[int], known: int, other_count: int) -> int:
    """Upper bound on the baseline's singletons ``N1``: values a fresh sample would not find in it.

    ``category_counts``: counts of the named categories; ``known``: how many categories the baseline
    saw in all (its vocabulary); ``other_count``: its values outside the named ones. Each unnamed
    category holds at least one of those values, so at most ``min(known - named, other_count)`` of
    them are singletons; named ones with a count of 1 are.

    >>> unseen_reference_count([50, 30, 1], known=10, other_count=9)
    8
    """
    named = len(category_counts)
    singletons = sum(1 for count in category_counts if count == 1)
    return singletons + max(0, min(known - named, other_count))
