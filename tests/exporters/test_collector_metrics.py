"""``collector_metrics`` (the Collector's ``otel``-mode metric mapping, re-read) against the Collector's own cases.

Expected documents are copied verbatim from opentelemetry-collector-contrib
``exporter/elasticsearchexporter/exporter_test.go``, ``TestExporterMetrics`` subtests ``otel mode``,
``otel mode metric name conflict`` and ``otel mode aggregate_metric_double hint`` (the version that
writes ``@timestamp`` as integer epoch milliseconds and ``_metric_names_hash`` as xxhash64), and the
raw-histogram expectations from ``internal/datapoints/histogram.go`` (``histogram:raw``: the bounds
themselves, the overflow count merged into the last bucket). The inputs are rebuilt as OTLP protobuf.
"""

from __future__ import annotations

import json

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

from tests.exporters.collector_metrics import bulk_lines, to_documents, xxh64

HOUR_NS = 3600 * 10**9
DS = {"dataset": "generic.otel", "namespace": "default", "type": "metrics"}


def _request() -> tuple[ExportMetricsServiceRequest, pb.ScopeMetrics]:
    request = ExportMetricsServiceRequest()
    scope = request.resource_metrics.add().scope_metrics.add()
    return request, scope


def _canonical(docs: list[tuple[str, dict[str, object]]]) -> list[str]:
    return sorted(json.dumps([index, doc], sort_keys=True) for index, doc in docs)


def test_xxh64_matches_the_reference_vector_and_the_collectors_hashes() -> None:
    assert xxh64(b"") == 0xEF46DB3751D8E999
    assert format(xxh64(b"metric.foo"), "x") == "b23939f78dc5f649"
    long_name = "".join(sorted(["metric.sum.monotonic.cumulative", "metric.sum.monotonic.delta",
                                "metric.sum.nonmonotonic.cumulative", "metric.sum.nonmonotonic.delta"]))
    assert format(xxh64(long_name.encode()), "x") == "4c23ec9ba381ab20"  # > 32 bytes: the striped path


def test_otel_mode_histograms_and_sums_as_in_the_collectors_test() -> None:
    request, scope = _request()
    foo = scope.metrics.add(name="metric.foo")
    foo.histogram.aggregation_temporality = pb.AGGREGATION_TEMPORALITY_DELTA
    foo.histogram.data_points.add(explicit_bounds=[1.0, 2.0, 3.0], bucket_counts=[1, 2, 3, 4])
    foo.histogram.data_points.add(time_unix_nano=HOUR_NS, explicit_bounds=[4.0, 5.0, 6.0], bucket_counts=[4, 5, 6, 7])
    for name, monotonic, temporality, value in (
            ("metric.sum.monotonic.cumulative", True, pb.AGGREGATION_TEMPORALITY_CUMULATIVE, 1.5),
            ("metric.sum.monotonic.delta", True, pb.AGGREGATION_TEMPORALITY_DELTA, 2.5),
            ("metric.sum.nonmonotonic.cumulative", False, pb.AGGREGATION_TEMPORALITY_CUMULATIVE, 3.5),
            ("metric.sum.nonmonotonic.delta", False, pb.AGGREGATION_TEMPORALITY_DELTA, 4.5)):
        metric = scope.metrics.add(name=name)
        metric.sum.is_monotonic, metric.sum.aggregation_temporality = monotonic, temporality
        metric.sum.data_points.add(time_unix_nano=HOUR_NS, start_time_unix_nano=2 * HOUR_NS, as_double=value)
    summary = scope.metrics.add(name="metric.summary")
    summary.summary.data_points.add(time_unix_nano=3 * HOUR_NS, start_time_unix_nano=3 * HOUR_NS, count=1, sum=1.5)
    index = "metrics-generic.otel-default"
    expected = [
        (index, {"@timestamp": 0, "data_stream": DS, "metrics": {"metric.foo": {
            "counts": [1, 2, 3, 4], "values": [0.5, 1.5, 2.5, 3.0]}}, "resource": {}, "scope": {},
            "_metric_names_hash": "b23939f78dc5f649"}),
        (index, {"@timestamp": 3600000, "data_stream": DS, "metrics": {"metric.foo": {
            "counts": [4, 5, 6, 7], "values": [2.0, 4.5, 5.5, 6.0]}}, "resource": {}, "scope": {},
            "_metric_names_hash": "b23939f78dc5f649"}),
        (index, {"@timestamp": 3600000, "start_timestamp": 7200000, "data_stream": DS, "resource": {}, "scope": {},
                 "metrics": {"metric.sum.monotonic.cumulative": 1.5, "metric.sum.monotonic.delta": 2.5,
                             "metric.sum.nonmonotonic.cumulative": 3.5, "metric.sum.nonmonotonic.delta": 4.5},
                 "_metric_names_hash": "4c23ec9ba381ab20"}),
        (index, {"@timestamp": 10800000, "data_stream": DS,
                 "metrics": {"metric.summary": {"sum": 1.5, "value_count": 1}},
                 "resource": {}, "scope": {}, "start_timestamp": 10800000, "_metric_names_hash": "2f30c89222c9d308"}),
    ]
    assert _canonical(to_documents(request)) == _canonical(expected)


