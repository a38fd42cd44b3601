"""The embedded store: spans, outcomes, findings, baselines and checkpoints in one SQLite file.

It answers the analyzer's questions with the same interface and the same data classes as
``ElasticsearchStore`` (docs/architecture.md, decision 5), computed in SQL over slim tables derived from the
span documents at write time (see ``_schema``): per-minute rollups of feature values, one row per
call for latency, errors, QPS and paths. The file is ``MODELSPAN_STORE`` or ``./modelspan.db``::

    with SQLiteStore() as store:
        for model, version, calls in store.models(window):
            question = store.question(model, version, window, store.load_baseline(model, version))
            stats, = store.model_stats([question])

``connection`` is open for reading with plain SQL (the incident correlator joins application spans
with model spans through ``spans``).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelspan import semconv
from modelspan.store import _sqlite_extras as extras
from modelspan.store import _sqlite_ops as ops
from modelspan.store._es_parse import parse_model
from modelspan.store._es_queries import Question, Window
from modelspan.store._sqlite_columns import ColumnReader
from modelspan.store._sqlite_db import (
    BaselineEdges,
    Ids,
    connect,
    load_baseline_by_id,
    store_path,
    transaction,
    write_documents,
)
from modelspan.store._sqlite_db import save_baseline as _save_baseline
from modelspan.store._sqlite_retention import purge
from modelspan.store._sqlite_rows import Extractor
from modelspan.store._stats import LabelledPrediction, ModelStats
from modelspan.store.elasticsearch import DEFAULT_INTERVAL_SECONDS, columns_for

if TYPE_CHECKING:
    from modelspan.baseline import Baseline

LOAD_CHUNK = 5000
OPTIMIZE_WAIT_MS = 200
logger = logging.getLogger(__name__)


class SQLiteStore:
    """Read sufficient statistics and labels from the SQLite store; write findings, outcomes, baselines."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 interval_seconds: int = DEFAULT_INTERVAL_SECONDS) -> None:
        if interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be positive, got {interval_seconds}")
        self.path: Path = store_path(path)
        self.connection: sqlite3.Connection = connect(self.path)
        self.interval_seconds = interval_seconds
        self._lock = threading.RLock()
        self._ids = Ids(self.connection)
        self._edges = BaselineEdges(self.connection)
        self._extractor = Extractor(self._ids, self._edges)
        self.rejected_documents = 0
        """Documents ``load_documents`` could not read (no span id, bad timestamp): logged and counted."""

    def close(self) -> None:
        """Close, refreshing the planner's statistics first where they are stale (``PRAGMA optimize``).

        Best effort: when another process holds the write lock, the store is closed without it after
        a short wait (a worker's shutdown must not wait ``busy_timeout`` for its siblings).
        """
        with self._lock:
            try:
                self.connection.execute(f"PRAGMA busy_timeout = {OPTIMIZE_WAIT_MS}")
                self.connection.execute("PRAGMA optimize")
            except sqlite3.Error as exc:
                logger.debug("PRAGMA optimize skipped: %s", exc)
            self.connection.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing spans ----------------------------------------------------------------------
    def load_documents(self, documents: Iterable[Mapping[str, Any]]) -> int:
        """Store span documents (``span_to_document`` shape) not stored yet; returns how many were new.

        Bulk loading for tests and benchmarks; the exporter writes through the same path.
        """
        written = 0
        chunk: list[Mapping[str, Any]] = []
        for document in documents:
            chunk.append(document)
            if len(chunk) >= LOAD_CHUNK:
                written += self._write(chunk)
                chunk = []
        return written + (self._write(chunk) if chunk else 0)

    def _write(self, documents: Sequence[Mapping[str, Any]]) -> int:
        with self._lock:
            written, rejected = write_documents(self.connection, documents, self._extractor)
            self.rejected_documents += rejected
            return written

    def purge(self, older_than_days: float, *, max_chunks: int | None = None) -> tuple[int, bool]:
        """Delete spans older than ``older_than_days`` in bounded chunks (at most ``max_chunks``).

        Returns ``(spans deleted, finished)``; ``finished`` is False when the chunk budget ran out.
        """
        cutoff = time.time_ns() - int(older_than_days * 86_400 * 1e9)
        with self._lock:
            return purge(self.connection, cutoff, max_chunks=max_chunks)

    # --- the analyzer's questions -----------------------------------------------------------
    def models(self, window: Window) -> list[tuple[str, str, int]]:
        """``(model, version, calls)`` with model spans in ``window``, busiest model first."""
        start, end = extras.window_ns(window)
        with self._lock:
            rows = ops.calls_per_series(self.connection, start, end)
        totals: dict[str, int] = {}
        for model, _, calls in rows:
            totals[model] = totals.get(model, 0) + calls
        rows.sort(key=lambda r: (-totals[r[0]], r[0], -r[2], r[1]))
        return [(str(model), str(version), int(calls)) for model, version, calls in rows]

    def question(self, model: str, version: str, window: Window, baseline: Baseline | None = None) -> Question:
        """What to ask about a model version: its baseline's columns, bins and categories."""
        columns = columns_for(baseline) if baseline is not None else ()
        return Question(model, version, window, self.interval_seconds,
                        baseline.id if baseline is not None else None, columns)

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
        reader = ColumnReader(self.connection, self._ids, self._edges, series, start, end, question.baseline_id)
        for index, column in enumerate(question.columns):
            calls.update(reader.aggs(index, column))
        return {"calls": calls, "modules": ops.modules(self.connection, series, start, end, step)}

    def labelled_predictions(self, window: Window, model: str, version: str) -> list[LabelledPrediction]:
        """Predictions of ``window`` with a recorded outcome, with their outputs (one SQL join)."""
        with self._lock:
            return extras.labelled_predictions(self.connection, window, model, version)

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

