"""Evidently 0.7's drift tests on the same data, and its bins as our ``Binned`` (the "same bins" check).

Evidently bins numeric columns with ``np.histogram_bin_edges(reference + current, "sturges")`` and
``np.histogram`` (the last bin closed on the right). Our ``Binned`` has two open-ended outer bins, so
the same counts are ``[0, *histogram, 0]`` over the same edges; an empty bin in both samples adds
nothing to any of the tests, which makes the two computations identical up to rounding.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

with warnings.catch_warnings():  # evidently's import chain emits third-party deprecation warnings
    warnings.simplefilter("ignore")
    from evidently.legacy.calculations.stattests import (
        chi_stat_test,
        hellinger_stat_test,
        jensenshannon_stat_test,
        ks_stat_test,
        psi_stat_test,
        wasserstein_stat_test,
    )
    from evidently.legacy.core import ColumnType

from modelspan.analyzer.drift import Binned, Categories

TESTS = {
    "psi": psi_stat_test,
    "jensen_shannon": jensenshannon_stat_test,
    "hellinger": hellinger_stat_test,
    "ks": ks_stat_test,
    "wasserstein": wasserstein_stat_test,
    "chi_square": chi_stat_test,
}


def evidently(name: str, reference: np.ndarray, current: np.ndarray, categorical: bool = False) -> float:
    """Evidently's drift score (a p-value for ks and chi-square) on raw values."""
    kind = ColumnType.Categorical if categorical else ColumnType.Numerical
    result = TESTS[name](pd.Series(reference), pd.Series(current), kind, None)
    return float(result.drift_score)


def _as_binned(edges: np.ndarray, reference: np.ndarray, current: np.ndarray) -> tuple[Binned, Binned]:
    def counts(values: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.histogram(values, edges)[0], [0.0]])

    return Binned(counts(reference), edges), Binned(counts(current), edges)


def evidently_bins(reference: np.ndarray, current: np.ndarray) -> tuple[Binned, Binned]:
    """The bins Evidently's PSI and Jensen-Shannon use (``get_binned_data``, more than 20 values)."""
    edges = np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")
    return _as_binned(edges, reference, current)


def evidently_hellinger_bins(reference: np.ndarray, current: np.ndarray) -> tuple[Binned, Binned]:
    """Evidently's Hellinger bins: Sturges over the distinct values of both samples."""
    keys = np.unique(np.concatenate([reference, current]))
    return _as_binned(np.histogram_bin_edges(keys, bins="sturges"), reference, current)


def categories(values: np.ndarray) -> Categories:
    keys, counts = np.unique(values, return_counts=True)
    return Categories({str(k): int(c) for k, c in zip(keys, counts, strict=True)})
