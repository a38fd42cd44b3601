"""``finding.severity`` from the size of the effect, one rule per kind of finding.

Levels (``findings.SEVERITIES``; listings order by ``findings.ordered``), documented in ``docs/analyzer.md``:

* ``info``: not a problem: a measurement, or a change too small or too uncertain to flag;
* ``warning``: flagged: significant and past the finding's effect-size bar;
* ``critical``: flagged, and the effect is large (the bars below).

A finding that is not flagged is always ``info``; the effect only ever raises a flagged one.

>>> excess_rate(True, 0.015), excess_rate(True, 1.0), excess_rate(False, 1.0)
('warning', 'critical', 'info')
>>> ratio(True, 0.2, 0.1), ratio(True, 0.5, 0.1)
('warning', 'critical')
"""

from __future__ import annotations

from collections.abc import Iterable

from modelspan import findings

INFO = "info"
WARNING = "warning"
CRITICAL = "critical"
ORDER = findings.SEVERITY_RANK

CRITICAL_EXCESS_RATE = 0.2
"""Data quality, error rates: 20 points or more above the expected (or reference) rate."""
CRITICAL_RATIO = 3.0
"""Drift scores, latency: three times the threshold (or the reference p95) or more."""
CRITICAL_DROP = 0.15
"""Model performance: accuracy down 15 points or more (regression: MAE doubled, ``CRITICAL_MAE_RATIO``)."""
CRITICAL_MAE_RATIO = 2.0


def excess_rate(flagged: bool, excess: float | None) -> str:
    """Severity of a rate that rose by ``excess`` (a share, 0.2 = 20 points)."""
    if not flagged:
        return INFO
    return CRITICAL if excess is not None and excess >= CRITICAL_EXCESS_RATE else WARNING


def ratio(flagged: bool, value: float | None, bar: float | None, critical: float = CRITICAL_RATIO) -> str:
    """Severity of ``value`` against ``bar`` (a threshold or a reference): ``critical`` from ``critical`` x bar."""
    if not flagged:
        return INFO
    if value is None or bar is None or bar <= 0:
        return WARNING
    return CRITICAL if value >= critical * bar else WARNING


def highest(levels: Iterable[str]) -> str:
    """The most severe of ``levels`` (``info`` for none).

    >>> highest(["warning", "critical", "info"])
    'critical'
    """
    return max(levels, key=lambda level: ORDER.get(level, 0), default=INFO)


def drift(flagged: bool, score: float | None, threshold: float | None, decided_on_p_value: bool) -> str:
    """A drift verdict: effect-size tests by their score over the threshold; ``ks``/``chi_square``
    (decided on a p-value) by their effect size (KS D, Cramér's V) against ``CRITICAL_EFFECT``."""
    if decided_on_p_value:
        return ratio(flagged, score, CRITICAL_EFFECT / CRITICAL_RATIO)
    return ratio(flagged, score, threshold)


CRITICAL_EFFECT = 0.3
"""KS D or Cramér's V from which a drift decided on a p-value is ``critical`` (a large effect)."""
