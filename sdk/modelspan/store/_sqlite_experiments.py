"""The calls of one experiment, read from the SQLite store for ``modelspan.analyzer.experiments``.

One row per root model call that carries ``ml.experiment.id`` (served calls, ``ml.span.kind =
"model"``) or per shadow call (``"shadow"``), with its arm, unit pseudonym, latency, error, output,
and the label recorded for it by the end of the window (matured labels only). A shadow row takes
the label and the output of the champion call it shadows (``ml.experiment.champion.prediction_id``):
labels are recorded against the prediction ids the application saw.

The experiment attributes are read from ``spans.document`` with ``json_extract`` over the window's
model spans; no derived table holds them yet, so the cost follows the window's model spans.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from modelspan import semconv
from modelspan.store._es_queries import Window
from modelspan.store._sqlite_extras import window_ns


@dataclass(frozen=True)
class ExperimentCall:
    """One call of an experiment (see the module docstring). ``actual`` is None without a label;
    ``champion_label``/``agreement``/``difference`` are set on shadow calls only."""

    prediction_id: str
    arm: str
    unit: str | None
    shadow: bool
    model: str
    version: str
    duration_ms: float
    error: bool
    label: str | None
    value: float | None
    actual: Any
    champion_label: str | None = None
    agreement: float | None = None
    difference: float | None = None


def _attr(alias: str, name: str) -> str:
    return f"json_extract({alias}.document, '$.attributes.\"{name}\"')"


def experiment_calls(connection: sqlite3.Connection, experiment: str, window: Window) -> list[ExperimentCall]:
    """The calls of ``experiment`` that started in ``window``, labels recorded before its end."""
    start, end = window_ns(window)
    sql = f"""
        SELECT s.prediction_id, s.ml_kind, s.model_name, s.model_version, s.duration_ns, s.status_code,
               {_attr('s', semconv.EXPERIMENT_ARM)}, {_attr('s', semconv.EXPERIMENT_UNIT)},
               {_attr('s', semconv.OUTPUT_LABEL)}, {_attr('s', semconv.OUTPUT_VALUE)},
               {_attr('s', semconv.EXPERIMENT_AGREEMENT)}, {_attr('s', semconv.EXPERIMENT_DIFFERENCE)},
               {_attr('c', semconv.OUTPUT_LABEL)}, o.actual
        FROM spans s
        LEFT JOIN spans c INDEXED BY spans_prediction
             ON s.ml_kind = ? AND c.prediction_id = {_attr('s', semconv.EXPERIMENT_CHAMPION_PREDICTION_ID)}
             AND c.ml_kind = ?
        LEFT JOIN outcomes o
             ON o.prediction_id = COALESCE({_attr('s', semconv.EXPERIMENT_CHAMPION_PREDICTION_ID)}, s.prediction_id)
             AND o.timestamp_ns < ?
        WHERE s.ml_kind IN (?, ?) AND s.start_ns >= ? AND s.start_ns < ?
          AND {_attr('s', semconv.EXPERIMENT_ID)} = ?
        ORDER BY s.start_ns"""
    model, shadow = semconv.SPAN_KIND_MODEL, semconv.SPAN_KIND_SHADOW
    rows = connection.execute(sql, (shadow, model, end, model, shadow, start, end, experiment))
    return [_call(row) for row in rows]


def _call(row: tuple[Any, ...]) -> ExperimentCall:
    (pid, kind, model, version, duration_ns, status, arm, unit, label, value, agreement, difference,
     champion_label, actual) = row
    return ExperimentCall(
        prediction_id=str(pid), arm=str(arm or ""), unit=None if unit is None else str(unit),
        shadow=kind == semconv.SPAN_KIND_SHADOW, model=str(model or ""), version=str(version or ""),
        duration_ms=int(duration_ns or 0) / 1e6, error=status == "Error",
        label=None if label is None else str(label), value=None if value is None else float(value),
        actual=None if actual is None else json.loads(actual),
        champion_label=None if champion_label is None else str(champion_label),
        agreement=None if agreement is None else float(agreement),
        difference=None if difference is None else float(difference))
