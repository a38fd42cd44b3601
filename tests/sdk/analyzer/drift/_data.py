"""Random samples of the shapes a feature takes: smooth, skewed, heavy-tailed, discrete, mixed."""

from __future__ import annotations

import zlib

import numpy as np


def sample(rng: np.random.Generator, shape: str, n: int, shift: float = 0.0) -> np.ndarray:
    if shape == "normal":
        return rng.normal(shift, 1.0, n)
    if shape == "lognormal":
        return rng.lognormal(shift, 0.8, n)
    if shape == "student":
        return rng.standard_t(2, n) + shift
    if shape == "integers":  # many ties, some exactly on bin edges
        return rng.poisson(4 + 3 * shift, n).astype(float)
    if shape == "mixture":
        pick = rng.random(n) < 0.3
        return np.where(pick, rng.normal(-2 + shift, 0.5, n), rng.normal(3, 1.5, n))
    raise ValueError(shape)


SHAPES = ("normal", "lognormal", "student", "integers", "mixture")


def quantile_edges(values: np.ndarray, bins: int = 10) -> np.ndarray:
    """Baseline-style edges: inner quantiles of the reference, duplicates removed."""
    return np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))


def rng_for(*parts: object) -> np.random.Generator:
    """A generator seeded from the test's parameters, the same in every run (str hash is salted)."""
    return np.random.default_rng(zlib.crc32(repr(parts).encode()))
