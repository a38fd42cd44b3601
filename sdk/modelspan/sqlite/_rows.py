"""From a span to the rows of the SQLite store: pure functions, no I/O.

A span arrives as its ``spans`` row (``span_row`` reads one from an ``otel``-mode document; the
exporter builds it straight from the ``ReadableSpan``) and its attributes. Everything the analyzer
needs is extracted here once, at write time (``_schema`` explains the tables), so that no question
ever parses a JSON document.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelspan import _time, semconv
from modelspan.sqlite._schema import MINUTE_NS

Edges = Mapping[str, Sequence[float]]
"""Single-row field name -> bin edges of one baseline."""
Binner = Callable[[str], "Edges | None"]
"""Baseline id -> the edges of its numeric fields, or None when the baseline is unknown."""

_COLLECTOR_MILLIS = re.compile(r"^(\d+)(?:\.(\d+))?$")
_BATCH_COLUMNS = {
    semconv.STAT_COUNT: "count", semconv.STAT_NULL_COUNT: "null_count", semconv.STAT_NAN_COUNT: "nan_count",
    semconv.STAT_SUM: "sum", semconv.STAT_SUM_SQ: "sum_sq", semconv.STAT_MIN: "min", semconv.STAT_MAX: "max",
    semconv.STAT_OUT_OF_RANGE: "out_of_range_count", semconv.STAT_UNSEEN_COUNT: "unseen_count",
    semconv.STAT_TYPE_CHANGE_COUNT: "type_change_count", semconv.STAT_OTHER_COUNT: "other_count",
    semconv.STAT_OOV_RATE: "oov_rate",
}
BATCH_COLUMNS = tuple(_BATCH_COLUMNS.values())
MODEL_MODULE = ""
"""``calls.module`` of model spans (module spans hold their sub-module's name)."""
EMPTY_PATH = ""
"""Stored for calls without a module path (the store answers it as the empty bucket key)."""
SINGLE_OUTPUTS = (semconv.OUTPUT_LABEL, semconv.OUTPUT_VALUE)
EMPTY_LABEL = ""
"""``call_minutes.output_label`` of calls without a label (the store answers it as the empty bucket key)."""
_MINUTE_NS = MINUTE_NS
_CHECK_ATTRIBUTES = tuple(semconv.quality_features(check) for check in semconv.CHECKS)


def whole_minutes(start: int, end: int) -> tuple[int, int] | None:
    """``[first, last)``: the minutes wholly inside ``[start, end)`` (ns), read from the rollups; None if none.

    >>> whole_minutes(30 * 10**9, 200 * 10**9)
    (1, 3)
    """
    first, last = -(-start // _MINUTE_NS), end // _MINUTE_NS
    return (first, last) if first < last else None


def ragged_ends(start: int, end: int) -> list[tuple[int, int]]:
    """The ``[low, high)`` ranges of ``[start, end)`` outside its whole minutes: read from the raw rows."""
    minutes = whole_minutes(start, end)
    if minutes is None:
        return [(start, end)]
    return [(low, high) for low, high in ((start, minutes[0] * _MINUTE_NS), (minutes[1] * _MINUTE_NS, end))
            if low < high]


def timestamp_ns(value: Any) -> int:
    """``@timestamp`` as ns since the epoch.

    The Collector writes ``"<ms>.<ns remainder>"`` (remainder not zero-padded); ISO 8601 strings and
    plain epoch milliseconds are read too.

    >>> timestamp_ns("1705314600000.5")
    1705314600000000005
    >>> timestamp_ns("2026-11-22T10:00:00.25Z")
    1795341600250000000
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return round(float(value) * 1_000_000)
    text = str(value)
    match = _COLLECTOR_MILLIS.match(text)
    if match:
        return int(match[1]) * 1_000_000 + int(match[2] or 0)
    return _time.parse_ns(text)


SpanRow = tuple[Any, ...]
"""A ``spans`` row, columns in ``_schema.SPANS_TABLE`` order (``SPAN_ID`` ... ``DOCUMENT``)."""
SPAN_ID, TRACE_ID, START_NS, DURATION_NS, STATUS_CODE, DOCUMENT = 0, 1, 5, 6, 7, 17


def span_row(document: Mapping[str, Any], *, start_ns: int | None = None, text: str | None = None) -> SpanRow:
    """The ``spans`` row of a document (columns in ``_schema.SPANS_TABLE`` order).

    The exporter, which has them already, passes the span's ``start_ns`` (else ``@timestamp`` is read)
    and the document's JSON ``text`` (else it is written here).
    """
    attributes = document.get("attributes") or {}
    resource = (document.get("resource") or {}).get("attributes") or {}
    status = document.get("status") or {}
    http_status = attributes.get("http.response.status_code", attributes.get("http.status_code"))
    return (
        str(document["span_id"]), str(document.get("trace_id") or ""), document.get("parent_span_id") or None,
        str(document.get("name") or ""), str(document.get("kind") or ""),
        timestamp_ns(document["@timestamp"]) if start_ns is None else start_ns,
        int(document.get("duration") or 0), str(status.get("code") or "Unset"), resource.get("service.name"),
        (document.get("data_stream") or {}).get("dataset"), _text(attributes.get(semconv.SPAN_KIND)),
        _text(attributes.get(semconv.MODEL_NAME)), _text(attributes.get(semconv.MODEL_VERSION)),
        _text(attributes.get(semconv.MODULE_NAME)), _text(attributes.get(semconv.PREDICTION_ID)),
        _text(attributes.get("http.route")), int(http_status) if isinstance(http_status, (int, float)) else None,
        document_json(document) if text is None else text,
    )


def document_json(document: Mapping[str, Any], *, strict: bool = False) -> str:
    """The JSON stored in ``spans.document`` (compact; NaN must have been written as ``null`` already).

    ``strict`` refuses (``TypeError``) a value JSON has no type for instead of writing its ``str``:
    the exporter then stores the normalised document, as ``span_to_document`` would have it.
    """
    return json.dumps(document, separators=(",", ":"), allow_nan=False, default=None if strict else str)


def _text(value: Any) -> str | None:
    return None if value is None else _str(value)


def _str(value: Any) -> str:
    # Sequences read as lists (as a JSON document holds them) whether they come as tuples (from a
    # span's attributes) or lists (from a document), so both write paths store the same text.
    return str(list(value)) if type(value) is tuple else str(value)


@dataclass
class Derived:
    """Rows of the derived tables for a list of spans, with the rollups already summed."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    modules: set[tuple[int, str]] = field(default_factory=set)
    values: list[tuple[Any, ...]] = field(default_factory=list)
    bins: dict[tuple[int, int, int, int, int], list[float]] = field(default_factory=dict)
    categories: dict[tuple[int, int, int, str], int] = field(default_factory=dict)
    batch_stats: list[tuple[Any, ...]] = field(default_factory=list)
    batch_counts: list[tuple[Any, ...]] = field(default_factory=list)
    row_checks: list[tuple[Any, ...]] = field(default_factory=list)
    call_minutes: dict[tuple[int, int, float, str, str], list[float]] = field(default_factory=dict)
    """(series, minute, sample rate, path, label) -> [calls, errors, rows, duration, q0, k0, ... q4, k4]."""
    check_minutes: dict[tuple[int, int, int, str], int] = field(default_factory=dict)
    """(series, minute, check, feature) -> single-row failures."""


class Extractor:
    """Turns documents into derived rows; ``ids`` gives integer keys (series, fields, binnings)."""

    def __init__(self, ids: Any, binner: Binner) -> None:
        self.ids = ids
        self.binner = binner
        self._fields: dict[str, int | None] = {}
        self._batch_null_names: dict[str, str] = {}

    def add(self, row: SpanRow, attributes: Mapping[str, Any], out: Derived) -> None:
        """Add the derived rows of one span (its ``spans`` row and its attributes) to ``out``."""
        kind = attributes.get(semconv.SPAN_KIND)
        model, version = attributes.get(semconv.MODEL_NAME), attributes.get(semconv.MODEL_VERSION)
        if kind not in (semconv.SPAN_KIND_MODEL, semconv.SPAN_KIND_MODULE) or model is None or version is None:
            return
        series = self.ids.series(_str(model), _str(version))
        span_id, trace_id, start_ns = row[SPAN_ID], row[TRACE_ID], row[START_NS]
        error = 1 if row[STATUS_CODE] == "Error" else 0
        duration = row[DURATION_NS]
        if kind == semconv.SPAN_KIND_MODULE:
            module = attributes.get(semconv.MODULE_NAME)
            if module is not None and _str(module) != MODEL_MODULE:
                out.calls.append((series, _str(module), start_ns, span_id, duration, error, None, None, None, None,
                                  trace_id, None, None, None, None, None, None))
                out.modules.add((series, _str(module)))
            return
        baseline = attributes.get(semconv.BASELINE_ID)
        label = attributes.get(semconv.OUTPUT_LABEL)
        quality = [_number(attributes.get(semconv.quality_count(check))) for check in semconv.CHECKS]
        out.calls.append((
            series, MODEL_MODULE, start_ns, span_id, duration, error, _number(attributes.get(semconv.SAMPLE_RATE)),
            _number(attributes.get(semconv.BATCH_SIZE)), _text(attributes.get(semconv.MODULE_PATH_KEY)) or EMPTY_PATH,
            None if label is None else _keyword(label), trace_id, _text(baseline), *quality,
        ))
        self._call_minute(out.call_minutes, out.calls[-1], start_ns // _MINUTE_NS)
        self._values(series, span_id, start_ns, attributes, _text(baseline), out)
        self._batches(series, span_id, start_ns, attributes, _text(baseline), out)
        self._checks(series, span_id, start_ns, attributes, out)

    def _values(self, series: int, span_id: str, start_ns: int, attributes: Mapping[str, Any],
                baseline: str | None, out: Derived) -> None:
        # The hot loop of every write (features x spans): names are classified once and cached.
        edges = self.binner(baseline) if baseline is not None else None
        # Values of a span naming a baseline carry its binning even when its edges are not known yet:
        # saving that baseline later bins them (``_db.rebin``).
        binning = self.ids.binning(baseline) if baseline is not None else 0
        minute = start_ns // _MINUTE_NS
        fields, values, bins, categories = self._fields, out.values, out.bins, out.categories
        for name, value in attributes.items():
            field_id = fields.get(name)
            if field_id is None:
                if name in fields or not (name.startswith(semconv.FEATURE_PREFIX) or name in SINGLE_OUTPUTS):
                    fields[name] = None
                    continue
                field_id = fields[name] = self.ids.field(semconv.canonical_attribute(name))
            kind = type(value)
            if kind is float or kind is int or (kind is not bool and isinstance(value, (int, float))):
                number = float(value)
                if number != number:  # NaN is counted by the call-time checks, never binned
                    continue
                field_edges = edges.get(name) if edges else None
                row_binning, bin_index = binning, bisect.bisect_right(field_edges, number) if field_edges else -1
                values.append((series, field_id, row_binning, start_ns, span_id, number, None))
                key = (series, field_id, row_binning, minute, bin_index)
                rollup = bins.get(key)
                if rollup is None:
                    bins[key] = [1, number, number * number, number, number]
                else:
                    rollup[0] += 1
                    rollup[1] += number
                    rollup[2] += number * number
                    if number < rollup[3]:
                        rollup[3] = number
                    elif number > rollup[4]:
                        rollup[4] = number
            elif kind is str or kind is bool:
                category = _keyword(value)
                values.append((series, field_id, 0, start_ns, span_id, None, category))
                category_key = (series, field_id, minute, category)
                categories[category_key] = categories.get(category_key, 0) + 1

    def _batches(self, series: int, span_id: str, start_ns: int, attributes: Mapping[str, Any],
                 baseline: str | None, out: Derived) -> None:
        stats: dict[str, dict[str, float]] = {}
        for name, value in attributes.items():
            if not name.startswith(semconv.BATCH_PREFIX) or name == semconv.BATCH_SIZE:
                continue
            parsed = semconv.parse_feature_attribute(name)
            number = _number(value)
            if parsed is None or parsed[1] is None or number is None:
                continue
            # Batch features are keyed by their attribute prefix: a user's "_output" is not the outputs'.
            key, stat = semconv.batch_field(parsed[0]), str(parsed[1])
            if stat.startswith(("bin.", "cat.")) and stat != semconv.STAT_OTHER_COUNT:
                kind = "b" if stat.startswith("bin.") else "k"
                out.batch_counts.append((series, self.ids.field(key), start_ns, span_id, baseline, kind,
                                         int(stat.split(".")[1]), number))
            elif stat in _BATCH_COLUMNS:
                stats.setdefault(key, {})[_BATCH_COLUMNS[stat]] = number
        for key, values in stats.items():
            out.batch_stats.append((series, self.ids.field(key), start_ns, span_id, baseline,
                                    *(values.get(column) for column in BATCH_COLUMNS)))

    @staticmethod
    def _call_minute(rollups: dict[tuple[int, int, float, str, str], list[float]], call: tuple[Any, ...],
                     minute: int) -> None:
        """Add a model call (a ``calls`` row) to its minute's rollup, as ``_sqlite_ops.operations`` groups it."""
        rate, batch_size, label = call[6], call[7], call[9]
        key = (call[0], minute, 1.0 if rate is None else rate, call[8], EMPTY_LABEL if label is None else label)
        rollup = rollups.get(key)
        if rollup is None:
            rollup = rollups[key] = [0.0] * (4 + 2 * len(semconv.CHECKS))
        rollup[0] += 1
        rollup[1] += call[5]
        rollup[2] += 1.0 if batch_size is None else batch_size
        rollup[3] += call[4]
        for n, failed in enumerate(call[12:]):
            if failed is not None:
                rollup[4 + 2 * n] += failed
                rollup[5 + 2 * n] += 1

    def _checks(self, series: int, span_id: str, start_ns: int, attributes: Mapping[str, Any], out: Derived) -> None:
        minute, rollups, batch_names = start_ns // _MINUTE_NS, out.check_minutes, self._batch_null_names
        for number, attribute in enumerate(_CHECK_ATTRIBUTES):
            features = attributes.get(attribute)
            if features is None:
                continue
            for feature in dict.fromkeys(features if isinstance(features, (list, tuple)) else [features]):
                name = str(feature)
                batch_name = batch_names.get(name)
                if batch_name is None:
                    batch_name = batch_names[name] = semconv.batch_stat(name, semconv.STAT_NULL_COUNT)
                # A batch counts its values in ml.batch.<name>.*; only single-row failures count here.
                if batch_name not in attributes:
                    out.row_checks.append((series, start_ns, span_id, number, name))
                    key = (series, minute, number, name)
                    rollups[key] = rollups.get(key, 0) + 1


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _keyword(value: Any) -> str:
    """How a keyword field holds a value (booleans as Elasticsearch writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _str(value)


def case(edges: Sequence[float], low: int = 0, high: int | None = None) -> str:
    """SQL giving the bin of ``num``: a balanced search tree of comparisons, ``from <= x < to``.

    The same bins as the writer's ``bisect_right`` on the edges (and Elasticsearch's ``range``).

    >>> case([0.0, 10.0])
    'CASE WHEN num < 0.0 THEN 0 ELSE CASE WHEN num < 10.0 THEN 1 ELSE 2 END END'
    """
    high = len(edges) if high is None else high
    if low == high:
        return str(low)
    middle = (low + high) // 2  # bins low..middle are below edges[middle]
    return f"CASE WHEN num < {float(edges[middle])!r} THEN {case(edges, low, middle)} " \
           f"ELSE {case(edges, middle + 1, high)} END"
