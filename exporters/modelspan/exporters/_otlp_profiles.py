"""Profiles as OTLP metrics, shaped so the Collector's ``elasticsearch`` exporter writes our documents.

docs/profiles.md ("Through the OpenTelemetry Collector") explains each choice; in short, a flush's
operations part is the first ``ExportMetricsServiceRequest`` of the flush (``_otlp_features.flush_requests``
adds the per-feature part), whose data points the Collector's ``otel`` mapping mode groups back into
one document per profile, the fields of ``modelspan.elasticsearch.profiles``:

- the resource carries ``elasticsearch.index: metrics-modelspan.profile-<namespace>`` (the
  Collector routes there and writes no ``data_stream`` object) and, for Collectors that predate
  that attribute, ``data_stream.dataset``/``namespace`` (they write ``metrics-modelspan.profile.otel-<ns>``,
  which the store does not read: docs/profiles.md says so);
- every data point of one profile has the same timestamp (the interval start, the direct
  documents' ``@timestamp``), no start time, no unit and the same attributes, so the Collector's
  grouping hash (timestamp, start time, unit, attributes without ``data_stream.*`` and the mapping
  hints) puts them in one document;
- counts and the latency sum are delta monotonic sums, the extremes gauges; the latency is a delta
  explicit-bucket histogram whose bounds are the sketch's representatives, a zero-count overflow
  bucket appended, marked ``elasticsearch.mapping.hints: ["histogram:raw"]`` so that the bounds
  themselves become the ``histogram`` field's ``values`` (without the hint the Collector writes
  bucket midpoints);
- ``ml.profile.flush`` (the flush number) travels as one more attribute: the mapping does not
  index it, but with ``ml.profile.process`` it tells a Collector retry's duplicate from a second flush.

Size: ``Requests`` owns a flush's request budget for both parts. A document (all data points of one
profile, or of one per-feature document) goes whole into the current request unless that request
already holds one and the document's cost would take it past ``MAX_REQUEST_BYTES``; then a new request
begins. So no request exceeds the budget plus one document. The largest operations document at the
SDK's bounds: its latency histogram has at most ``MAX_LATENCY_BUCKETS`` bounds (every sketch bucket an
``int64`` nanosecond latency can reach, and zero), 16 bytes each (a bound and a count), about 35 kB
with 9 data points of ~300 bytes of attributes: far below the 4 MiB an OTLP/gRPC receiver accepts by
default. Only unbounded names (a model, version or module name of megabytes) could pass
``MAX_DOCUMENT_BYTES``; such a document is left out, logged and counted (the flush then raises).

>>> request, _ = request_metrics("default")
>>> request.resource_metrics[0].resource.attributes[0].value.string_value
'metrics-modelspan.profile-default'
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from modelspan import semconv
from modelspan._sketch import LOG_GAMMA
from modelspan._version import __version__
from modelspan.elasticsearch import profiles as shape

_log = logging.getLogger(__name__)

MAX_REQUEST_BYTES: Final = 2**20
"""A flush's requests stay about this small (1 MiB; an OTLP/gRPC receiver takes 4 MiB by default)."""
MAX_DOCUMENT_BYTES: Final = 4 * 2**20 - 2**16
"""A document costing more is left out (counted): it could not travel whole in a request a receiver takes."""
MAX_LATENCY_BUCKETS: Final = math.ceil(math.log(2**63) / LOG_GAMMA) + 2
"""The latency histogram's most bounds: sketch buckets 0 (1 ns) to that of 2**63 ns, and the zeros."""
_METRIC_HEADERS: Final = 48 * 64
"""A request's metric headers (names, kinds): at most 48 metrics of less than 64 bytes (40 in use)."""
SCOPE: Final = "modelspan"
INDEX_ATTRIBUTE: Final = "elasticsearch.index"
"""The Collector's routing attribute: the document goes to this index (data stream)."""
HINTS_ATTRIBUTE: Final = "elasticsearch.mapping.hints"
RAW_HISTOGRAM: Final = "histogram:raw"
FLUSH_ATTRIBUTE: Final = shape.PREFIX + "flush"
_DELTA: Final = pb.AGGREGATION_TEMPORALITY_DELTA
_INT_SUMS: Final = (shape.CALLS_METRIC, shape.ERRORS_METRIC, shape.SPANS_METRIC, shape.DROPPED_METRIC,
                    shape.LATENCY_SUM_METRIC)


def _value(value: object) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[_value(item) for item in value]))
    return AnyValue(string_value=str(value))


def attributes_of(values: Mapping[str, object]) -> list[KeyValue]:
    return [KeyValue(key=key, value=_value(value)) for key, value in values.items()]


def _point_attributes(profile: Any, process: str, flush: int) -> dict[str, object]:
    return {semconv.MODEL_NAME: str(profile.model), semconv.MODEL_VERSION: str(profile.version),
            semconv.MODULE_NAME: str(profile.module), shape.KIND_ATTRIBUTE: shape.KIND_OPERATIONS,
            shape.PROCESS_ATTRIBUTE: process, shape.INTERVAL_ATTRIBUTE: int(profile.interval_ns) / 1e9,
            FLUSH_ATTRIBUTE: int(flush)}


