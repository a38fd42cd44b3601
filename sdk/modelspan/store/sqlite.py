"""The embedded store: spans, outcomes, findings, baselines and checkpoints in one SQLite file.

It answers the analyzer's questions with the same interface (``Store``) and the same data classes as
``ElasticsearchStore`` (docs/architecture.md, decision 5), computed in SQL over slim tables derived
from the spans at write time (see ``modelspan.sqlite._schema``): per-minute rollups of feature values, one row per
call for latency, errors, QPS and paths. The file is ``MODELSPAN_STORE`` or ``./modelspan.db``::

    with SQLiteStore() as store:
        for model, version, calls in store.models(window):
            question = store.question(model, version, window, store.load_baseline(model, version))
            stats, = store.model_stats([question])

``connection`` is open for reading with plain SQL; spans are written by ``modelspan.sqlite.SpanWriter``.
"""

from __future__ import annotations

import datetime as _dt
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import modelspan.store._sqlite_extras as extras
import modelspan.store._sqlite_features as features
import modelspan.store._sqlite_loss as loss
import modelspan.store._sqlite_multiclass as multiclass
import modelspan.store._sqlite_ops as ops
import modelspan.store._sqlite_profiles as profiles
from modelspan import _time, semconv
from modelspan.sqlite import SpanWriter, transaction
from modelspan.sqlite._db import load_baseline_by_id
from modelspan.sqlite._db import save_baseline as _save_baseline
from modelspan.store._answers import parse_model
from modelspan.store._sqlite_columns import ColumnReader
from modelspan.store._sqlite_traces import SQLiteTraces
from modelspan.store.types import (
    DEFAULT_INTERVAL_SECONDS,
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


class SQLiteStore:
    """Read sufficient statistics and labels from the SQLite store; write findings, outcomes, baselines."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 interval_seconds: int = DEFAULT_INTERVAL_SECONDS, read_only: bool = False,
                 create: bool = True) -> None:
        if interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be positive, got {interval_seconds}")
        self._writer = SpanWriter(path, read_only=read_only, create=create)
        self.path: Path = self._writer.path
        self.connection: sqlite3.Connection = self._writer.connection
        self.interval_seconds = interval_seconds
        self._lock = self._writer.lock
        self._ids = self._writer.ids
        self._edges = self._writer.edges

    @property
    def rejected_documents(self) -> int:
        """Documents ``load_documents`` could not read (no span id, bad timestamp): logged and counted."""
        return self._writer.rejected_documents

    def close(self) -> None:
        """Close, refreshing the planner's statistics first where they are stale (``PRAGMA optimize``)."""
        self._writer.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing spans ----------------------------------------------------------------------
    def load_documents(self, documents: Iterable[Mapping[str, Any]]) -> int:
        """Store span documents (``span_to_document`` shape) not stored yet; returns how many were new.

        Bulk loading for tests, benchmarks and imports; the exporter writes ``ReadableSpan`` s directly.
        """
        return self._writer.write_documents(documents)

    def purge(self, older_than_days: float, *, max_chunks: int | None = None) -> tuple[int, bool]:
        """Delete spans older than ``older_than_days`` in bounded chunks (at most ``max_chunks``).

        Returns ``(spans deleted, finished)``; ``finished`` is False when the chunk budget ran out.
        """
        return self._writer.purge(older_than_days, max_chunks=max_chunks)

    def refresh(self) -> None:
        """Refresh the planner's statistics (``ANALYZE``): after a bulk load, the label join needs them."""
        with self._lock:
            self.connection.execute("ANALYZE")

    def traces(self) -> SQLiteTraces:
        """The incident correlator's questions, in SQL over ``spans``."""
        return SQLiteTraces(self.connection)

    # --- the analyzer's questions -----------------------------------------------------------
    def models(self, window: Window) -> list[tuple[str, str, int]]:
        """``(model, version, calls)`` with model spans in ``window``, busiest model first."""
        start, end = extras.window_ns(window)
        with self._lock:
            rows = ops.calls_per_series(self.connection, start, end)
            rows = profiles.merge_counts(rows, profiles.calls_per_series(self.connection, start, end))
        totals: dict[str, int] = {}
        for model, _, calls in rows:
            totals[model] = totals.get(model, 0) + calls
        rows.sort(key=lambda r: (-totals[r[0]], r[0], -r[2], r[1]))
        return [(str(model), str(version), int(calls)) for model, version, calls in rows]

    def time_range(self, model: str | None = None) -> tuple[_dt.datetime, _dt.datetime] | None:
        """When the first and the last model call (of ``model``) stored started, or None without any."""
        where = "" if model is None else " WHERE series_id IN (SELECT id FROM series WHERE model_name = ?)"
        with self._lock:
            first, last = self.connection.execute(f"SELECT min(start_ns), max(start_ns) FROM calls{where}",
                                                  () if model is None else (model,)).fetchone()
        if first is None:
            return None
        return _time.from_ns(int(first)), _time.from_ns(int(last))

    def question(self, model: str, version: str, window: Window, baseline: Baseline | None = None) -> Question:
        """What to ask about a model version: its baseline's columns, bins and categories."""
        return Question.about(model, version, window, self.interval_seconds, baseline)

    def model_stats(self, questions: Sequence[Question]) -> list[ModelStats]:
        """Answers to every question (latency, QPS, errors, paths, quality, every column)."""
        with self._lock:
            return [parse_model(question, {"aggregations": self._aggregations(question)}) for question in questions]

    def _aggregations(self, question: Question) -> dict[str, Any]:
        start, end = extras.window_ns(question.window)
        step = question.interval_seconds * 10**9
        self._edges.forget_unknown()  # a baseline saved by another process since is used
        row = self.connection.execute("SELECT id FROM series WHERE model_name = ? AND model_version = ?",
                                      (question.model, question.version)).fetchone()
        series = -1 if row is None else int(row[0])
        calls = ops.operations(self.connection, series, start, end, step, len(semconv.CHECKS))
        profiles.overlay(self.connection, question.model, question.version, start, end, step, calls)
        profiled = features.read(self.connection, question.model, question.version, start, end)
        if profiled is not None:  # every call's statistics (docs/profiles.md); else the spans'
            features.overlay_model(self.connection, series, start, end, profiled, calls)
            reader = ColumnReader(self.connection, self._ids, self._edges, series, start, end, question.baseline_id)
            for index, column in enumerate(question.columns):
                calls.update(features.column_answer(index, column, profiled, question.baseline_id, reader))
        else:
            reader = ColumnReader(self.connection, self._ids, self._edges, series, start, end, question.baseline_id)
            for index, column in enumerate(question.columns):
                calls.update(reader.aggs(index, column))
        modules = ops.modules(self.connection, series, start, end, step)
        profiles.overlay_modules(self.connection, question.model, question.version, start, end, step, modules)
        return {"calls": calls, "modules": modules}

    def labelled_predictions(self, window: Window, model: str, version: str) -> list[LabelledPrediction]:
        """Predictions of ``window`` with a recorded outcome, with their outputs (one SQL join)."""
        with self._lock:
            return extras.labelled_predictions(self.connection, window, model, version)

    def score_sums(self, window: Window, model: str, version: str, edges: Sequence[float],
                   calibration: str | None = None) -> ScoreSums:
        """Rows and score sums of ``window`` per (predicted label, interval of ``edges``): three SQL queries."""
        with self._lock:
            return extras.score_sums(self.connection, window, model, version, edges, calibration)

    def loss_sums(self, window: Window, model: str, version: str) -> LossSums:
        """A regressor's expected-error sums over ``window`` and its unestimated rows: one SQL query."""
        with self._lock:
            return loss.loss_sums(self.connection, model, version, extras.window_ns(window))
    def class_score_sums(self, window: Window, model: str, version: str,
                         edges: Sequence[Sequence[float]], calibration: str | None = None) -> ClassScoreSums:
        """Rows and probability sums of ``window`` per (class, predicted it, interval): one SQL query."""
        with self._lock:
            return multiclass.class_score_sums(self.connection, window, model, version, edges, calibration)

    # --- findings, outcomes, baselines, checkpoints -----------------------------------------
    def write_findings(self, documents: Iterable[dict[str, Any]]) -> int:
        """Store findings by ``finding.id`` (re-running a window replaces them); returns how many."""
        with self._lock:
            return extras.write_findings(self.connection, documents)

    def delete_findings(self, window: Window, types: Sequence[str], model: str | None = None) -> int:
        """Remove the findings of ``types`` written for exactly ``window`` (before re-writing it)."""
        with self._lock:
            return extras.delete_findings(self.connection, window, types, model)

    def read_findings(self, window: Window | None = None, types: Sequence[str] | None = None,
                      model: str | None = None) -> list[dict[str, Any]]:
        """Findings of the windows inside ``window`` (of ``types``, of ``model``), by ``finding.id``."""
        with self._lock:
            return extras.read_findings(self.connection, window, types, model)

    def record_outcomes(self, rows: Iterable[Sequence[Any]]) -> int:
        """Store ``(prediction_id, actual[, timestamp])`` rows by prediction id; returns how many."""
        with self._lock:
            return extras.record_outcomes(self.connection, rows)

    def save_baseline(self, baseline: Baseline) -> None:
        """Store ``baseline`` for its model version (the latest saved is the one loaded).

        Values of spans stored before, naming this baseline, are binned on its edges now (once).
        """
        with self._lock, transaction(self.connection):
            _save_baseline(self.connection, baseline)

    def load_baseline(self, model: str, version: str) -> Baseline | None:
        """The latest baseline saved for a model version, or None."""
        with self._lock:
            row = self.connection.execute(
                "SELECT id FROM baselines WHERE model_name = ? AND model_version = ? ORDER BY saved_ns DESC LIMIT 1",
                (model, version)).fetchone()
            return None if row is None else load_baseline_by_id(self.connection, str(row[0]))

    def get_checkpoint(self, name: str) -> str | None:
        with self._lock:
            return extras.get_checkpoint(self.connection, name)

    def set_checkpoint(self, name: str, value: str) -> None:
        with self._lock:
            extras.set_checkpoint(self.connection, name, value)

