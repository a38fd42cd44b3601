"""Elasticsearch search responses read: pure functions, no I/O.

The answer to ``_es_queries.model_body`` is merged into ``ModelStats`` by ``_answers.parse_model``
(shared with the SQLite store); here are the models of a window, the outcomes pages and the join
of labels with their predictions. Missing aggregations (an empty index) parse as zeros.

>>> parse_models({"aggregations": {"models": {"buckets": [
...     {"key": "churn", "doc_count": 3, "versions": {"buckets": [{"key": "3", "doc_count": 3}]}}]}}})
[('churn', '3', 3)]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelspan import _time, semconv
from modelspan.elasticsearch.layout import TIMESTAMP, TRACE_ID
from modelspan.store._answers import Agg, aggregations
from modelspan.store._es_queries import OUTCOME_ACTUAL, OUTCOME_PREDICTION_ID
from modelspan.store.types import LabelledPrediction, probability_vector


def parse_models(response: Agg) -> list[tuple[str, str, int]]:
    """``(model, version, calls)`` for every model version in the window."""
    models = aggregations(response).get("models", {})
    return [
        (str(model["key"]), str(version["key"]), int(version["doc_count"]))
        for model in models.get("buckets", [])
        for version in model.get("versions", {}).get("buckets", [])
    ]


def parse_outcomes(response: Agg) -> tuple[dict[str, Any], list[Any] | None]:
    """``{prediction_id: actual}`` of one outcomes page, and the ``search_after`` of the next page."""
    hits = response.get("hits", {}).get("hits", [])
    actuals: dict[str, Any] = {}
    for hit in hits:
        source = hit.get("_source", {})
        prediction_id = source.get(OUTCOME_PREDICTION_ID)
        if prediction_id is not None:
            actuals[str(prediction_id)] = source.get(OUTCOME_ACTUAL)  # the last one recorded wins
    return actuals, (list(hits[-1].get("sort", [])) or None) if hits else None


def span_ids_for(prediction_ids: list[str]) -> list[str]:
    """Prediction ids to look up on spans: the id itself and, for batch row ``id:i``, the call's id.

    >>> span_ids_for(["a", "b:3"])
    ['a', 'b', 'b:3']
    """
    wanted = set(prediction_ids)
    for prediction_id in prediction_ids:
        base, _, row = prediction_id.rpartition(":")
        if base and row.isdigit():
            wanted.add(base)
    return sorted(wanted)


def join_predictions(actuals: Mapping[str, Any], response: Agg) -> list[LabelledPrediction]:
    """Pair each labelled prediction with the outputs of its span (hits of ``predictions_body``)."""
    spans: dict[str, Agg] = {}
    for hit in response.get("hits", {}).get("hits", []):
        source = hit.get("_source", {})
        attributes = source.get("attributes", {})
        prediction_id = attributes.get(semconv.PREDICTION_ID)
        if prediction_id is not None:
            spans[str(prediction_id)] = source
    joined = []
    vectors: dict[int, tuple[float | None, ...] | None] = {}  # a batch's array, converted once for all its rows
    for prediction_id, actual in actuals.items():
        source, row = spans.get(prediction_id), None
        if source is None:
            base, _, index = prediction_id.rpartition(":")
            if base and index.isdigit():
                source, row = spans.get(base), int(index)
        if source is not None:
            joined.append(_labelled(prediction_id, actual, source, row, vectors))
    return joined


def _span_start(value: Any) -> str:
    """A span's ``@timestamp`` as ISO 8601 with microseconds, whichever form the writer stored.

    The Collector (and our exporter, to write the same document) stores epoch milliseconds with the
    nanosecond remainder, ``"<ms>.<ns>"`` (not zero-padded); other writers store ISO 8601, kept as is.

    >>> _span_start("1795341600250.1500")
    '2026-11-22T10:00:00.250001Z'
    >>> _span_start("2026-11-22T10:00:00.250001Z")
    '2026-11-22T10:00:00.250001Z'
    """
    text = str(value)
    millis, dot, remainder = text.partition(".")
    if not millis.isdigit() or (dot and not remainder.isdigit()):
        return text
    nanos = int(millis) * 1_000_000 + (int(remainder) if remainder else 0)
    return _time.from_ns(nanos).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _labelled(prediction_id: str, actual: Any, source: Agg, row: int | None,
              vectors: dict[int, tuple[float | None, ...] | None]) -> LabelledPrediction:
    attributes = source.get("attributes", {})

    def pick(single: str, many: str) -> Any:
        if row is None:
            return attributes.get(single)
        values = attributes.get(many)
        return values[row] if isinstance(values, list) and row < len(values) else None

    label = pick(semconv.OUTPUT_LABEL, semconv.OUTPUT_LABELS)
    value = pick(semconv.OUTPUT_VALUE, semconv.OUTPUT_VALUES)
    score = pick(semconv.OUTPUT_SCORE, semconv.OUTPUT_SCORES)
    if row is None:
        vector = {key: value for key, value in attributes.items() if key.startswith(semconv.OUTPUT_PROBABILITY_PREFIX)}
        probabilities = probability_vector(vector) if vector else None
    else:
        flat = attributes.get(semconv.OUTPUT_PROBABILITIES)
        if id(flat) not in vectors:
            vectors[id(flat)] = probability_vector(flat)
        probabilities = vectors[id(flat)]
    return LabelledPrediction(
        prediction_id=prediction_id,
        timestamp=_span_start(source.get(TIMESTAMP, "")),
        actual=actual,
        label=None if label is None else str(label),
        value=None if value is None else float(value),
        score=None if score is None else float(score),
        trace_id=source.get(TRACE_ID),
        probabilities=probabilities,
        row=row,
    )
