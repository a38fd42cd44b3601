"""Inputs, results and the registry every drift test shares.

A test is a pure function ``(reference, current) -> Measure`` registered with ``@register`` under a
name, the column kinds it fits, its default threshold and which number the threshold applies to
(the effect size ``score``, or the ``p_value``). :func:`run` adds what every test needs the same
way: the minimum sample count and the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

Kind = Literal["numeric", "categorical", "text"]
KINDS: frozenset[str] = frozenset({"numeric", "categorical", "text"})
OTHER = "__other__"
"""Key of :class:`Categories` holding the values outside the baseline's categories (the one
definition: the drift findings and the distribution documents use it too)."""

MIN_SAMPLES = 100
"""Fewer values than this in the reference or the current window: no verdict (``enough_data=False``).

Below about a hundred values a ten-bin histogram is mostly noise (the expected PSI of two samples
of the same distribution is about ``(bins - 1) * (1/n + 1/m)``, 0.18 at n = m = 100 for ten bins)."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Binned:
    """A histogram over the baseline's edges (numeric values, or text lengths).

    ``len(counts) == len(edges) + 1``: bin 0 holds ``x < edges[0]``, bin i ``edges[i-1] <= x < edges[i]``,
    the last bin ``x >= edges[-1]`` (the baseline's convention). ``min``/``max``/``std`` are optional
    summaries of the same sample; Wasserstein needs ``min``/``max`` to bound its two open-ended bins
    and uses the reference's ``std`` to normalise (estimated from the bins when absent).
    """

    counts: FloatArray
    edges: FloatArray
    min: float | None = None
    max: float | None = None
    std: float | None = None

    def __post_init__(self) -> None:
        counts = np.asarray(self.counts, dtype=np.float64).reshape(-1)
        edges = np.asarray(self.edges, dtype=np.float64).reshape(-1)
        if counts.size != edges.size + 1:
            raise ValueError(f"Binned needs len(counts) == len(edges) + 1, got {counts.size} and {edges.size}")
        if np.any(counts < 0) or not np.all(np.isfinite(counts)):
            raise ValueError("Binned counts must be finite and non-negative")
        if edges.size and (not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0)):
            raise ValueError("Binned edges must be finite and strictly increasing")
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "edges", edges)

    @classmethod
    def from_values(cls, values: npt.ArrayLike, edges: npt.ArrayLike) -> Binned:
        """Bin raw values the way the baseline does (non-finite values are dropped).

        >>> Binned.from_values([0.5, 1.0, 2.0, 9.0], [1.0, 2.0]).counts.tolist()
        [1.0, 1.0, 2.0]
        """
        data = np.asarray(values, dtype=np.float64).reshape(-1)
        data = data[np.isfinite(data)]
        cut = np.asarray(edges, dtype=np.float64)
        counts = np.bincount(np.searchsorted(cut, data, side="right"), minlength=cut.size + 1).astype(np.float64)
        if not data.size:
            return cls(counts, cut)
        return cls(counts, cut, float(data.min()), float(data.max()), float(data.std()))

    @property
    def total(self) -> float:
        return float(self.counts.sum())


@dataclass(frozen=True)
class Categories:
    """Counts per category; the key ``"__other__"`` holds every value outside the named ones."""

    counts: Mapping[str, float]

    @property
    def total(self) -> float:
        return float(sum(self.counts.values()))


@dataclass(frozen=True)
class Raw:
    """Raw values, for the tests defined exactly on them (``ks``, ``wasserstein``); non-finite dropped."""

    values: FloatArray

    def __post_init__(self) -> None:
        data = np.asarray(self.values, dtype=np.float64).reshape(-1)
        object.__setattr__(self, "values", data[np.isfinite(data)])

    @property
    def total(self) -> float:
        return float(self.values.size)


@dataclass(frozen=True)
class Rate:
    """A rate over ``count`` rows, e.g. the mean out-of-vocabulary token rate of a text column."""

    rate: float
    count: int

    @property
    def total(self) -> float:
        return float(self.count)


Sample = Binned | Categories | Raw | Rate


@dataclass(frozen=True)
class Measure:
    """What a test function returns: effect size, significance (if any) and the bin-vs-exact bound."""

    score: float
    p_value: float | None = None
    bound: float | None = None


@dataclass(frozen=True)
class DriftResult:
    """One test on one column.

    ``score`` is the effect size (for ``ks`` the D statistic); ``p_value`` its significance when the
    test has one; ``drifted`` compares ``score >= threshold`` (effect-size tests) or
    ``p_value < threshold`` (``ks``, ``chi_square``) and is False whenever ``enough_data`` is False.
    ``bound``: the exact (raw-data) statistic lies within ``[score - bound, score + bound]`` (``ks``
    from bins: ``[score, score + bound]``); None when the value is exact for its inputs.
    """

    test: str
    score: float
    threshold: float
    drifted: bool
    p_value: float | None
    reference_count: float
    current_count: float
    enough_data: bool
    bound: float | None = None


MeasureFunction = Callable[[Sample, Sample], Measure]


