"""Profiles over OTLP/gRPC, when the metrics protocol is ``grpc`` (``modelspan.exporters.otlp`` chooses).

The same contract as the HTTP sender: ``send(body)`` delivers one serialized
``ExportMetricsServiceRequest`` or raises ``RuntimeError`` saying why; the status codes OTLP calls
retryable (UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, ABORTED, CANCELLED) are retried with
jittered backoff within the flush's timeout. The endpoint is used as given (``http://host:4317``
plaintext, ``https://`` with TLS and the optional CA file), headers become gRPC metadata; ``gzip``
compresses the call (``OTEL_EXPORTER_OTLP_METRICS_COMPRESSION``/``OTEL_EXPORTER_OTLP_COMPRESSION``).
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc import MetricsServiceStub

from modelspan.exporters._retry import Backoff, Deadline

_RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED,
                        grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED, grpc.StatusCode.CANCELLED})


def _channel(endpoint: str, ca_file: str | None) -> grpc.Channel:
    parsed = urllib.parse.urlparse(endpoint if "://" in endpoint else f"http://{endpoint}")
    target = parsed.netloc or parsed.path
    if parsed.scheme == "https":
        roots = Path(ca_file).read_bytes() if ca_file else None
        return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=roots))
    return grpc.insecure_channel(target)


class GrpcProfileSender:
    """``MetricsService/Export`` on one channel; a forked child gets a new sender (``renewed``)."""

    def __init__(self, endpoint: str, headers: Mapping[str, str], timeout: float, backoff: Backoff,
                 ca_file: str | None = None, gzip: bool = False) -> None:
        self.endpoint, self.headers, self.timeout, self.backoff = endpoint, dict(headers), timeout, backoff
        self.ca_file, self.gzip = ca_file, gzip
        self._channel = _channel(endpoint, ca_file)
        self._stub: Any = MetricsServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self.stop = threading.Event()

    def renewed(self) -> GrpcProfileSender:
        return GrpcProfileSender(self.endpoint, self.headers, self.timeout, self.backoff, self.ca_file, self.gzip)

    def send(self, body: bytes) -> ExportMetricsServiceResponse:
        request = ExportMetricsServiceRequest.FromString(body)
        metadata = tuple((key.lower(), value) for key, value in self.headers.items() if key.lower() != "content-type")
        deadline = Deadline(self.timeout, self.stop)
        delays = self.backoff.delays()
        while True:
            try:
                response: ExportMetricsServiceResponse = self._stub.Export(
                    request, metadata=metadata, timeout=max(deadline.remaining(), 0.1),
                    compression=grpc.Compression.Gzip if self.gzip else grpc.Compression.NoCompression)
                return response
            except grpc.RpcError as exc:
                code = exc.code()  # a grpc.Call as well
                if code not in _RETRYABLE:
                    raise RuntimeError(f"OTLP/gRPC endpoint {self.endpoint} answered {code.name}: "
                                       f"{exc.details()}") from exc
                why = code.name
            if not deadline.wait(next(delays)):
                raise RuntimeError(f"OTLP/gRPC endpoint {self.endpoint} not reached within {self.timeout} s ({why})")

    def close(self) -> None:
        self.stop.set()
        self._channel.close()
