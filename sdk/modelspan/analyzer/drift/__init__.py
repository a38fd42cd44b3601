"""Drift tests: small pure functions registered by name, run through :func:`run`.

Inputs: :class:`Binned` (histogram over the baseline's edges), :class:`Categories` (counts per
category, ``"__other__"`` for the rest), :class:`Raw` (values; ``ks`` and ``wasserstein`` are exact on
them) and :class:`Rate` (``oov_rate``). Every test reports its effect size (``score``) and, where it
has one, a p-value; ``psi``, ``jensen_shannon`` and ``hellinger`` get theirs from the chi-square
homogeneity test on the same counts. Below :data:`MIN_SAMPLES` values on either side no verdict is
given. The per-test verdict (``DriftResult.drifted``) is before any false-discovery control: combine
the p-values of all columns of a model with :func:`modelspan.analyzer.multiple_testing.benjamini_hochberg`.

>>> import numpy as np
>>> edges = np.linspace(-2, 2, 9)
>>> rng = np.random.default_rng(1)
>>> result = run("psi", Binned.from_values(rng.normal(size=2000), edges),
...              Binned.from_values(rng.normal(1, size=2000), edges))
>>> result.drifted, result.p_value < 1e-6
(True, True)
"""

from __future__ import annotations

from modelspan.analyzer.drift import (  # noqa: F401  (importing registers the tests)
    chi_square,
    hellinger,
    jensen_shannon,
    ks,
    new_category,
    oov,
    psi,
    wasserstein,
)
from modelspan.analyzer.drift._core import (
    EPSILON,
    MIN_SAMPLES,
    OTHER,
    REGISTRY,
    Binned,
    Categories,
    DriftResult,
    DriftTest,
    Kind,
    Measure,
    Rate,
    Raw,
    Sample,
    register,
    run,
)

SMALL_SAMPLE = 1000
"""Up to this many reference values the defaults are significance tests, above it effect sizes."""


def default_tests(kind: str, n: float) -> tuple[str, ...]:
    """The tests to run on a column of ``kind`` whose reference has ``n`` values (Evidently's rule).

    Numeric (and text lengths): ``ks`` up to 1,000 values, where a p-value is meaningful, else
    ``wasserstein`` (normalised), because at large n every p-value is tiny and only an effect size
    separates real drift from noise; ``psi`` is added at large n as the histogram view.
    Categorical: ``chi_square`` up to 1,000, else ``jensen_shannon``; always ``new_category_rate``.
    Text also gets ``oov_rate``.

    >>> default_tests("numeric", 500), default_tests("categorical", 50_000)
    (('ks',), ('jensen_shannon', 'new_category_rate'))
    """
    small = n <= SMALL_SAMPLE
    if kind == "numeric":
        return ("ks",) if small else ("wasserstein", "psi")
    if kind == "categorical":
        return ("chi_square" if small else "jensen_shannon", "new_category_rate")
    if kind == "text":
        return ("ks" if small else "wasserstein", "oov_rate")
    raise ValueError(f"unknown column kind {kind!r}; expected numeric, categorical or text")


__all__ = [
    "EPSILON",
    "MIN_SAMPLES",
    "OTHER",
    "REGISTRY",
    "SMALL_SAMPLE",
    "Binned",
    "Categories",
    "DriftResult",
    "DriftTest",
    "Kind",
    "Measure",
    "Rate",
    "Raw",
    "Sample",
    "default_tests",
    "register",
    "run",
]