def _latency_point(profile: Any, attributes: list[KeyValue], time_ns: int) -> pb.HistogramDataPoint:
    histogram = shape.latency_histogram(profile.buckets, int(profile.zeros))
    counts = [int(count) for count in histogram["counts"]]
    point = pb.HistogramDataPoint(
        attributes=[*attributes, KeyValue(key=HINTS_ATTRIBUTE, value=_value([RAW_HISTOGRAM]))],
        time_unix_nano=time_ns, count=sum(counts), sum=float(profile.latency_sum),
        explicit_bounds=[float(value) for value in histogram["values"]],
        bucket_counts=[*counts, 0] if counts else [])
    if profile.latency_min is not None:
        point.min, point.max = float(profile.latency_min), float(profile.latency_max)
    return point


class Metrics:
    """The request's metrics by name, one data point per document each (created in a fixed order).

    ``kind``: ``sum`` (delta, monotonic), ``updown`` (delta, not monotonic), ``gauge``, ``histogram`` (delta).
    """

    def __init__(self, scope: pb.ScopeMetrics) -> None:
        self.scope = scope
        self.by_name: dict[str, pb.Metric] = {}

    def metric(self, name: str, kind: str) -> pb.Metric:
        if name not in self.by_name:
            metric = self.scope.metrics.add(name=name)
            if kind in ("sum", "updown"):
                metric.sum.aggregation_temporality, metric.sum.is_monotonic = _DELTA, kind == "sum"
            elif kind == "histogram":
                metric.histogram.aggregation_temporality = _DELTA
            else:
                metric.gauge.SetInParent()
            self.by_name[name] = metric
        return self.by_name[name]

    def add(self, profile: Any, process: str, flush: int) -> None:
        attributes = attributes_of(_point_attributes(profile, process, flush))
        time_ns = int(profile.start_ns)
        for name, value in ((n, int(getattr(profile, n.removeprefix(shape.PREFIX)))) for n in _INT_SUMS):
            self.metric(name, "sum").sum.data_points.add(attributes=attributes, time_unix_nano=time_ns, as_int=value)
        self.metric(shape.ROWS_METRIC, "sum").sum.data_points.add(
            attributes=attributes, time_unix_nano=time_ns, as_double=float(profile.rows))
        self.metric(shape.LATENCY_METRIC, "histogram").histogram.data_points.append(
            _latency_point(profile, attributes, time_ns))
        if profile.latency_min is not None:
            for name, value in ((shape.LATENCY_MIN_METRIC, profile.latency_min),
                                (shape.LATENCY_MAX_METRIC, profile.latency_max)):
                self.metric(name, "gauge").gauge.data_points.add(
                    attributes=attributes, time_unix_nano=time_ns, as_int=int(value))


def operations_cost(profile: Any, process: str, flush: int) -> int:
    """At least the serialized bytes of one profile's operations data points (attributes repeat on each)."""
    per_point = sum(int(kv.ByteSize()) + 3 for kv in attributes_of(_point_attributes(profile, process, flush))) + 24
    points = len(_INT_SUMS) + 2 + (2 if profile.latency_min is not None else 0)  # + rows, latency, extremes
    bounds = len(profile.buckets) + (1 if profile.zeros else 0) + 1
    return points * per_point + 128 + 16 * (bounds + 1)  # the hint, count, sum, min, max; bounds and counts


class Requests:
    """The requests of one flush, filled with whole documents (the one owner of the size budget).

    ``place(cost, what)`` gives the metrics to add one document's data points to: the current request's,
    unless it holds a document already and ``cost`` would take it past ``budget``, then a new request's.
    A request thus stays within ``budget`` plus one document. A document costing more than
    ``MAX_DOCUMENT_BYTES`` gets ``None``: left out, logged and counted in ``left_out``.
    """

    def __init__(self, namespace: str, budget: int = MAX_REQUEST_BYTES) -> None:
        self.namespace, self.budget = namespace, budget
        self.requests: list[ExportMetricsServiceRequest] = []
        self.size = self.held = self.left_out = 0
        self._metrics: Metrics | None = None

    def place(self, cost: int, what: str) -> Metrics | None:
        if cost > MAX_DOCUMENT_BYTES:
            self.left_out += 1
            _log.warning("modelspan: left out %s of about %d bytes, more than an OTLP receiver accepts", what, cost)
            return None
        if self._metrics is None or (self.held and self.size + cost > self.budget):
            request, self._metrics = request_metrics(self.namespace)
            self.requests.append(request)
            self.size, self.held = int(request.ByteSize()) + _METRIC_HEADERS, 0
        self.size += cost
        self.held += 1
        return self._metrics


def request_metrics(namespace: str) -> tuple[ExportMetricsServiceRequest, Metrics]:
    """An empty request routed to ``namespace``'s profile data stream, and its metrics to fill."""
    request = ExportMetricsServiceRequest()
    routing = {INDEX_ATTRIBUTE: shape.data_stream_name(namespace),
               "data_stream.dataset": shape.DATASET, "data_stream.namespace": namespace}
    resource = request.resource_metrics.add(resource=Resource(attributes=attributes_of(dict(routing))))
    scope = resource.scope_metrics.add(scope=InstrumentationScope(name=SCOPE, version=__version__))
    return request, Metrics(scope)
