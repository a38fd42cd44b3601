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

>>> request, _ = request_metrics("default")
>>> request.resource_metrics[0].resource.attributes[0].value.string_value
'metrics-modelspan.profile-default'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from modelspan import semconv
from modelspan._version import __version__
from modelspan.elasticsearch import profiles as shape

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


def request_metrics(namespace: str) -> tuple[ExportMetricsServiceRequest, Metrics]:
    """An empty request routed to ``namespace``'s profile data stream, and its metrics to fill."""
    request = ExportMetricsServiceRequest()
    routing = {INDEX_ATTRIBUTE: shape.data_stream_name(namespace),
               "data_stream.dataset": shape.DATASET, "data_stream.namespace": namespace}
    resource = request.resource_metrics.add(resource=Resource(attributes=attributes_of(dict(routing))))
    scope = resource.scope_metrics.add(scope=InstrumentationScope(name=SCOPE, version=__version__))
    return request, Metrics(scope)