def test_metric_name_conflict_and_the_aggregate_metric_double_hint() -> None:
    request, scope = _request()
    for name in ("foo.bar", "foo", "foo.bar.baz"):
        scope.metrics.add(name=name).sum.data_points.add(as_int=0)
    second, scope = _request()  # its own request, as in the Collector's test: the hint does not split groups
    histogram = scope.metrics.add(name="histogram.summary").histogram
    histogram.aggregation_temporality = pb.AGGREGATION_TEMPORALITY_DELTA
    hints = KeyValue(key="elasticsearch.mapping.hints", value=AnyValue(array_value=ArrayValue(values=[
        AnyValue(string_value="aggregate_metric_double")])))
    histogram.data_points.add(sum=1, count=10, attributes=[hints])
    index = "metrics-generic.otel-default"
    expected = [
        (index, {"@timestamp": 0, "data_stream": DS, "metrics": {"foo": 0, "foo.bar": 0, "foo.bar.baz": 0},
                 "resource": {}, "scope": {}, "_metric_names_hash": "9c732a69b35274fe"}),
        # the Collector's case also sets the _doc_count hint ("_doc_count": 10), which is not re-read here
        (index, {"@timestamp": 0, "data_stream": DS, "attributes": {}, "metrics": {
            "histogram.summary": {"sum": 1.0, "value_count": 10}}, "resource": {}, "scope": {},
            "_metric_names_hash": "fcd1d6737d725996"}),
    ]
    assert _canonical(to_documents(request) + to_documents(second)) == _canonical(expected)


def test_raw_histograms_keep_the_bounds_and_merge_the_overflow_bucket() -> None:
    request, scope = _request()
    histogram = scope.metrics.add(name="h").histogram
    histogram.aggregation_temporality = pb.AGGREGATION_TEMPORALITY_DELTA
    hints = KeyValue(key="elasticsearch.mapping.hints", value=AnyValue(array_value=ArrayValue(values=[
        AnyValue(string_value="histogram:raw")])))
    histogram.data_points.add(explicit_bounds=[1.0, 2.0, 3.0], bucket_counts=[1, 0, 3, 4], attributes=[hints])
    cumulative = scope.metrics.add(name="dropped").histogram
    cumulative.aggregation_temporality = pb.AGGREGATION_TEMPORALITY_CUMULATIVE
    cumulative.data_points.add(explicit_bounds=[1.0], bucket_counts=[1, 1])
    (_, doc), = to_documents(request)
    assert doc["metrics"] == {"h": {"counts": [1, 7], "values": [1.0, 3.0]}}
    assert doc["attributes"] == {}  # the hint is never written, and does not split the document


def test_elasticsearch_index_routes_without_a_data_stream_object() -> None:
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.resource.attributes.add(key="elasticsearch.index", value=AnyValue(string_value="metrics-x-y"))
    resource.resource.attributes.add(key="data_stream.dataset", value=AnyValue(string_value="ignored"))
    resource.scope_metrics.add().metrics.add(name="n").gauge.data_points.add(as_int=1)
    (index, doc), = to_documents(request)
    assert index == "metrics-x-y" and "data_stream" not in doc and doc["resource"] == {"attributes": {}}


def test_the_bulk_actions_name_the_collectors_dynamic_templates() -> None:
    request, scope = _request()
    for name, monotonic, temporality in (("c", True, pb.AGGREGATION_TEMPORALITY_CUMULATIVE),
                                         ("d", True, pb.AGGREGATION_TEMPORALITY_DELTA)):
        metric = scope.metrics.add(name=name)
        metric.sum.is_monotonic, metric.sum.aggregation_temporality = monotonic, temporality
        metric.sum.data_points.add(as_double=1.5)
    scope.metrics.add(name="g").gauge.data_points.add(as_int=1)
    action, _ = bulk_lines(request)
    # as the Collector's "otel mode" case: a delta monotonic sum is a gauge, a cumulative one a counter
    assert action == {"create": {"_index": "metrics-generic.otel-default", "dynamic_templates": {
        "metrics.c": "counter_double", "metrics.d": "gauge_double", "metrics.g": "gauge_long"}}}
