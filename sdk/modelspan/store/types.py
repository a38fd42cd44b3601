"""The backend-neutral types the store speaks (``Store`` itself is in ``protocol``).

The analyzer, incidents, report, outcomes and the CLI talk to a store only through ``Store``;
``SQLiteStore`` and ``ElasticsearchStore`` implement it, each on its own (neither imports the
other), and fill these data classes with the same meaning, so everything above them is
backend-agnostic (see ``docs/store.md``).

A question is asked about a model version in a ``Window``; ``Store.question`` turns a baseline into
``Column`` s to summarise; ``Store.model_stats`` answers with ``ModelStats``::

    window = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")
    for model, version, calls in store.models(window):
        question = store.question(model, version, window, store.load_baseline(model, version))
        stats, = store.model_stats([question])
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from modelspan import _time, findings, semconv

if TYPE_CHECKING:
    from modelspan.baseline import Baseline

Kind = Literal["numeric", "categorical", "text"]
DEFAULT_INTERVAL_SECONDS = 300
"""Default width of the intervals QPS, errors and latency are reported in."""


@dataclass(frozen=True)
class Window:
    """A half-open time range ``[start, end)`` in UTC."""

    start: _dt.datetime
    end: _dt.datetime

    @classmethod
    def parse(cls, start: str, end: str) -> Window:
        """>>> Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z").seconds
        3600.0
        """
        return cls(_time.parse(start), _time.parse(end))

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def iso(self) -> tuple[str, str]:
        """``(start, end)`` as ISO 8601 in UTC with milliseconds and a ``Z``."""
        return _time.iso(self.start), _time.iso(self.end)


@dataclass(frozen=True)
class Column:
    """One feature (or the output) to summarise, as the baseline describes it.

    ``name`` is the name inside ``ml.batch.<name>.*``; ``field`` the single-row attribute
    (``ml.feature.<name>``, ``ml.output.label``, ``ml.feature.<name>.length`` for text).
    """

    name: str
    kind: Kind
    field: str
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    vocabulary: tuple[str, ...] = ()
    complete: bool = True
    """Whether ``vocabulary`` lists every category the baseline saw (else the rest is its tail, not new)."""

    @classmethod
    def feature(cls, name: str, kind: Kind, edges: Sequence[float] = (), categories: Sequence[str] = (),
                vocabulary: Sequence[str] = (), complete: bool = True) -> Column:
        """A model input.

        >>> Column.feature("temp", "numeric", [0.0, 10.0]).field
        'ml.feature.temp'
        """
        single = semconv.single_row_attribute(name, kind)
        return cls(name, kind, single, tuple(float(e) for e in edges), tuple(categories), tuple(vocabulary),
                   complete)

    @classmethod
    def output(cls, kind: Kind, edges: Sequence[float] = (), categories: Sequence[str] = (),
               vocabulary: Sequence[str] = ()) -> Column:
        """The model's output: labels for classification, values for regression."""
        single = semconv.single_row_attribute(semconv.OUTPUT_FEATURE, kind, output=True)
        return cls(semconv.OUTPUT_FEATURE, kind, single, tuple(float(e) for e in edges), tuple(categories),
                   tuple(vocabulary))


@dataclass(frozen=True)
class Question:
    """Everything one search asks about one model version in one window."""

    model: str
    version: str
    window: Window
    interval_seconds: int
    baseline_id: str | None = None
    columns: tuple[Column, ...] = field(default_factory=tuple)

    @classmethod
    def about(cls, model: str, version: str, window: Window, interval_seconds: int,
              baseline: Baseline | None = None) -> Question:
        """The question for a model version in ``window``: its baseline's columns, bins and categories."""
        columns = columns_for(baseline) if baseline is not None else ()
        return cls(model, version, window, interval_seconds, baseline.id if baseline is not None else None, columns)


def columns_for(baseline: Baseline) -> tuple[Column, ...]:
    """The columns a baseline describes: each feature, then the output (named ``_output``)."""
    columns = [Column.feature(name, profile.kind, profile.edges, profile.categories, profile.vocabulary,
                              profile.complete_vocabulary)
               for name, profile in sorted(baseline.features.items())]
    output = baseline.output
    if output is not None:
        columns.append(Column.output(output.kind, output.edges, output.categories, output.vocabulary))
    return tuple(columns)


def finding_inside(document: dict[str, Any], window: Window | None) -> bool:
    """Whether a finding's analysed window lies within ``window`` (ISO strings of one format compare)."""
    if window is None:
        return True
    start, end = window.iso()
    return bool(str(document.get(findings.WINDOW_START, "")) >= start
                and str(document.get(findings.WINDOW_END, "~")) <= end)


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
    oov_source: str | None = None
    """Where ``oov_rate`` came from: ``"profiles"`` (every call) or ``"spans"`` (the sampled ones)."""
    tokens: int | None = None
    """Text, from profiles: the window's tokens checked against the vocabulary (None from spans)."""
    oov_tokens: int | None = None
    """Text, from profiles: those outside the baseline's vocabulary (None from spans)."""


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
    spans: int | None = None
    """Model spans stored in the window when ``calls`` came from profiles (docs/profiles.md); ``None`` when
    ``calls`` counts the spans themselves. ``calls - spans`` calls have no span (sampled out or dropped)."""
    spans_dropped: int | None = None
    """Spans the export queue dropped in the window (profiles only)."""


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
    probabilities: tuple[float | None, ...] | None = None
    """A multiclass call's recorded probabilities: a single-row call's vector (``ml.output.probability.<k>``
    for k = 0, 1, ...), or a batch's ``ml.output.probabilities`` (its first rows' vectors, row after
    row: the store does not know the number of classes, the analyzer does); None when not recorded."""
    row: int | None = None
    """The row of a batch call (``<id>:<row>``), None for a single-row call."""


