"""Sufficient statistics every store backend returns: plain data classes shared by the backends.

Elasticsearch (``_es_parse``) and SQLite (``sqlite``) fill the same classes with the same meaning,
so the analyzer above them is backend-agnostic (docs/architecture.md, decision 5).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ColumnStats:
    """One feature's (or the output's) sufficient statistics in a window.

    ``bin_counts`` (numeric/text, ``len(edges) + 1``) and ``category_counts`` (per baseline
    category) add single-row values to the batch summaries made over the same baseline;
    ``unbinned_count`` counts batch values summarised over another baseline, which cannot be
    placed in these bins. ``unseen_examples``: most frequent single-row values outside the
    baseline's categories (with no baseline, simply the most frequent values).
    """

    name: str
    kind: str
    count: int = 0
    sum: float = 0.0
    sum_sq: float = 0.0
    min: float | None = None
    max: float | None = None
    bin_counts: list[int] = field(default_factory=list)
    category_counts: list[int] = field(default_factory=list)
    other_count: int = 0
    unseen_count: int = 0
    unseen_examples: dict[str, int] = field(default_factory=dict)
    unbinned_count: int = 0
    null_count: int = 0
    nan_count: int = 0
    type_change_count: int = 0
    out_of_range_count: int = 0
    oov_rate: float | None = None


@dataclass
class Interval:
    """One bucket of the window: calls (raw and scaled by 1/sample rate), rows, errors, latency."""

    start: _dt.datetime
    calls: int
    errors: int
    scaled_calls: float
    rows: float
    scaled_rows: float
    latency_ms: dict[float, float | None]
    seconds: float = 0.0

    @property
    def qps(self) -> float:
        """Calls per second, scaled by 1/sample rate (what the service really served)."""
        return self.scaled_calls / self.seconds if self.seconds else 0.0


@dataclass
class Operations:
    """Latency, errors and traffic of a model (or sub-module) in the window."""

    calls: int = 0
    errors: int = 0
    rows: float = 0.0
    latency_ms: dict[float, float | None] = field(default_factory=dict)
    mean_latency_ms: float | None = None
    intervals: list[Interval] = field(default_factory=list)


@dataclass
class PathStats:
    """Calls that took one module path, per output label, with example trace ids."""

    count: int
    labels: dict[str, int]
    trace_ids: list[str]


@dataclass
class ModelStats:
    """Everything one search returned about one model version in one window."""

    model: str
    version: str
    operations: Operations
    modules: dict[str, Operations]
    paths: dict[str, PathStats]
    paths_other: int
    quality: dict[str, tuple[int, int]]
    """check -> (failed values, calls with a failure)."""
    columns: dict[str, ColumnStats]


@dataclass
class LabelledPrediction:
    """A prediction joined with its ground truth (a batch row's output picked by its index)."""

    prediction_id: str
    timestamp: str
    actual: Any
    label: str | None
    value: float | None
    score: float | None
    trace_id: str | None
