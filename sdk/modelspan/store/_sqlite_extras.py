"""The SQLite store's labels join, outcomes, findings and checkpoints: SQL with the ES semantics.

Outcomes and findings are keyed like their Elasticsearch documents (``_id`` = prediction id /
``finding.id``), so recording a label again or re-analysing a window replaces instead of adding.
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from modelspan import _time, findings, semconv
from modelspan.sqlite import timestamp_ns, transaction
from modelspan.store.types import LabelledPrediction, ScoreSums, Window, finding_inside, probability_vector


def window_ns(window: Window) -> tuple[int, int]:
    """``[start, end)`` of ``window`` in ns since the epoch (exact: datetimes hold microseconds)."""
    return _time.to_ns(window.start), _time.to_ns(window.end)




def outcome_rows(rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """``outcomes`` rows from ``(prediction_id, actual[, timestamp])``; bad input raises ``ValueError``."""
    stored = []
    for row in rows:
        prediction_id, actual = row[0], row[1]
        stamp = row[2] if len(row) > 2 and row[2] is not None else _dt.datetime.now(_dt.timezone.utc)
        if isinstance(stamp, _dt.datetime):
            stamp = Window(stamp, stamp).iso()[0]
        text = str(prediction_id)
        base, _, index = text.rpartition(":")
        batch_row = (base, int(index)) if base and index.isdigit() else (None, None)
        stored.append((text, *batch_row, json.dumps(actual, allow_nan=False), str(stamp), timestamp_ns(stamp)))
    return stored


def record_outcomes(connection: sqlite3.Connection, rows: Iterable[Sequence[Any]]) -> int:
    stored = outcome_rows(rows)
    with transaction(connection):
        connection.executemany("INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?, ?)", stored)
    return len(stored)


def _output(alias: str, name: str, many: str, row: str) -> str:
    """The output of a single-row span, or row ``row`` of a batch span's per-row outputs."""
    return (f"CASE WHEN {row} IS NULL THEN json_extract({alias}, '$.attributes.\"{name}\"') "
            f"ELSE json_extract({alias}, '$.attributes.\"{many}\"[' || {row} || ']') END")


def _model_span(alias: str) -> str:
    return (f"{alias}.ml_kind = ? AND {alias}.model_name = ? AND {alias}.model_version = ? "
            f"AND {alias}.start_ns >= ? AND {alias}.start_ns < ?")


def labelled_predictions(connection: sqlite3.Connection, window: Window, model: str,
                         version: str) -> list[LabelledPrediction]:
    """Outcomes (recorded since the window began) joined with the window's model spans by prediction id.

    A batch row's outcome (``<id>:<i>``) joins the call's span and takes row ``i`` of its outputs.
    JSON is read only for labelled spans: the cost follows the labels, not the spans. The spans are
    looked up by prediction id (``INDEXED BY``): without table statistics (a freshly loaded store,
    before ``ANALYZE``) the planner would rather range-scan the window's model spans per outcome,
    a thousand times slower.
    """
    start, end = window_ns(window)
    args = (semconv.SPAN_KIND_MODEL, model, version, start, end)
    row = "picked_row"
    sql = f"""
        SELECT prediction_id, actual, json_extract(doc, '$."@timestamp"'), trace_id,
               {_output('doc', semconv.OUTPUT_LABEL, semconv.OUTPUT_LABELS, row)},
               {_output('doc', semconv.OUTPUT_VALUE, semconv.OUTPUT_VALUES, row)},
               {_output('doc', semconv.OUTPUT_SCORE, semconv.OUTPUT_SCORES, row)},
               {row}, {_probabilities('doc', row)}
        FROM (SELECT o.prediction_id, o.actual,
                     CASE WHEN s1.span_id IS NOT NULL THEN NULL ELSE o.row END AS {row},
                     COALESCE(s1.document, s2.document) AS doc, COALESCE(s1.trace_id, s2.trace_id) AS trace_id
              FROM outcomes o
              LEFT JOIN spans s1 INDEXED BY spans_prediction
                   ON s1.prediction_id = o.prediction_id AND {_model_span('s1')}
              LEFT JOIN spans s2 INDEXED BY spans_prediction
                   ON o.row IS NOT NULL AND s1.span_id IS NULL AND s2.prediction_id = o.base_id
                   AND {_model_span('s2')}
              WHERE o.timestamp_ns >= ? AND (s1.span_id IS NOT NULL OR s2.span_id IS NOT NULL))
        ORDER BY prediction_id"""
    result = []
    vectors: dict[str, tuple[float | None, ...] | None] = {}  # a batch's array, parsed once for all its rows
    for prediction_id, actual, stamp, trace_id, label, value, score, picked, probabilities in connection.execute(
            sql, (*args, *args, start)):
        result.append(LabelledPrediction(
            prediction_id=prediction_id, timestamp=str(stamp or ""), actual=json.loads(actual),
            label=None if label is None else str(label), value=None if value is None else float(value),
            score=None if score is None else float(score), trace_id=trace_id,
            probabilities=None if probabilities is None else vectors.setdefault(
                probabilities, probability_vector(json.loads(probabilities))),
            row=None if picked is None else int(picked)))
    return result


