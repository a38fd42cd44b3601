"""The per-feature part of profiles as OTLP metrics: the Collector writes the direct exporter's documents.

``modelspan.elasticsearch.feature_profiles.feature_documents`` makes the per-feature documents of one
model profile flush (``feature``, ``category``, ``path``, ``quality``); here each document becomes
data points that share its attributes (the operations document's dimensions, its own kind and keys,
and ``ml.profile.flush``) and the interval start as their time, so the Collector's ``otel`` mapping
mode groups them back into that one document (docs/profiles.md, "Through the OpenTelemetry
Collector"). Each ``metrics`` field becomes one data point of the metric of the same name:

- counts (``long`` fields): delta monotonic ``Sum``, int; ``ml.profile.feature.sum``/``sum_sq``:
  delta ``Sum`` (not monotonic), double; ``min``, ``max`` (double) and ``width`` (int): ``Gauge``;
- the counts per baseline bin (category) index: a delta explicit-bucket ``Histogram`` whose bounds are
  the half-integers ``-0.5, 0.5, ..., k + 0.5`` (``k`` the highest occupied index) with the counts in
  the buckets between them and an empty first and overflow bucket. No mapping hint: every Collector
  version writes a bucket's midpoint, ``(b[i-1] + b[i]) / 2``, which is exactly the bin index
  (halves are exact in binary), and leaves empty buckets out, so the ``histogram`` field is the
  direct document's (``values`` as doubles: ``1.0`` for ``1``, the same to Elasticsearch).

A document with a non-finite value (an infinite ``min`` or ``max``; the record already leaves out
sums that overflowed) is left out and counted,
as the direct exporter dead-letters it alone: the Collector would write that value as ``0``
(``internal/datapoints/number.go``), a wrong number rather than a missing one.

Bounded: per model profile flush, a ``feature`` document has at most 14 data points (8 counts, sum,
sum of squares, min, max, width, bins or categories; a text feature 4 more, its token counts) whose
histogram has at most ``width + 1`` bounds; a ``category`` or ``path`` document one; ``quality`` 11 (two per check and
``features_dropped``). Data point attributes: at most 10 keys (6 dimensions, the flush, and feature,
its kind and baseline id, or feature, category and baseline id, or path and label), their values
bounded by the SDK's own bounds (``_feature_profiles``: features, tracked categories, paths, labels).
The metric names are fixed: 31 here, 40 with the operations part, whatever the number of features.
A flush is sent as requests of about ``MAX_REQUEST_BYTES`` at most, each holding whole documents
(``_otlp_profiles.Requests``, for the operations part too): at the SDK's bounds (4,096 profile keys with
latency histograms of up to ``MAX_LATENCY_BUCKETS`` bounds; 202 features, 64 tracked categories each,
200 paths x 50 labels) one request could pass the 4 MiB an OTLP/gRPC receiver accepts by default.

>>> point = bins_point({"values": [0, 2], "counts": [3, 1]}, [], 0)
>>> list(point.explicit_bounds), list(point.bucket_counts)
([-0.5, 0.5, 1.5, 2.5], [0, 3, 0, 1, 0])
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

from modelspan import semconv
from modelspan.elasticsearch import feature_profiles as fp
from modelspan.elasticsearch import profiles as shape
from modelspan.exporters._otlp_profiles import (
    FLUSH_ATTRIBUTE,
    MAX_REQUEST_BYTES,
    Metrics,
    Requests,
    attributes_of,
    operations_cost,
)

HISTOGRAMS: Final = frozenset((fp.BINS_METRIC, fp.CATEGORIES_METRIC))
GAUGES: Final = frozenset((fp.feature_metric(semconv.STAT_MIN), fp.feature_metric(semconv.STAT_MAX),
                           fp.WIDTH_METRIC))
UPDOWN: Final = frozenset((fp.feature_metric(semconv.STAT_SUM), fp.feature_metric(semconv.STAT_SUM_SQ)))
__all__ = ["GAUGES", "HISTOGRAMS", "MAX_REQUEST_BYTES", "UPDOWN", "add_document", "bins_point", "feature_documents",
           "flush_requests"]


def bins_point(histogram: Mapping[str, Sequence[int]], attributes: list[KeyValue],
               time_ns: int) -> pb.HistogramDataPoint:
    """The data point of counts per index whose bucket midpoints are the indices themselves."""
    top = max(int(value) for value in histogram["values"])
    dense = [0] * (top + 1)
    for value, count in zip(histogram["values"], histogram["counts"], strict=True):
        dense[int(value)] += int(count)
    return pb.HistogramDataPoint(
        attributes=attributes, time_unix_nano=time_ns, count=sum(dense),
        sum=float(sum(index * count for index, count in enumerate(dense))),
        explicit_bounds=[index - 0.5 for index in range(top + 2)], bucket_counts=[0, *dense, 0])


def _finite(metrics: Mapping[str, Any]) -> bool:
    return all(math.isfinite(value) for value in metrics.values() if isinstance(value, float))


def add_document(metrics: Metrics, points: list[KeyValue], values: Mapping[str, Any], time_ns: int) -> None:
    """One per-feature document's ``metrics`` as data points with the same attributes (``points``) and time."""
    for name, value in values.items():
        if name in HISTOGRAMS:
            metrics.metric(name, "histogram").histogram.data_points.append(bins_point(value, points, time_ns))
            continue
        kind = "gauge" if name in GAUGES else "updown" if name in UPDOWN else "sum"
        data = metrics.metric(name, kind)
        container = data.gauge if kind == "gauge" else data.sum
        if isinstance(value, int):
            container.data_points.add(attributes=points, time_unix_nano=time_ns, as_int=value)
        else:
            container.data_points.add(attributes=points, time_unix_nano=time_ns, as_double=float(value))


