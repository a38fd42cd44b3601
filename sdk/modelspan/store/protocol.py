"""``Store``: what everything above the store asks of it, whichever backend answers.

``SQLiteStore`` and ``ElasticsearchStore`` implement it; ``modelspan.store.open_store()`` gives one.
The types it speaks are in ``types`` (windows, questions, answers) and ``traces`` (the incident
correlator's questions); see ``docs/store.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from modelspan.store.traces import TraceQueries
from modelspan.store.types import (
    ClassScoreSums,
    LabelledPrediction,
    LossSums,
    ModelStats,
    Question,
    ScoreSums,
    Window,
)

if TYPE_CHECKING:
    from modelspan.baseline import Baseline


@runtime_checkable
class Store(Protocol):
    """What the analyzer, incidents, report, outcomes and the CLI ask of a store (either backend).

    ``open_store()`` gives one; use it as a context manager or ``close()`` it. Findings are dicts
    keyed by the names in ``modelspan.findings``; outcomes are ``(prediction_id, actual[, timestamp])``.
    """

    interval_seconds: int
    """Width of the intervals QPS, errors and latency are reported in."""

    def close(self) -> None: ...

    def __enter__(self) -> Store: ...

    def __exit__(self, *exc: object) -> None: ...

    def models(self, window: Window) -> list[tuple[str, str, int]]:
        """``(model, version, calls)`` with model spans in ``window``, busiest model first."""
        ...

    def question(self, model: str, version: str, window: Window, baseline: Baseline | None = None) -> Question:
        """What to ask about a model version: its baseline's columns, bins and categories."""
        ...

    def model_stats(self, questions: Sequence[Question]) -> list[ModelStats]:
        """The answers to ``questions``, in order (latency, QPS, errors, paths, data quality, columns)."""
        ...

    def labelled_predictions(self, window: Window, model: str, version: str) -> list[LabelledPrediction]:
        """Predictions of ``window`` with a recorded outcome, with their outputs."""
        ...

    def score_sums(self, window: Window, model: str, version: str, edges: Sequence[float],
                   calibration: str | None = None) -> ScoreSums:
        """Rows and score sums of ``window`` per (predicted label, interval of ``edges``), in one request.
        With ``calibration`` (a ``Calibration.fingerprint``), batches that recorded their CBPE sums with that
        calibration are answered from their sums (every row), not from their listed rows."""
        ...

    def loss_sums(self, window: Window, model: str, version: str) -> LossSums:
        """Sums of a regressor's expected errors over ``window`` (one request, whatever the traffic)."""
    def class_score_sums(self, window: Window, model: str, version: str,
                         edges: Sequence[Sequence[float]], calibration: str | None = None) -> ClassScoreSums:
        """Rows and probability sums of ``window`` per (class column, predicted it or not, interval of
        ``edges[column]``), for a multiclass model's probability vectors, in one request. With ``calibration``
        (a ``MulticlassCalibration.fingerprint``), batches that recorded their class cells with it are
        answered from them (every row; SQLite only so far)."""
        ...

    def traces(self) -> TraceQueries:
        """The questions the incident correlator asks about application and model spans of traces."""
        ...

    def refresh(self) -> None:
        """Make the spans written so far fully visible to the next questions (and fast to ask)."""
        ...

    def write_findings(self, documents: Iterable[dict[str, Any]]) -> int:
        """Store findings by ``finding.id`` (re-running a window replaces them); returns how many."""
        ...

    def delete_findings(self, window: Window, types: Sequence[str], model: str | None = None) -> int:
        """Remove the findings of ``types`` written for exactly ``window``; returns how many."""
        ...

    def read_findings(self, window: Window | None = None, types: Sequence[str] | None = None,
                      model: str | None = None) -> list[dict[str, Any]]:
        """Findings of the windows inside ``window`` (of ``types``, of ``model``), by ``finding.id``."""
        ...

    def record_outcomes(self, rows: Iterable[Sequence[Any]]) -> int:
        """Store ``(prediction_id, actual[, timestamp])`` rows by prediction id; returns how many."""
        ...

    def save_baseline(self, baseline: Baseline) -> None:
        """Store ``baseline`` for its model version (the latest saved is the one loaded)."""
        ...

    def load_baseline(self, model: str, version: str) -> Baseline | None:
        """The latest baseline saved for a model version, or None."""
        ...

    def get_checkpoint(self, name: str) -> str | None:
        """The value last saved under ``name`` (the scheduler's progress), or None."""
        ...

    def set_checkpoint(self, name: str, value: str) -> None:
        """Save ``value`` under ``name``."""
        ...