def _probabilities(alias: str, row: str) -> str:
    """A batch row's span array ``ml.output.probabilities``, or a single-row multiclass call's
    ``ml.output.probability.<k>`` attributes as one JSON object (read only when ``ml.output.class`` says
    the call has a vector)."""
    attributes = f"{alias}, '$.attributes'"
    batch = f"json_extract({alias}, '$.attributes.\"{semconv.OUTPUT_PROBABILITIES}\"')"
    return (f"CASE WHEN {row} IS NOT NULL THEN {batch} "
            f"WHEN json_extract({alias}, '$.attributes.\"{semconv.OUTPUT_CLASS}\"') IS NOT NULL THEN "
            f"(SELECT json_group_object(key, value) FROM json_each({attributes}) "
            f"WHERE key LIKE '{semconv.OUTPUT_PROBABILITY_PREFIX}%') END")


def write_findings(connection: sqlite3.Connection, documents: Iterable[dict[str, Any]]) -> int:
    rows = [(str(d[findings.ID]), d.get(findings.TYPE), d.get(findings.MODEL_NAME),
             timestamp_ns(d[findings.TIMESTAMP]) if d.get(findings.TIMESTAMP) is not None else None,
             json.dumps(d, allow_nan=False, default=str)) for d in documents]
    with transaction(connection):
        connection.executemany("INSERT OR REPLACE INTO findings VALUES (?, ?, ?, ?, ?)", rows)
    return len(rows)


def delete_findings(connection: sqlite3.Connection, window: Window, types: Sequence[str],
                    model: str | None = None) -> int:
    """Remove the findings of ``types`` written for exactly ``window`` (and ``model``)."""
    if not types:
        return 0
    start, end = window.iso()
    sql = (f"DELETE FROM findings WHERE type IN ({', '.join('?' * len(types))})"
           " AND json_extract(document, '$.\"window.start\"') = ? AND json_extract(document, '$.\"window.end\"') = ?")
    args: list[Any] = [*types, start, end]
    if model is not None:
        sql += " AND model_name = ?"
        args.append(model)
    with transaction(connection):
        deleted = connection.execute(sql, args).rowcount
    return int(deleted)


def read_findings(connection: sqlite3.Connection, window: Window | None = None,
                  types: Sequence[str] | None = None, model: str | None = None) -> list[dict[str, Any]]:
    """Findings stamped inside ``window`` (closed, as in Elasticsearch) of ``types``/``model``, by id."""
    where: list[str] = ["1 = 1"]
    args: list[Any] = []
    if window is not None:
        start, end = window_ns(window)
        where.append("timestamp_ns >= ? AND timestamp_ns <= ?")
        args += [start, end]
    if types:
        where.append(f"type IN ({', '.join('?' * len(types))})")
        args += list(types)
    if model is not None:
        where.append("model_name = ?")
        args.append(model)
    rows = connection.execute(f"SELECT document FROM findings WHERE {' AND '.join(where)} ORDER BY id", args)
    documents = [json.loads(r[0]) for r in rows]
    return [d for d in documents if finding_inside(d, window)]


def get_checkpoint(connection: sqlite3.Connection, name: str) -> str | None:
    row = connection.execute("SELECT value FROM checkpoints WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])


def set_checkpoint(connection: sqlite3.Connection, name: str, value: str) -> None:
    connection.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)", (name, value, time.time_ns()))


