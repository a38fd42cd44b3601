"""Profiles over OTLP/gRPC (``OTEL_EXPORTER_OTLP_PROTOCOL=grpc``) to a real loopback ``MetricsService``.

The server is grpcio's own, on 127.0.0.1, with a servicer that keeps each request and answers as
scripted (an UNAVAILABLE first: retried; INVALID_ARGUMENT: counted failure). What it received is the
same request the HTTP path sends, so the Collector mapping and the store tests of
``test_otlp_profiles`` hold for it too; here the documents are checked to be the same.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc import (
    MetricsServiceServicer,
    add_MetricsServiceServicer_to_server,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from modelspan.exporters._otlp_features import flush_requests
from modelspan.exporters._otlp_grpc import GrpcProfileSender
from modelspan.exporters._retry import Backoff
from modelspan.exporters.otlp import OTLPSpanExporter, sender_from_environment
from tests.exporters.collector_metrics import to_documents
from tests.exporters.test_otlp_profiles import _profiles


class _Service(MetricsServiceServicer):
    def __init__(self) -> None:
        self.received: list[ExportMetricsServiceRequest] = []
        self.metadata: list[dict[str, str]] = []
        self.codes: deque[grpc.StatusCode] = deque()

    def Export(self, request: ExportMetricsServiceRequest, context: Any) -> ExportMetricsServiceResponse:
        self.metadata.append(dict(context.invocation_metadata()))
        if self.codes:
            context.abort(self.codes.popleft(), "scripted")
        self.received.append(request)
        return ExportMetricsServiceResponse()


@pytest.fixture
def service() -> Iterator[tuple[_Service, str]]:
    servicer = _Service()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    add_MetricsServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"http://127.0.0.1:{port}"
    finally:
        server.stop(None)


def test_grpc_profiles_are_retried_and_arrive_as_the_http_request(service: tuple[_Service, str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    servicer, endpoint = service
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret")
    sender = sender_from_environment(timeout=5.0, backoff=Backoff(initial=0.01, maximum=0.05))
    assert isinstance(sender, GrpcProfileSender)
    servicer.codes.extend([grpc.StatusCode.UNAVAILABLE])
    exporter = OTLPSpanExporter(InMemorySpanExporter(), sender=sender, profile_namespace="default")
    exporter._process = "1-ab"
    profiles = _profiles()
    try:
        assert exporter.export_profiles(profiles) == 6
        servicer.codes.extend([grpc.StatusCode.INVALID_ARGUMENT])
        with pytest.raises(RuntimeError, match="INVALID_ARGUMENT"):
            exporter.export_profiles(profiles)
    finally:
        exporter.shutdown()
    received, = servicer.received
    (expected,), _ = flush_requests(profiles, "default", "1-ab", 0)
    assert received == expected
    assert to_documents(received) == to_documents(expected)
    assert len(servicer.metadata) == 3 and servicer.metadata[0]["api-key"] == "secret"


def test_grpc_profiles_are_gzipped_when_the_environment_says_so(service: tuple[_Service, str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    servicer, endpoint = service
    for name in ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
                 "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    sender = sender_from_environment(timeout=5.0, backoff=Backoff(initial=0.01, maximum=0.05))
    assert isinstance(sender, GrpcProfileSender) and sender.gzip and sender.renewed().gzip
    exporter = OTLPSpanExporter(InMemorySpanExporter(), sender=sender, profile_namespace="default")
    exporter._process = "1-ab"
    profiles = _profiles()
    try:
        assert exporter.export_profiles(profiles) == 6
    finally:
        exporter.shutdown()
    (expected,), _ = flush_requests(profiles, "default", "1-ab", 0)
    assert servicer.received == [expected]


def test_wide_operations_fit_a_grpc_receivers_4_mib_only_split(service: tuple[_Service, str]) -> None:
    from tests.exporters.test_otlp_request_size import _wide

    servicer, endpoint = service
    flush = [_wide(f"encoder.layer{number}") for number in range(128)]  # ~5 MB of operations documents
    sender = GrpcProfileSender(endpoint, {}, 5.0, Backoff(initial=0.01, maximum=0.05))
    (unsplit,), _ = flush_requests(flush, "default", "1-ab", 0, budget=2**40)
    try:
        with pytest.raises(grpc.RpcError) as refused:  # what one request of the whole flush would meet
            sender._stub.Export(unsplit, timeout=5.0)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        sender.close()
    exporter = OTLPSpanExporter(InMemorySpanExporter(), sender=GrpcProfileSender(
        endpoint, {}, 5.0, Backoff(initial=0.01, maximum=0.05)), profile_namespace="default")
    exporter._process = "1-ab"
    try:
        assert exporter.export_profiles(flush) == 128
    finally:
        exporter.shutdown()
    assert len(servicer.received) >= 5 and servicer.received == flush_requests(flush, "default", "1-ab", 0)[0]
    assert len([doc for request in servicer.received for doc in to_documents(request)]) == 128
