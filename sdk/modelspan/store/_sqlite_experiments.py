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
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelspan import semconv
from modelspan.store._experiment_stats import ArmOps, ExperimentStats, ShadowOps, UnitStats
from modelspan.store._sqlite_extras import window_ns
from modelspan.store.types import Window

TOP_LABELS = 10


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


PERCENTS = (50.0, 90.0, 95.0, 99.0)


def _percentiles(durations: list[float]) -> dict[str, float | None]:
    if not durations:
        return {f"p{p:g}": None for p in PERCENTS}
    values = np.percentile(np.asarray(durations, dtype=np.float64), PERCENTS, method="linear")
    return {f"p{p:g}": float(v) for p, v in zip(PERCENTS, values, strict=True)}


def _correct(actual: Any, label: str | None) -> bool | None:
    if actual is None or label is None:
        return None
    return semconv.category_value(actual) == label


def _units(served: list[ExperimentCall]) -> list[UnitStats]:
    groups: dict[tuple[str, str | None], list[ExperimentCall]] = defaultdict(list)
    for call in served:
        groups[(call.arm, call.unit)].append(call)
    units = []
    for (arm, unit), group in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        marks = [m for m in (_correct(c.actual, c.label) for c in group) if m is not None]
        durations = np.asarray([c.duration_ms for c in group])
        units.append(UnitStats(arm, unit, len(group), sum(c.error for c in group), float(durations.sum()),
                               float(np.square(durations).sum()), len(marks), sum(marks)))
    return units


def _arm(arm: str, calls: list[ExperimentCall]) -> ArmOps:
    marks = [m for m in (_correct(c.actual, c.label) for c in calls) if m is not None]
    values = [c.value for c in calls if c.value is not None]
    return ArmOps(arm=arm, calls=len(calls), errors=sum(c.error for c in calls),
                  latency_ms=_percentiles([c.duration_ms for c in calls]),
                  labels=dict(Counter(c.label for c in calls if c.label is not None).most_common(TOP_LABELS)),
                  value_mean=float(np.mean(values)) if values else None,
                  versions=sorted({f"{c.model}:{c.version}" for c in calls}),
                  labelled=len(marks), accuracy=sum(marks) / len(marks) if marks else None)


def _shadow(calls: list[ExperimentCall]) -> ShadowOps | None:
    if not calls:
        return None
    agreements = [c.agreement for c in calls if c.agreement is not None]
    differences = [c.difference for c in calls if c.difference is not None]
    b = c_ = 0
    for call in calls:
        champion, challenger = _correct(call.actual, call.champion_label), _correct(call.actual, call.label)
        if champion is not None and challenger is not None:
            b += champion and not challenger
            c_ += challenger and not champion
    return ShadowOps(calls=len(calls), failed=sum(c.error for c in calls), compared=len(agreements),
                     churn=1.0 - float(np.mean(agreements)) if agreements else None,
                     mean_abs_difference=float(np.mean(differences)) if differences else None,
                     latency_ms=_percentiles([c.duration_ms for c in calls]),
                     champion_only_right=b, challenger_only_right=c_)


def experiment_stats(connection: sqlite3.Connection, experiment: str, window: Window) -> ExperimentStats:
    """The experiment's unit sums, arm summaries and shadow summary over ``window``."""
    return stats_from_calls(experiment_calls(connection, experiment, window))


def stats_from_calls(calls: list[ExperimentCall]) -> ExperimentStats:
    """``ExperimentStats`` of experiment calls (the SQLite store reads calls, then sums them here)."""
    served = [c for c in calls if not c.shadow]
    by_arm: dict[str, list[ExperimentCall]] = defaultdict(list)
    for call in served:
        by_arm[call.arm].append(call)
    return ExperimentStats(units=_units(served), arms=[_arm(a, group) for a, group in sorted(by_arm.items())],
                           shadow=_shadow([c for c in calls if c.shadow]), labels_joined=True)
