"""False-discovery control across the many columns of one model.

Testing fifty features at 0.05 each flags about 2.5 of them on clean traffic; Benjamini-Hochberg keeps
the expected share of false findings among the flagged ones at ``alpha`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def benjamini_hochberg(
    p_values: Sequence[float | None] | npt.ArrayLike, alpha: float = 0.05
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """``(rejected, adjusted)`` for the Benjamini-Hochberg step-up procedure.

    ``adjusted`` are the BH q-values (``scipy.stats.false_discovery_control(method="bh")``) computed
    over the valid p-values only; a None/NaN p-value (a column without a significance test or without
    enough data) is never rejected, gets a NaN q-value and does not count in the number of tests.

    >>> rejected, adjusted = benjamini_hochberg([0.01, 0.02, None, 0.03, 0.5])
    >>> rejected.tolist(), [round(q, 3) for q in adjusted.tolist()[:2]]
    ([True, True, False, True, False], [0.04, 0.04])
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    raw = np.asarray([np.nan if p is None else p for p in np.asarray(p_values, dtype=object).reshape(-1)],
                     dtype=np.float64)
    if np.any((raw < 0) | (raw > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    adjusted = np.full(raw.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(raw))
    if valid.size:
        ps = raw[valid]
        order = np.argsort(ps, kind="stable")
        ranked = ps[order] * valid.size / np.arange(1, valid.size + 1)
        # q_(i) = min over j >= i of p_(j) m / j: a running minimum from the largest p down.
        q = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
        adjusted[valid[order]] = q
    rejected = np.zeros(raw.shape, dtype=np.bool_)
    rejected[valid] = adjusted[valid] <= alpha
    return rejected, adjusted