def feature_documents(profile: Any, namespace: str, process: str, flush: int) -> Iterator[dict[str, Any]]:
    """The direct exporter's per-feature documents of one flush of ``profile`` (none for a sub-module)."""
    base = shape.profile_document(profile, namespace, process)
    for _, document in fp.feature_documents(profile, base, process, flush):
        yield document


def _cost(attributes: list[KeyValue], values: Mapping[str, Any]) -> int:
    """About the serialized bytes of one document's data points (attributes repeat on each)."""
    per_point = sum(int(kv.ByteSize()) + 3 for kv in attributes) + 24
    bounds = sum(9 * (len(value["values"]) + 3) for value in values.values() if isinstance(value, dict))
    return len(values) * per_point + bounds


def flush_requests(profiles: Sequence[Any], namespace: str, process: str, flush: int,
                   budget: int = MAX_REQUEST_BYTES) -> tuple[list[ExportMetricsServiceRequest], int]:
    """One flush, operations and per-feature parts, as OTLP metrics requests; and the documents left out.

    The operations documents come first, then the per-feature documents in order, each document's data
    points together in one request (the Collector groups per request, so no document is split), a new
    request begun when ``budget`` bytes would be passed (``Requests``). Left out, and counted: documents
    with a non-finite value, and any too large for a receiver.
    """
    requests, left_out = Requests(namespace, budget), 0
    for profile in profiles:
        metrics = requests.place(operations_cost(profile, process, flush),
                                 f"the operations of {profile.model} {profile.version} {profile.module!r}")
        if metrics is not None:
            metrics.add(profile, process, flush)
    for profile in profiles:
        for document in feature_documents(profile, namespace, process, flush):
            values = document[shape.METRICS]
            if not _finite(values):
                left_out += 1
                continue
            points = attributes_of({**document["attributes"], FLUSH_ATTRIBUTE: int(flush)})
            metrics = requests.place(_cost(points, values), f"a per-feature document of {profile.model}")
            if metrics is not None:
                add_document(metrics, points, values, int(profile.start_ns))
    return requests.requests, left_out + requests.left_out
