"""``exporter="otlp"``: no profile request passes what an OTLP receiver accepts, the operations part included.

At the SDK's bounds (``MAX_KEYS`` profile keys, each latency histogram as wide as the sketch allows)
the operations part alone is ~150 MB; ``_otlp_profiles.Requests`` splits it, like the per-feature
part, into requests of about ``MAX_REQUEST_BYTES`` holding whole documents. Through the loopback
OTLP receiver and the Collector's mapping (``collector_metrics``) every operations document arrives
whole and equal to the direct one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, Final

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import HistogramDataPoint

from modelspan import semconv
from modelspan.elasticsearch import profiles
from modelspan.exporters import _otlp_profiles
from modelspan.exporters._otlp_features import MAX_REQUEST_BYTES, flush_requests
from modelspan.exporters._otlp_profiles import MAX_DOCUMENT_BYTES, MAX_LATENCY_BUCKETS, operations_cost
from modelspan.instrumentation._profiles import MAX_KEYS, Profile
from tests.exporters.otlp_receiver import OTLPReceiver
from tests.exporters.test_otlp_feature_profiles import _as_collector_writes, _with_features
from tests.exporters.test_otlp_profiles import PROCESS, START, _collector_documents, _exporter

FAR: Final = 2**62  # a latency (ns) in the sketch's last bucket but one


def _wide(module: str, calls: int = 3) -> Profile:
    """A profile whose latency histogram has every bound the sketch can give (zeros included)."""
    profile = Profile("churn", "3", module, START, 60 * 10**9, calls=calls, errors=1, rows=float(calls), spans=1)
    profile.buckets = {index: 1 + index % 5 for index in range(MAX_LATENCY_BUCKETS - 1)}
    profile.zeros, profile.latency_min, profile.latency_max, profile.latency_sum = 2, 0, FAR, FAR
    return profile


def _points(request: ExportMetricsServiceRequest) -> Iterator[Any]:
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                yield from getattr(metric, metric.WhichOneof("data")).data_points


def _module(point: Any) -> str:
    return next(kv.value.string_value for kv in point.attributes if kv.key == semconv.MODULE_NAME)


def test_the_largest_operations_document_is_far_below_what_a_receiver_accepts() -> None:
    widest = _wide("m" * semconv.MAX_NAME_LENGTH * 4)
    (request,), left_out = flush_requests([widest], "default", PROCESS, 2**40)
    (latency,) = [p for p in _points(request) if isinstance(p, HistogramDataPoint)]
    empty = _otlp_profiles.request_metrics("default")[0].ByteSize()
    print(f"largest operations document: {request.ByteSize() - empty} bytes "
          f"({len(latency.explicit_bounds)} latency bounds), cost {operations_cost(widest, PROCESS, 2**40)}")
    assert left_out == 0 and len(latency.explicit_bounds) == MAX_LATENCY_BUCKETS
    assert request.ByteSize() - empty <= operations_cost(widest, PROCESS, 2**40) + _otlp_profiles._METRIC_HEADERS
    assert operations_cost(widest, PROCESS, 2**40) * 50 < MAX_DOCUMENT_BYTES  # ~40 kB against ~4 MiB


def test_a_flush_at_the_bounds_is_split_into_requests_of_whole_documents() -> None:
    flush = [_wide(f"module{number:04d}") for number in range(MAX_KEYS)]
    requests, left_out = flush_requests(flush, "default", PROCESS, 0)
    largest = max(operations_cost(profile, PROCESS, 0) for profile in flush)
    sizes = [request.ByteSize() for request in requests]
    print(f"{MAX_KEYS} keys x {MAX_LATENCY_BUCKETS} latency bounds: {len(requests)} requests, "
          f"largest {max(sizes)} bytes, {sum(sizes)} in all")
    assert left_out == 0 and max(sizes) <= MAX_REQUEST_BYTES + largest  # unsplit: ~150 MB in one
    seen: Counter[str] = Counter()
    for request in requests:
        per_module = Counter(_module(point) for point in _points(request))
        assert set(per_module.values()) == {9}  # 5 counts, rows, latency, min, max: all of each profile here
        assert not seen.keys() & per_module.keys()  # and none of it in another request
        seen.update(per_module)
    assert len(seen) == MAX_KEYS


def test_wide_operations_arrive_whole_and_exact_through_the_collector(receiver: OTLPReceiver) -> None:
    flush = [_with_features(_wide("", calls=10)), *(_wide(f"encoder.layer{n}", calls=n + 1) for n in range(60))]
    exporter = _exporter(receiver)
    exporter._process = PROCESS
    try:
        assert exporter.export_profiles(flush) == 61
    finally:
        exporter.shutdown()
    assert len(receiver.metrics) >= 3  # 61 documents of ~40 kB in ~1 MiB requests
    assert max(request.ByteSize() for request in receiver.metrics) <= MAX_REQUEST_BYTES + max(
        operations_cost(profile, PROCESS, 0) for profile in flush)
    written = [doc for _, doc in _collector_documents(receiver)
               if doc["attributes"][profiles.KIND_ATTRIBUTE] == profiles.KIND_OPERATIONS]
    expected = [_as_collector_writes(profiles.profile_document(profile, "default", PROCESS)) for profile in flush]
    assert [{key: doc[key] for key in ("@timestamp", "attributes", "metrics")} for doc in written] == expected
    assert sum(doc["metrics"][profiles.CALLS_METRIC] for doc in written) == 10 + sum(range(1, 61))
    assert all(len(doc["metrics"][profiles.LATENCY_METRIC]["values"]) == MAX_LATENCY_BUCKETS for doc in written)


def test_a_document_too_large_for_any_receiver_is_left_out_logged_and_counted(
        receiver: OTLPReceiver, caplog: pytest.LogCaptureFixture) -> None:
    huge = _wide("x" * (MAX_DOCUMENT_BYTES // 9))  # its name repeats on each of 9 data points
    exporter = _exporter(receiver)
    exporter._process = PROCESS
    try:
        with pytest.raises(ValueError, match="1 documents with a non-finite value or too large"):
            exporter.export_profiles([_wide("encoder"), huge])
    finally:
        exporter.shutdown()
    assert "more than an OTLP receiver accepts" in caplog.text
    written = [doc["attributes"][semconv.MODULE_NAME] for _, doc in _collector_documents(receiver)]
    assert written == ["encoder"]  # the rest of the flush was sent


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as server:
        yield server