@dataclass(frozen=True)
class DriftTest:
    """A registered test: its name, the column kinds it fits, its default threshold and function."""

    name: str
    kinds: frozenset[str]
    default_threshold: float
    function: MeasureFunction
    decide_on: Literal["score", "p_value"] = "score"
    inputs: tuple[type, ...] = field(default=(Binned, Categories))

    def drifted(self, measure: Measure, threshold: float) -> bool:
        if self.decide_on == "p_value":
            return measure.p_value is not None and measure.p_value < threshold
        return measure.score >= threshold


REGISTRY: dict[str, DriftTest] = {}


def register(
    name: str,
    kinds: tuple[str, ...],
    default_threshold: float,
    *,
    decide_on: Literal["score", "p_value"] = "score",
    inputs: tuple[type, ...] = (Binned, Categories),
) -> Callable[[MeasureFunction], MeasureFunction]:
    """Register a test function under ``name`` (a second registration under a name replaces it)."""
    unknown = set(kinds) - KINDS
    if unknown:
        raise ValueError(f"unknown column kinds {sorted(unknown)}")

    def decorate(function: MeasureFunction) -> MeasureFunction:
        REGISTRY[name] = DriftTest(name, frozenset(kinds), default_threshold, function, decide_on, inputs)
        return function

    return decorate


def run(name: str, reference: Sample, current: Sample, threshold: float | None = None) -> DriftResult:
    """Run the registered test ``name``; below :data:`MIN_SAMPLES` on either side there is no verdict.

    >>> ref = Binned.from_values(range(1000), [250, 500, 750])
    >>> run("psi", ref, ref).drifted
    False
    """
    try:
        test = REGISTRY[name]
    except KeyError:
        raise KeyError(f"no drift test named {name!r}; known: {sorted(REGISTRY)}") from None
    if type(reference) is not type(current) or not isinstance(reference, test.inputs):
        raise TypeError(
            f"{name} takes two samples of one of {[t.__name__ for t in test.inputs]}, "
            f"got {type(reference).__name__} and {type(current).__name__}"
        )
    limit = test.default_threshold if threshold is None else threshold
    ref_n, cur_n = reference.total, current.total
    enough = ref_n >= MIN_SAMPLES and cur_n >= MIN_SAMPLES
    if not enough:
        return DriftResult(name, math.nan, limit, False, None, ref_n, cur_n, False, None)
    measure = test.function(reference, current)
    drifted = bool(test.drifted(measure, limit))
    return DriftResult(name, measure.score, limit, drifted, measure.p_value, ref_n, cur_n, True, measure.bound)


def aligned_counts(reference: Sample, current: Sample) -> tuple[FloatArray, FloatArray]:
    """Count vectors of the two samples over the same bins (or the union of categories, sorted)."""
    if isinstance(reference, Binned) and isinstance(current, Binned):
        if not np.array_equal(reference.edges, current.edges):
            raise ValueError("both histograms must use the same (baseline) edges")
        return reference.counts, current.counts
    if isinstance(reference, Categories) and isinstance(current, Categories):
        keys = sorted(set(reference.counts) | set(current.counts))
        ref = np.fromiter((reference.counts.get(k, 0) for k in keys), dtype=np.float64, count=len(keys))
        cur = np.fromiter((current.counts.get(k, 0) for k in keys), dtype=np.float64, count=len(keys))
        if np.any(ref < 0) or np.any(cur < 0):
            raise ValueError("category counts must be non-negative")
        return ref, cur
    raise TypeError(f"expected two Binned or two Categories, got {type(reference).__name__}, {type(current).__name__}")


def shares(counts: FloatArray) -> FloatArray:
    total = float(counts.sum())
    out: FloatArray = counts / total if total > 0 else np.zeros_like(counts)
    return out


EPSILON = 0.0001
"""Share given to an empty bin before taking logs (Evidently's rule, kept to match it exactly)."""


def smoothed(share: FloatArray) -> FloatArray:
    """Empty bins get :data:`EPSILON`, or the smallest non-empty share / 1e6 if that is <= EPSILON.

    Shares are not renormalised afterwards, as in Evidently (``get_binned_data(feel_zeroes=True)``).
    """
    out: FloatArray = share.copy()
    empty = out == 0
    if empty.any() and not empty.all():
        smallest = float(out[~empty].min())
        out[empty] = smallest / 1e6 if smallest <= EPSILON else EPSILON
    return out


def homogeneity_p_value(reference: FloatArray, current: FloatArray) -> float | None:
    """Chi-square test that both count vectors come from one distribution (bins empty in both dropped).

    This gives the effect-size tests (PSI, Jensen-Shannon, Hellinger) a significance on the very bins
    they were computed from, without a permutation test.
    """
    keep = (reference + current) > 0
    if keep.sum() < 2:
        return None
    table = np.vstack([reference[keep], current[keep]])
    if np.any(table.sum(axis=1) == 0):
        return None
    result = stats.chi2_contingency(table, correction=False)
    return float(result.pvalue)