def probability_vector(recorded: Any) -> tuple[float | None, ...] | None:
    """The recorded probabilities as a tuple: a batch's array as is, a single row's ``{"…probability.<k>":
    p}`` in column order (None unless the columns are 0, 1, ... without a gap; a value that is not a
    number becomes None).

    >>> probability_vector({"ml.output.probability.1": 0.25, "ml.output.probability.0": 0.75})
    (0.75, 0.25)
    """
    if isinstance(recorded, dict):
        prefix = len(semconv.OUTPUT_PROBABILITY_PREFIX)
        columns = {key[prefix:]: value for key, value in recorded.items()}
        if sorted(columns) != sorted(str(k) for k in range(len(columns))):
            return None
        recorded = [columns[str(k)] for k in range(len(columns))]
    if not isinstance(recorded, list):
        return None
    return tuple(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None for v in recorded)


@dataclass
class ScoreSums:
    """A window's predictions per (predicted label, interval of the recorded score): rows and score sum.

    The score is ``ml.output.score`` (single-row calls) or row ``i`` of ``ml.output.scores`` paired with
    row ``i`` of ``ml.output.labels`` (batches), the probability of the predicted label. Interval 0
    lies below ``edges[0]``, interval ``len(edges)`` at or above the last edge, interval ``i`` in
    ``[edges[i-1], edges[i])``. Counts and sums add across windows; performance estimation turns them
    into exact sums of calibrated probabilities (docs/estimation.md). Rows without a label or with a
    score outside [0, 1] are left out and counted in ``unscored``.
    """

    edges: tuple[float, ...]
    cells: dict[tuple[str, int], tuple[int, float]] = field(default_factory=dict)
    """(label, interval) -> (rows, sum of their scores)."""
    unscored: int = 0
    expected: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Rows of batches known by their per-call sums only (``ml.estimation.cbpe.*``, when asked with the
    calibration's fingerprint; Elasticsearch): predicted label (``1``/``0``) -> (rows, sum of calibrated
    P(class 1)). Not in ``cells``: the order of their scores, which ROC-AUC needs, is not known."""

    @property
    def rows(self) -> int:
        """Rows counted in ``cells`` and in ``expected``."""
        return sum(count for count, _ in self.cells.values()) + self.ungrouped

    @property
    def ungrouped(self) -> int:
        """Rows in ``expected``: estimated, but without a score interval (no ROC-AUC)."""
        return sum(count for count, _ in self.expected.values())


@dataclass
class ClassScoreSums:
    """A window's multiclass predictions per (class column, predicted that class or not, interval of
    that column's probability): rows and probability sum.

    The probabilities are ``ml.output.probability.<k>`` with ``ml.output.class`` (single-row calls) or
    the vectors of ``ml.output.probabilities`` (batches, SQLite; Elasticsearch adds up their per-class sums
    instead, ``expected``: docs/estimation.md). Interval 0
    lies below ``edges[k][0]``, interval ``i`` in ``[edges[k][i-1], edges[k][i])``. Counts and sums add
    across windows; multiclass estimation turns them into exact sums of calibrated probabilities.
    Rows without a usable vector of ``len(edges)`` probabilities are counted in ``unscored``.
    """

    edges: tuple[tuple[float, ...], ...]
    cells: dict[tuple[int, bool, int], tuple[int, float]] = field(default_factory=dict)
    """(class column, predicted it, interval) -> (rows, sum of that column's probabilities)."""
    rows: int = 0
    """Rows with a usable probability vector (each appears once per class in ``cells``, or is ``ungrouped``)."""
    unscored: int = 0
    expected: dict[int, tuple[int, float, float]] = field(default_factory=dict)
    """Rows of batches known by their per-call sums only (``ml.estimation.cbpe.class.<k>.*``, when asked with
    the calibration's fingerprint; Elasticsearch): class column -> (rows predicted it, Σ calibrated p̂_k over
    them, Σ calibrated p̂_k over every such row). Not in ``cells``: no order of scores, so no ROC-AUC."""
    ungrouped: int = 0
    """Rows (counted in ``rows``) known by ``expected`` only."""


class StoreError(RuntimeError):
    """The store answered a question with an error (the backend's reason is in the message)."""


@dataclass
class LossSums:
    """A window's expected-error sums of a regressor (direct loss estimation, docs/estimation.md).

    ``rows``, ``abs_error`` and ``squared_error`` add up the span attributes ``ml.estimation.*``
    (sums of E|y - ŷ| and E(y - ŷ)² over each call's rows); ``unestimated`` counts the rows of the
    window's model spans that carry none (no error model at call time, or no finite prediction).
    """

    rows: int = 0
    abs_error: float = 0.0
    squared_error: float = 0.0
    unestimated: int = 0
