"""Prediction churn between two model versions on the same requests, and McNemar's test.

Churn (Milani Fard et al., "Launch and Iterate: Reducing Prediction Churn", NeurIPS 2016) is the
share of requests whose label changes between the versions, and for scores the mean absolute
difference. It needs no labels: a shadow challenger answering the champion's requests gives it at
once. Once labels arrive, McNemar's test asks whether the versions' accuracies differ on the same
requests, from the discordant pairs only: ``b`` = champion right and challenger wrong, ``c`` = the
reverse. Below ``EXACT_BELOW`` discordant pairs the exact binomial test is used (two-sided,
``min(1, 2 * BinomCDF(min(b, c); b + c, 1/2))``), otherwise the chi-square with continuity
correction ``(|b - c| - 1)^2 / (b + c)`` on one degree of freedom -- the formulas of
``statsmodels.stats.contingency_tables.mcnemar`` with ``exact=True`` / ``exact=False``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

EXACT_BELOW = 25
"""Discordant pairs below which McNemar's test is the exact binomial test."""


@dataclass(frozen=True)
class Churn:
    """``count`` paired requests, ``changed`` of them with a different label, ``share`` =
    changed / count (NaN without pairs), ``mean_abs_score_difference`` (None without scores)."""

    count: int
    changed: int
    share: float
    mean_abs_score_difference: float | None


def churn(
    labels_a: npt.ArrayLike,
    labels_b: npt.ArrayLike,
    scores_a: npt.ArrayLike | None = None,
    scores_b: npt.ArrayLike | None = None,
) -> Churn:
    """Churn between two versions' outputs on the same requests (same order).

    >>> churn(["a", "b", "b", "a"], ["a", "b", "a", "a"], [0.1, 0.8, 0.6, 0.2], [0.1, 0.8, 0.4, 0.3])
    Churn(count=4, changed=1, share=0.25, mean_abs_score_difference=0.075)
    """
    a = np.asarray(labels_a).reshape(-1)
    b = np.asarray(labels_b).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"paired labels differ in length: {a.size} and {b.size}")
    changed = int(np.count_nonzero(a != b))
    mean_abs: float | None = None
    if scores_a is not None and scores_b is not None:
        sa = np.asarray(scores_a, dtype=np.float64).reshape(-1)
        sb = np.asarray(scores_b, dtype=np.float64).reshape(-1)
        if sa.shape != a.shape or sb.shape != a.shape:
            raise ValueError("scores must pair with the labels")
        mean_abs = round(float(np.mean(np.abs(sa - sb))), 12) if sa.size else None
    return Churn(a.size, changed, changed / a.size if a.size else float("nan"), mean_abs)


@dataclass(frozen=True)
class McNemar:
    """McNemar's test on paired correctness: discordant counts ``b`` (champion right, challenger
    wrong) and ``c`` (the reverse), the ``statistic`` (``min(b, c)`` when exact, else chi-square),
    the two-sided ``p_value`` and the ``method`` (``"exact"`` or ``"chi2"``)."""

    b: int
    c: int
    statistic: float
    p_value: float
    method: str


def mcnemar(b: int, c: int, exact_below: int = EXACT_BELOW) -> McNemar:
    """McNemar's test from the discordant pair counts.

    >>> mcnemar(2, 10).method, round(mcnemar(2, 10).p_value, 4)
    ('exact', 0.0386)
    >>> m = mcnemar(30, 60)
    >>> m.method, round(m.statistic, 3)
    ('chi2', 9.344)
    """
    from scipy import stats

    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    n = b + c
    if n == 0:
        return McNemar(b, c, 0.0, 1.0, "exact")
    if n < exact_below:
        low = min(b, c)
        return McNemar(b, c, float(low), float(min(1.0, 2.0 * stats.binom.cdf(low, n, 0.5))), "exact")
    statistic = (abs(b - c) - 1.0) ** 2 / n
    return McNemar(b, c, statistic, float(stats.chi2.sf(statistic, df=1)), "chi2")


def paired_correctness(
    actual: npt.ArrayLike, champion: npt.ArrayLike, challenger: npt.ArrayLike
) -> tuple[int, int]:
    """``(b, c)`` for :func:`mcnemar` from the labels and both versions' predictions."""
    y = np.asarray(actual).reshape(-1)
    right_a = np.asarray(champion).reshape(-1) == y
    right_b = np.asarray(challenger).reshape(-1) == y
    return int(np.count_nonzero(right_a & ~right_b)), int(np.count_nonzero(~right_a & right_b))
