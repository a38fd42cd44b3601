"""Thresholds learned from how much a score moves between reference windows.

A fixed PSI threshold of 0.1 is too strict for a feature that is naturally volatile and too lax for
one that never moves. Score each of several reference windows (e.g. each day of a quiet fortnight)
against the baseline; the threshold is a high quantile of those scores, never below ``floor``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

MIN_WINDOWS = 5
"""Fewer reference scores than this say too little about the spread to set a threshold."""


def learn(
    reference_scores: npt.ArrayLike, quantile: float = 0.99, floor: float = 0.0, margin: float = 1.0
) -> float:
    """``max(floor, margin * quantile(scores))``, with numpy's linear interpolation between scores.

    Non-finite scores (windows without enough data) are ignored. With few windows a 0.99 quantile is
    essentially the largest score seen, so ``margin`` (e.g. 1.2) leaves room for the next quiet window.

    >>> learn([0.02, 0.03, 0.05, 0.04, 0.03], quantile=0.5, floor=0.01)
    0.03
    >>> learn([0.001] * 6, floor=0.05)
    0.05
    """
    if not 0 <= quantile <= 1:
        raise ValueError(f"quantile must be in [0, 1], got {quantile}")
    if margin <= 0:
        raise ValueError(f"margin must be positive, got {margin}")
    scores = np.asarray(reference_scores, dtype=np.float64).reshape(-1)
    scores = scores[np.isfinite(scores)]
    if scores.size < MIN_WINDOWS:
        raise ValueError(f"need at least {MIN_WINDOWS} finite reference scores, got {scores.size}")
    return max(float(floor), margin * float(np.quantile(scores, quantile, method="linear")))