def score_sums(connection: sqlite3.Connection, window: Window, model: str, version: str,
               edges: Sequence[float], calibration: str | None = None) -> ScoreSums:
    """Rows and score sums per (predicted label, interval of ``edges``): one SQL query reads each row's
    label and score, numpy bins them (``searchsorted`` on the edges, ``bincount`` per label).

    Single-row spans give their label and score; a batch span's arrays are paired by index (the scores
    array is extracted once per span and indexed per label: a join of two ``json_each`` is quadratic).
    Rows of a batch past its recorded arrays (``MAX_ROW_OUTPUTS``) are counted as unscored. A batch that
    recorded its cells with ``calibration`` (``ml.estimation.cbpe.*``) gives them instead, every row.
    """
    start, end = window_ns(window)
    args = (semconv.SPAN_KIND_MODEL, model, version, start, end, calibration)
    label, score = (f"'$.attributes.\"{name}\"'" for name in (semconv.OUTPUT_LABEL, semconv.OUTPUT_SCORE))
    labels, scores = (f"'$.attributes.\"{name}\"'" for name in (semconv.OUTPUT_LABELS, semconv.OUTPUT_SCORES))
    listed = f"{_model_span('spans')} AND COALESCE({_FINGERPRINT}, '') != COALESCE(?, '-')"  # no sums of it
    sql = f"""
        SELECT json_extract(document, {label}), json_extract(document, {score})
        FROM spans WHERE {listed} AND json_extract(document, {labels}) IS NULL
        UNION ALL
        SELECT l.value, json_extract(b.scores, '$[' || l.key || ']')
        FROM (SELECT json_extract(document, {labels}) AS labels, json_extract(document, {scores}) AS scores
              FROM spans WHERE {listed}) AS b, json_each(b.labels) AS l"""
    rows = connection.execute(sql, (*args, *args)).fetchall()
    usable = [(semconv.category_value(name) or "", float(value)) for name, value in rows
              if name is not None and isinstance(value, (int, float)) and 0.0 <= value <= 1.0]
    cut = f"""SELECT total(json_extract(document, '$.attributes."{semconv.BATCH_SIZE}"')
                         - json_array_length(document, {labels}))
              FROM spans WHERE {listed} AND json_extract(document, {labels}) IS NOT NULL"""
    beyond = int(connection.execute(cut, args).fetchone()[0])  # batch rows past the recorded arrays
    cells = bin_scores(usable, edges)
    unusable = len(rows) - len(usable) + beyond
    if calibration is not None:
        unusable += _recorded_cells(connection, args, len(edges), cells)
    return ScoreSums(tuple(float(e) for e in edges), cells, unusable)


_FINGERPRINT = f"json_extract(document, '$.attributes.\"{semconv.CBPE_CALIBRATION}\"')"


def _recorded_cells(connection: sqlite3.Connection, args: tuple[Any, ...], edges: int,
                    cells: dict[tuple[str, int], tuple[int, float]]) -> int:
    """Add the cells batches recorded with the asked calibration to ``cells`` (one query, one row per recorded
    cell: the cost follows the cells, at most one per row); returns their unusable rows."""
    codes, counts, sums, unusable = (f"json_extract(document, '$.attributes.\"{name}\"')" for name in (
        semconv.CBPE_CELLS, semconv.CBPE_CELL_ROWS, semconv.CBPE_CELL_SUMS, semconv.CBPE_UNUSABLE))
    sql = f"""
        SELECT json_extract(b.codes, '$[' || c.key || ']'), c.value, json_extract(b.sums, '$[' || c.key || ']'), 0
        FROM (SELECT {codes} AS codes, {counts} AS counts, {sums} AS sums
              FROM spans WHERE {_model_span('spans')} AND {_FINGERPRINT} = ?) AS b, json_each(b.counts) AS c
        UNION ALL
        SELECT NULL, 0, 0.0, total({unusable}) FROM spans WHERE {_model_span('spans')} AND {_FINGERPRINT} = ?"""
    left = 0
    for code, count, total, unscored in connection.execute(sql, (*args, *args)):
        if code is None:
            left += int(unscored)
            continue
        key = ("1" if code // (edges + 1) else "0", int(code) % (edges + 1))
        held = cells.get(key, (0, 0.0))
        cells[key] = (held[0] + int(count), held[1] + float(total))
    return left


def bin_scores(rows: Sequence[tuple[str, float]], edges: Sequence[float]) -> dict[tuple[str, int], tuple[int, float]]:
    """(label, interval) -> (rows, score sum) of ``(label, score)`` rows; interval = edges at or below the score.

    >>> bin_scores([("1", 0.9), ("1", 0.95), ("0", 0.6)], [0.5, 0.8])
    {('0', 1): (1, 0.6), ('1', 2): (2, 1.85)}
    """
    cells: dict[tuple[str, int], tuple[int, float]] = {}
    if not rows:
        return cells
    names = np.array([name for name, _ in rows], dtype=object)
    values = np.array([value for _, value in rows], dtype=np.float64)
    interval = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right")
    for name in sorted(set(names.tolist())):
        mine = names == name
        counts = np.bincount(interval[mine], minlength=len(edges) + 1)
        totals = np.bincount(interval[mine], weights=values[mine], minlength=len(edges) + 1)
        for index in np.flatnonzero(counts):
            cells[(name, int(index))] = (int(counts[index]), float(totals[index]))
    return cells
