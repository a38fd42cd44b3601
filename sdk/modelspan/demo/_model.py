"""The demo's composite model: a grid operator predicting which sites will hit high energy demand.

A call goes ``preprocess`` -> ``tree_scorer`` (residential sites) or ``linear_scorer``
(commercial sites) -> ``calibrate``, so there are two module paths and the path mix depends on
the ``segment`` feature. The scorers are fitted on training data the demo generates itself
(numpy only: a depth-2 tree by exhaustive split search, a logistic regression by gradient
descent), so the model is a real one with a real accuracy that a unit change really breaks.

The ground truth depends on the temperature in Celsius; a client that starts sending Fahrenheit
makes the model predict "high" almost everywhere, which the late labels then expose.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

import modelspan
from modelspan.baseline import Baseline

MODEL = "grid_demand"
VERSION = "2.3"
NUMERIC = ("temperature", "humidity", "wind_kmh")
SEGMENTS = ("residential", "commercial")
DEVICES = ("thermostat", "smart_meter", "gateway")
NOISE = 0.5
"""Spread of what the features cannot explain (sets the best achievable accuracy, about 0.93)."""
LABELS = ("normal", "high")
"""Output labels; ``high`` is the positive class."""


def sample_rows(rng: np.random.Generator, n: int, *, stratified: bool = False) -> list[dict[str, Any]]:
    """``n`` sites as the upstream service sends them (temperature in Celsius).

    ``stratified``: Latin-hypercube draws (one value per quantile stratum, shuffled) and exact
    category shares, so a few hundred rows match the population without sampling noise; the demo's
    live traffic uses it so that a short window cannot raise a false alarm by chance (the
    analyzer's own false-alarm control is tested on i.i.d. data elsewhere).
    """
    normal = _stratified_normal if stratified else _iid_normal
    choice = _exact_choice if stratified else _iid_choice
    temperature = normal(rng, n, 19.0, 6.0)
    humidity = np.clip(normal(rng, n, 55.0, 15.0), 5.0, 100.0)
    wind = np.abs(normal(rng, n, 14.0, 7.0))
    segment = choice(rng, n, SEGMENTS, (0.6, 0.4))
    device = choice(rng, n, DEVICES, (0.5, 0.3, 0.2))
    return [
        {"temperature": round(float(t), 2), "humidity": round(float(h), 1), "wind_kmh": round(float(w), 1),
         "segment": str(s), "device": str(d)}
        for t, h, w, s, d in zip(temperature, humidity, wind, segment, device, strict=True)
    ]


def _iid_normal(rng: np.random.Generator, n: int, mean: float, std: float) -> np.ndarray:
    return rng.normal(mean, std, n)


def _stratified_normal(rng: np.random.Generator, n: int, mean: float, std: float) -> np.ndarray:
    quantiles = (rng.permutation(n) + rng.random(n)) / n
    return np.array([NormalDist(mean, std).inv_cdf(min(max(q, 1e-9), 1 - 1e-9)) for q in quantiles])


def _iid_choice(rng: np.random.Generator, n: int, values: tuple[str, ...], shares: tuple[float, ...]) -> np.ndarray:
    return rng.choice(values, n, p=list(shares))


def _exact_choice(rng: np.random.Generator, n: int, values: tuple[str, ...], shares: tuple[float, ...]) -> np.ndarray:
    counts = np.floor(np.array(shares) * n).astype(int)
    counts[np.argsort(np.array(shares) * n - counts)[::-1][: n - counts.sum()]] += 1  # largest remainders
    return rng.permutation(np.repeat(np.array(values), counts))


def true_label(row: Mapping[str, Any], noise: float) -> str:
    """The demand that really happened: cooling load from the Celsius temperature, plus noise."""
    load = (0.35 * (float(row["temperature"]) - 23.0) + 0.02 * (float(row["humidity"]) - 55.0)
            - 0.04 * (float(row["wind_kmh"]) - 14.0) + (0.6 if row["segment"] == "commercial" else 0.0))
    return LABELS[1] if load + noise > 0.0 else LABELS[0]


def labels_for(rows: list[dict[str, Any]], rng: np.random.Generator, *, stratified: bool = False) -> list[str]:
    """Ground truth for ``rows`` (with the irreducible noise a real outcome has)."""
    noise = (_stratified_normal if stratified else _iid_normal)(rng, len(rows), 0.0, NOISE)
    return [true_label(row, float(n)) for row, n in zip(rows, noise, strict=True)]


TREE_MS = 60.0
"""Time the ``tree_scorer`` spends (a sleep standing in for a real ensemble).

It is large on purpose. Latency is measured on the wall clock, and a machine busy with other work
adds its scheduling delays to every span: on this project's shared 2-core machine at load 8 a 1 ms
sleep measured 8-17 ms at p95, varying that much from one 4-second phase to the next. The latency
rule is relative (x1.5 and +5 ms on p95), so with a 1 ms scorer that noise alone crossed it in
unplanted phases. Such delays add to the sleep rather than scale with it: at 60 ms a clean phase
needs more than 30 ms of extra p95 delay to cross x1.5, twice what was measured; the route's
spike rule (x1.5 and +50 ms) then needs more than 50 ms."""


@dataclass
class Faults:
    """Problems the scenario switches on inside the service (the model and the app around it)."""

    slow_module_ms: float = 0.0
    """Extra time spent in ``tree_scorer`` (a regressed build of that sub-module)."""
    tariff_outage: bool = False
    """The app's tariff service is down for commercial sites (an application error burst)."""


def _features(row: Mapping[str, Any]) -> np.ndarray:
    numbers = [float(row.get(name) or 0.0) for name in NUMERIC]
    device = [1.0 if row.get("device") == name else 0.0 for name in DEVICES]  # unknown device: all zero
    return np.array(numbers + device)


@dataclass
class _Tree:
    """A depth-2 decision tree over the numeric features, fitted by exhaustive split search."""

    feature: int = 0
    threshold: float = 0.0
    leaves: tuple[tuple[int, float, float, float], ...] = ()
    """Per side of the root split: (feature, threshold, score below, score at/above)."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> _Tree:
        self.feature, self.threshold, _ = _best_split(x, y)
        sides = (x[:, self.feature] < self.threshold, x[:, self.feature] >= self.threshold)
        leaves = []
        for side in sides:
            feature, threshold, (low, high) = _best_split(x[side], y[side])
            leaves.append((feature, threshold, low, high))
        self.leaves = tuple(leaves)
        return self

    def score(self, x: np.ndarray) -> float:
        feature, threshold, low, high = self.leaves[int(x[self.feature] >= self.threshold)]
        return high if x[feature] >= threshold else low


def _best_split(x: np.ndarray, y: np.ndarray) -> tuple[int, float, tuple[float, float]]:
    """The (feature, threshold) with the lowest squared error, and the mean label on each side."""
    best = (np.inf, 0, 0.0, (float(y.mean()) if len(y) else 0.0,) * 2)
    for feature in range(len(NUMERIC)):
        for threshold in np.quantile(x[:, feature], np.linspace(0.05, 0.95, 37)) if len(y) else ():
            below = x[:, feature] < threshold
            if below.all() or not below.any():
                continue
            low, high = float(y[below].mean()), float(y[~below].mean())
            error = float(((y[below] - low) ** 2).sum() + ((y[~below] - high) ** 2).sum())
            if error < best[0]:
                best = (error, feature, float(threshold), (low, high))
    return best[1], best[2], best[3]


def _fit_logistic(x: np.ndarray, y: np.ndarray, steps: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardised logistic regression by plain gradient descent: (weights, means, scales)."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    weights = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-z @ weights))
        weights -= 0.5 * z.T @ (p - y) / len(y)
    return weights, mean, scale


class DemandModel:
    """The composite model; ``predict`` is what the service calls (one row per request)."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self.tree_ms = TREE_MS
        """What ``tree_scorer`` costs when served (0 while the baseline capture profiles paths)."""
        self.tree = _Tree()
        self.linear: tuple[np.ndarray, np.ndarray, np.ndarray] = (np.zeros(len(NUMERIC) + len(DEVICES) + 1),
                                                                  np.zeros(0), np.ones(0))

    def fit(self, rows: list[dict[str, Any]], labels: list[str]) -> DemandModel:
        """Fit both scorers, each on its own segment's rows."""
        x = np.array([_features(row) for row in rows])
        y = np.array([1.0 if label == LABELS[1] else 0.0 for label in labels])
        residential = np.array([row["segment"] == "residential" for row in rows])
        self.tree = _Tree().fit(x[residential], y[residential])
        self.linear = _fit_logistic(x[~residential], y[~residential])
        return self

    def label(self, row: Mapping[str, Any]) -> str:
        """The prediction without monitoring (to profile the model's outputs on training data)."""
        x = _features(row)
        score = self._logistic(x) if row.get("segment") == "commercial" else self.tree.score(x)
        return LABELS[1] if score >= 0.5 else LABELS[0]

    @modelspan.monitor(model=MODEL, version=VERSION)
    def predict(self, row: dict[str, Any]) -> str:
        """``"high"`` or ``"normal"`` demand for one site."""
        x = self.preprocess(row)
        score = self.linear_scorer(x) if row.get("segment") == "commercial" else self.tree_scorer(x)
        return self.calibrate(score)

    @modelspan.module("preprocess")
    def preprocess(self, row: Mapping[str, Any]) -> np.ndarray:
        return _features(row)

    @modelspan.module("tree_scorer")
    def tree_scorer(self, x: np.ndarray) -> float:
        extra = self.faults.slow_module_ms
        time.sleep((self.tree_ms + extra) / 1000.0)  # the real tree ensemble is not free; a regressed build is slower
        return self.tree.score(x)

    @modelspan.module("linear_scorer")
    def linear_scorer(self, x: np.ndarray) -> float:
        return self._logistic(x)

    def _logistic(self, x: np.ndarray) -> float:
        weights, mean, scale = self.linear
        z = np.append((x - mean) / scale, 1.0)
        return float(1.0 / (1.0 + np.exp(-float(z @ weights))))

    @modelspan.module("calibrate")
    def calibrate(self, score: float) -> str:
        return LABELS[1] if score >= 0.5 else LABELS[0]


def train(seed: int = 7, rows: int = 4000) -> tuple[DemandModel, Baseline, list[dict[str, Any]]]:
    """Generate training data, fit the model and profile the data as the model's baseline.

    Returns the model, the training-data baseline (features and true labels) and a validation set
    for :func:`capture_paths`.
    """
    rng = np.random.default_rng(seed)
    data = sample_rows(rng, rows)
    labels = labels_for(data, rng)
    model = DemandModel().fit(data, labels)
    columns: dict[str, list[Any]] = {name: [row[name] for row in data] for name in data[0]}
    columns["label"] = [model.label(row) for row in data]  # the output profile is what the model predicts
    baseline = Baseline.from_data(columns, model=MODEL, version=VERSION, output="label",
                                  categorical=["segment", "device"])
    return model, baseline, sample_rows(rng, 400)


def capture_paths(model: DemandModel, baseline: Baseline, validation: list[dict[str, Any]]) -> Baseline:
    """Run a validation set through the monitored model to add module paths per output label."""
    served, model.tree_ms = model.tree_ms, 0.0  # the capture records paths, not time: no need to wait
    try:
        with Baseline.capture(model=MODEL, version=VERSION, baseline=baseline) as capture:
            for row in validation:
                model.predict(row)
    finally:
        model.tree_ms = served
    assert capture.baseline is not None  # set by __exit__
    return capture.baseline
