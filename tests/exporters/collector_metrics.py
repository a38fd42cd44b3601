"""The OTel Collector's ``elasticsearch`` exporter, ``otel`` mapping mode, for metrics: a small Python re-reading.

Only the steps an OTLP metrics request goes through on its way to bulk documents, read from
opentelemetry-collector-contrib ``exporter/elasticsearchexporter`` (tests/exporters/golden_otel_profile.md
names the files): routing (``elasticsearch.index``, else ``data_stream.*`` with ``.otel`` appended),
grouping (index, resource, scope, and per data point its timestamp, start time, unit and attributes,
``data_stream.*`` and ``elasticsearch.mapping.hints`` left out), serialization (``@timestamp`` in epoch
ms, the first data point's attributes, reserved keys dropped, ``metrics.<name>`` values, histograms as
midpoints or, with the ``histogram:raw`` hint, as the bounds themselves, ``_metric_names_hash``).
Not re-read: ECS mode, exponential histograms, geo attributes, summaries' quantiles, ``_doc_count``
beyond the hint. ``replay_collector_cases`` in the tests checks it against the Collector's own cases.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

RESERVED = ("data_stream.type", "data_stream.dataset", "data_stream.namespace", "elasticsearch.mapping.hints",
            "elastic.mapping.mode", "elasticsearch.document_id", "elasticsearch.ingest_pipeline",
            "elasticsearch.index")
_DATA_STREAM = RESERVED[:3]
_HINTS = "elasticsearch.mapping.hints"
_RECEIVER = re.compile(r"/receiver/(\w*receiver)")
_M64 = (1 << 64) - 1
_P1, _P2, _P3, _P4, _P5 = (11400714785074694791, 14029467366897019727, 1609587929392839161,
                           9650029242287828579, 2870177450012600261)


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M64


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * _P2) & _M64, 31) * _P1) & _M64


def xxh64(data: bytes) -> int:
    """XXH64 with seed 0 (Go's ``github.com/cespare/xxhash/v2``, the Collector's ``_metric_names_hash``)."""
    n, i, h = len(data), 0, 0
    if n >= 32:
        v = [(_P1 + _P2) & _M64, _P2, 0, (-_P1) & _M64]
        while i + 32 <= n:
            v = [_round(v[j], struct.unpack_from("<Q", data, i + 8 * j)[0]) for j in range(4)]
            i += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & _M64
        for lane in v:
            h = ((h ^ _round(0, lane)) * _P1 + _P4) & _M64
    else:
        h = _P5
    h = (h + n) & _M64
    while i + 8 <= n:
        h = (_rotl(h ^ _round(0, struct.unpack_from("<Q", data, i)[0]), 27) * _P1 + _P4) & _M64
        i += 8
    if i + 4 <= n:
        h = (_rotl(h ^ (struct.unpack_from("<I", data, i)[0] * _P1 & _M64), 23) * _P2 + _P3) & _M64
        i += 4
    for byte in data[i:]:
        h = (_rotl(h ^ (byte * _P5 & _M64), 11) * _P1) & _M64
    h = ((h ^ (h >> 33)) * _P2) & _M64
    h = ((h ^ (h >> 29)) * _P3) & _M64
    return h ^ (h >> 32)


def _plain(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_plain(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _plain(kv.value) for kv in value.kvlist_value.values}
    return None if kind is None else getattr(value, kind)


def _attrs(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: _plain(kv.value) for kv in pairs}


def _written(attributes: dict[str, Any]) -> dict[str, Any] | None:
    # writeAttributes: nothing when the map is empty, else an object without the reserved keys
    return None if not attributes else {k: v for k, v in attributes.items() if k not in RESERVED}


def _route(point: dict[str, Any], scope: dict[str, Any], resource: dict[str, Any], scope_name: str) -> dict[str, str]:
    layers = (point, scope, resource)
    explicit = next((layer["elasticsearch.index"] for layer in layers if "elasticsearch.index" in layer), None)
    if explicit is not None:
        return {"index": str(explicit)}
    dataset = next((str(layer["data_stream.dataset"]) for layer in layers if "data_stream.dataset" in layer), "generic")
    namespace = next((str(layer["data_stream.namespace"]) for layer in layers if "data_stream.namespace" in layer),
                     "default")
    receiver = _RECEIVER.search(scope_name)
    dataset = (receiver.group(1) if receiver else dataset) + ".otel"
    return {"index": f"metrics-{dataset}-{namespace}", "type": "metrics", "dataset": dataset, "namespace": namespace}


def _histogram_value(point: pb.HistogramDataPoint, hints: list[str]) -> dict[str, Any]:
    if "aggregate_metric_double" in hints:
        return {"sum": float(point.sum), "value_count": int(point.count)}
    bounds, counts, raw = list(point.explicit_bounds), list(point.bucket_counts), "histogram:raw" in hints
    if counts and len(counts) != len(bounds) + 1:
        raise ValueError("invalid histogram data point")
    if not bounds:
        return {"counts": [int(point.count)], "values": [point.sum / point.count]} if point.count else \
            {"counts": [], "values": []}
    out: dict[str, list[Any]] = {"counts": [], "values": []}
    for i, count in enumerate(counts):
        if count == 0:
            continue
        if raw and i == len(bounds):  # the overflow bucket joins the last real bucket
            if out["counts"]:
                out["counts"][-1] += int(count)
            break
        if raw:
            value = bounds[i]
        elif i == 0:
            value = bounds[0] / 2 if bounds[0] > 0 else bounds[0]
        elif i >= len(bounds):
            value = bounds[i - 1]
        else:
            value = bounds[i - 1] + (bounds[i] - bounds[i - 1]) / 2.0
        out["counts"].append(int(count))
        out["values"].append(float(value))
    return out


def _points(metric: pb.Metric) -> Iterable[tuple[Any, Any]]:
    kind = metric.WhichOneof("data")
    if kind in ("sum", "gauge"):
        for point in getattr(metric, kind).data_points:
            if point.WhichOneof("value") == "as_int":
                yield point, point.as_int
            else:  # number.go: a NaN or infinite double is written as 0
                yield point, float(point.as_double) if math.isfinite(point.as_double) else 0.0
    elif kind == "histogram":
        if metric.histogram.aggregation_temporality == pb.AGGREGATION_TEMPORALITY_CUMULATIVE:
            return  # "dropping cumulative temporality histogram"
        for hpoint in metric.histogram.data_points:
            yield hpoint, _histogram_value(hpoint, list(_attrs(hpoint.attributes).get(_HINTS) or []))
    elif kind == "summary":
        for spoint in metric.summary.data_points:
            yield spoint, {"sum": float(spoint.sum), "value_count": int(spoint.count)}


def _key(route: dict[str, str], resource: dict[str, Any], scope: Any, point: Any, unit: str) -> tuple[Any, ...]:
    def dims(attributes: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((k, repr(v)) for k, v in attributes.items() if k not in (*_DATA_STREAM, _HINTS)))
    return (route["index"], dims(resource), scope.name, dims(_attrs(scope.attributes)), point.time_unix_nano,
            point.start_time_unix_nano, unit, dims(_attrs(point.attributes)))


def _document(group: list[tuple[Any, str, Any, str]], route: dict[str, str], resource: Any, scope: Any,
              schema_urls: tuple[str, str]) -> dict[str, Any]:
    first = group[0][0]
    doc: dict[str, Any] = {"@timestamp": first.time_unix_nano // 10**6}
    if first.start_time_unix_nano:
        doc["start_timestamp"] = first.start_time_unix_nano // 10**6
    if group[0][3]:
        doc["unit"] = group[0][3]
    if "type" in route:
        doc["data_stream"] = {k: route[k] for k in ("type", "dataset", "namespace")}
    attributes = _written(_attrs(first.attributes))
    if attributes is not None:
        doc["attributes"] = attributes
    doc["resource"] = _scoped(resource.attributes, schema_urls[0], {})
    doc["scope"] = _scoped(scope.attributes, schema_urls[1], {"name": scope.name, "version": scope.version})
    metrics: dict[str, Any] = {}
    for _, name, value, _ in group:
        metrics.setdefault(name, value)  # a second point of one name is a validation error, not written
    doc["metrics"] = metrics
    doc["_metric_names_hash"] = format(xxh64("".join(sorted(metrics)).encode()), "x")
    return doc


def _scoped(pairs: Iterable[KeyValue], schema_url: str, fields: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"schema_url": schema_url} if schema_url else {}
    out.update({k: v for k, v in fields.items() if v})
    attributes = _written(_attrs(pairs))
    if attributes is not None:
        out["attributes"] = attributes
    return out


def to_documents(request: ExportMetricsServiceRequest | bytes) -> list[tuple[str, dict[str, Any]]]:
    """``(index, document)`` for each bulk ``create`` the Collector would send for ``request``."""
    if isinstance(request, bytes):
        request = ExportMetricsServiceRequest.FromString(request)
    groups: dict[tuple[Any, ...], tuple[list[Any], dict[str, str], Any, Any, tuple[str, str]]] = {}
    for rm in request.resource_metrics:
        resource = _attrs(rm.resource.attributes)
        for sm in rm.scope_metrics:
            scope = _attrs(sm.scope.attributes)
            for metric in sm.metrics:
                for point, value in _points(metric):
                    route = _route(_attrs(point.attributes), scope, resource, sm.scope.name)
                    key = _key(route, resource, sm.scope, point, metric.unit)
                    entry = groups.setdefault(key, ([], route, rm.resource, sm.scope, (rm.schema_url, sm.schema_url)))
                    entry[0].append((point, metric.name, value, metric.unit))
    return [(route["index"], _document(group, route, resource, scope, urls))
            for group, route, resource, scope, urls in groups.values()]


def dynamic_template(metric: pb.Metric) -> str:
    """The dynamic template the bulk action names for ``metrics.<name>`` (``DynamicTemplate`` in ``datapoints``)."""
    kind = metric.WhichOneof("data")
    if kind in ("histogram", "summary"):
        points = metric.histogram.data_points if kind == "histogram" else []
        hinted = any("aggregate_metric_double" in (_attrs(p.attributes).get(_HINTS) or []) for p in points)
        return "summary" if kind == "summary" or hinted else "histogram"
    data = getattr(metric, kind)
    point = data.data_points[0]
    suffix = "long" if point.WhichOneof("value") == "as_int" else "double"
    counter = kind == "sum" and data.is_monotonic and \
        data.aggregation_temporality == pb.AGGREGATION_TEMPORALITY_CUMULATIVE
    return f"{'counter' if counter else 'gauge'}_{suffix}"


def bulk_lines(request: ExportMetricsServiceRequest) -> list[dict[str, Any]]:
    """The bulk NDJSON lines (action with ``dynamic_templates``, then source) the Collector sends."""
    templates = {f"metrics.{m.name}": dynamic_template(m) for rm in request.resource_metrics
                 for sm in rm.scope_metrics for m in sm.metrics}
    lines: list[dict[str, Any]] = []
    for index, doc in to_documents(request):
        action = {"_index": index, "dynamic_templates": {f"metrics.{name}": templates[f"metrics.{name}"]
                                                         for name in doc["metrics"]}}
        lines += [{"create": action}, doc]
    return lines


def as_json(request: ExportMetricsServiceRequest) -> dict[str, Any]:
    """The request as OTLP/JSON (for reading a failing test)."""
    return MessageToDict(request)
