"""The profile data stream ``metrics-modelspan.profile-<namespace>``: its documents and its fixed mapping.

Profiles (docs/profiles.md) are the exact statistics of every call, per (model, version, sub-module,
interval). In Elasticsearch each process flush of one key is one document (long format), written by
``ElasticsearchSpanExporter.export_profiles`` and read by the analyzer's store, which sums them::

    {"@timestamp": "2026-12-03T10:00:00.000Z",                 interval start
     "data_stream": {"type": "metrics", "dataset": "modelspan.profile", "namespace": "default"},
     "attributes": {"ml.model.name": "churn", "ml.model.version": "3", "ml.module.name": "",
                    "ml.profile.kind": "operations", "ml.profile.process": "4711-9f2c...",
                    "ml.profile.interval_s": 60.0},
     "metrics": {"ml.profile.calls": 120, "ml.profile.errors": 2, "ml.profile.rows": 480.0,
                 "ml.profile.spans": 118, "ml.profile.dropped": 0,
                 "ml.profile.latency": {"values": [0.0, 1.21e6, ...], "counts": [1, 40, ...]},
                 "ml.profile.latency_sum": 151000000, "ml.profile.latency_min": 0,
                 "ml.profile.latency_max": 2400000}}

The shape is the OTel Collector's ``otel`` mapping mode for metrics (dimensions under
``attributes``, values under ``metrics.<metric name>``), so profiles sent as OTel metrics
(``exporter="otlp"``, ``modelspan.exporters._otlp_profiles``) index into the same fields (docs/profiles.md).
``attributes.ml.module.name`` is ``""`` for the model's own calls. ``metrics.ml.profile.latency`` is a
``histogram`` field: ``values`` are the DDSketch bucket representatives (``modelspan._sketch``,
within 1 % of every latency in the bucket; ``0`` for latencies below 1 ns) and ``counts`` their
calls, so Elasticsearch's ``percentiles`` aggregate the merged sketch of any set of documents;
``latency_sum`` keeps the exact sum (the mean) and ``latency_min``/``latency_max`` the extremes.

Why this mapping is fixed and bounded: ``dynamic: false`` (a field no mapping names is kept in
``_source`` and never indexed), 19 leaf fields whatever the number of models, sub-modules or
features (``mapping()`` here is the operations part). Per-feature profiles are further documents of
other ``profile.kind`` values in the same stream (``modelspan.elasticsearch.feature_profiles``, whose
``mapping()`` is the one installed), a feature's name a ``keyword`` value and its bin counts a
histogram over bin indices, so 500 features add documents, not fields; a wide format (a field per
feature statistic and bin) would need about 500 x 20 = 10,000 fields, ten times Elasticsearch's
default field limit.

>>> data_stream_name("prod")
'metrics-modelspan.profile-prod'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

from modelspan import _time, semconv
from modelspan._sketch import bucket_value
from modelspan.elasticsearch.layout import TIMESTAMP, attr

Body = dict[str, Any]

DATASET: Final = "modelspan.profile"
TYPE: Final = "metrics"
PATTERN: Final = f"{TYPE}-{DATASET}-*"
"""Every profile data stream (the index template's pattern, the store's and the roles' index)."""
KIND_OPERATIONS: Final = "operations"
"""``profile.kind`` of the call statistics (calls, errors, rows, spans, latency)."""

PREFIX: Final = "ml.profile."
"""Metric and attribute names of profiles (``ml.profile.calls``, ...): OTel-style dotted names."""
METRICS: Final = "metrics"
"""Where the Collector's ``otel`` mode puts metric values (``metrics.<metric name>``); ours too."""
CALLS_METRIC: Final = PREFIX + "calls"
ERRORS_METRIC: Final = PREFIX + "errors"
ROWS_METRIC: Final = PREFIX + "rows"
SPANS_METRIC: Final = PREFIX + "spans"
DROPPED_METRIC: Final = PREFIX + "dropped"
LATENCY_METRIC: Final = PREFIX + "latency"
LATENCY_SUM_METRIC: Final = PREFIX + "latency_sum"
LATENCY_MIN_METRIC: Final = PREFIX + "latency_min"
LATENCY_MAX_METRIC: Final = PREFIX + "latency_max"
KIND_ATTRIBUTE: Final = PREFIX + "kind"
PROCESS_ATTRIBUTE: Final = PREFIX + "process"
INTERVAL_ATTRIBUTE: Final = PREFIX + "interval_s"

MODEL: Final = attr(semconv.MODEL_NAME)
VERSION: Final = attr(semconv.MODEL_VERSION)
MODULE: Final = attr(semconv.MODULE_NAME)
KIND: Final = attr(KIND_ATTRIBUTE)
PROCESS: Final = attr(PROCESS_ATTRIBUTE)
INTERVAL: Final = attr(INTERVAL_ATTRIBUTE)


def metric(name: str) -> str:
    """Document field of metric ``name``.

    >>> metric(CALLS_METRIC)
    'metrics.ml.profile.calls'
    """
    return f"{METRICS}.{name}"


CALLS: Final = metric(CALLS_METRIC)
ERRORS: Final = metric(ERRORS_METRIC)
ROWS: Final = metric(ROWS_METRIC)
SPANS: Final = metric(SPANS_METRIC)
"""Calls whose span was started (sampled)."""
DROPPED: Final = metric(DROPPED_METRIC)
"""Spans the export queue dropped."""
LATENCY: Final = metric(LATENCY_METRIC)
"""``histogram``: DDSketch bucket representatives (ns) and their counts."""
LATENCY_SUM: Final = metric(LATENCY_SUM_METRIC)
LATENCY_MIN: Final = metric(LATENCY_MIN_METRIC)
LATENCY_MAX: Final = metric(LATENCY_MAX_METRIC)
SUMS: Final = {"calls": CALLS, "errors": ERRORS, "rows": ROWS, "spans": SPANS, "dropped": DROPPED,
               "latency_sum": LATENCY_SUM}
"""Statistics that add up across documents, by the name the store's aggregations use."""


def data_stream_name(namespace: str) -> str:
    """The data stream of ``namespace``'s profiles."""
    return f"{TYPE}-{DATASET}-{namespace}"


def latency_histogram(buckets: Mapping[int, int], zeros: int) -> dict[str, list[Any]]:
    """The ``histogram`` field value of a latency sketch: ascending representatives and counts.

    >>> latency_histogram({0: 2}, 1)
    {'values': [0.0, 0.9900000000000001], 'counts': [1, 2]}
    """
    values: list[float] = [0.0] if zeros else []
    counts: list[int] = [int(zeros)] if zeros else []
    for index in sorted(buckets):
        if buckets[index] > 0:
            values.append(bucket_value(index))
            counts.append(int(buckets[index]))
    return {"values": values, "counts": counts}


def document_id(process: str, flush: int, profile: Any) -> str:
    """The ``_id`` of one flush of one profile: a replay of it is answered 409, another flush is new."""
    key = f"{process}\x1f{flush}\x1f{profile.model}\x1f{profile.version}\x1f{profile.module}\x1f{profile.start_ns}"
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def profile_document(profile: Any, namespace: str, process: str) -> Body:
    """The document of one flush of ``profile`` (a ``modelspan.instrumentation._profiles.Profile``)."""
    metrics: Body = {
        CALLS_METRIC: int(profile.calls), ERRORS_METRIC: int(profile.errors), ROWS_METRIC: float(profile.rows),
        SPANS_METRIC: int(profile.spans), DROPPED_METRIC: int(profile.dropped),
        LATENCY_METRIC: latency_histogram(profile.buckets, int(profile.zeros)),
        LATENCY_SUM_METRIC: int(profile.latency_sum),
    }
    if profile.latency_min is not None:
        metrics[LATENCY_MIN_METRIC] = int(profile.latency_min)
        metrics[LATENCY_MAX_METRIC] = int(profile.latency_max)
    return {
        TIMESTAMP: _time.iso(_time.from_ns(int(profile.start_ns))),
        "data_stream": {"type": TYPE, "dataset": DATASET, "namespace": namespace},
        "attributes": {semconv.MODEL_NAME: str(profile.model), semconv.MODEL_VERSION: str(profile.version),
                       semconv.MODULE_NAME: str(profile.module), KIND_ATTRIBUTE: KIND_OPERATIONS,
                       PROCESS_ATTRIBUTE: process, INTERVAL_ATTRIBUTE: int(profile.interval_ns) / 1e9},
        METRICS: metrics,
    }


def mapping() -> Body:
    """The fixed mapping of the profile data streams (``dynamic: false``: nothing else is indexed)."""
    keyword = {"type": "keyword", "ignore_above": 1024}
    long = {"type": "long"}
    attributes = {name: dict(keyword) for name in (semconv.MODEL_NAME, semconv.MODEL_VERSION, semconv.MODULE_NAME,
                                                    KIND_ATTRIBUTE, PROCESS_ATTRIBUTE)}
    attributes[INTERVAL_ATTRIBUTE] = {"type": "double"}
    metrics = {name: dict(long) for name in (CALLS_METRIC, ERRORS_METRIC, SPANS_METRIC, DROPPED_METRIC,
                                             LATENCY_SUM_METRIC, LATENCY_MIN_METRIC, LATENCY_MAX_METRIC)}
    metrics[ROWS_METRIC] = {"type": "double"}
    metrics[LATENCY_METRIC] = {"type": "histogram"}
    return {
        "dynamic": False,
        "properties": {
            TIMESTAMP: {"type": "date"},
            "data_stream": {"properties": {"type": {"type": "constant_keyword"},
                                           "dataset": {"type": "constant_keyword"},
                                           "namespace": {"type": "constant_keyword"}}},
            "attributes": {"properties": attributes},
            METRICS: {"properties": metrics},
        },
    }


def leaf_fields(properties: Mapping[str, Any]) -> int:
    """Leaf fields a ``properties`` tree defines (what counts against the field limit).

    >>> leaf_fields(mapping()["properties"])
    19
    """
    return sum(leaf_fields(spec["properties"]) if "properties" in spec else 1 for spec in properties.values())
