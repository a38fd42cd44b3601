"""``exporter="otlp"``: spans through OpenTelemetry's OTLP exporter, profiles as OTLP metrics beside them.

``OTLPSpanExporter`` wraps opentelemetry-python's OTLP span exporter (HTTP or gRPC, chosen by
``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL``/``OTEL_EXPORTER_OTLP_PROTOCOL`` as before) and adds
``export_profiles``: each profile flush becomes OTLP metrics requests (protobuf, about 1 MiB of whole
documents each), encoded by ``_otlp_profiles`` (operations) and ``_otlp_features`` (per feature) so that the
OpenTelemetry Collector's ``elasticsearch`` exporter writes the same documents as the direct exporter
(docs/profiles.md, "Through the OpenTelemetry Collector").

Where (argument, then environment, then default, as opentelemetry-python reads them): the protocol
from ``OTEL_EXPORTER_OTLP_METRICS_PROTOCOL``/``OTEL_EXPORTER_OTLP_PROTOCOL`` (``http/protobuf`` by
default, ``grpc``); the endpoint ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` (used as given), else
``OTEL_EXPORTER_OTLP_ENDPOINT`` (+ ``/v1/metrics`` over HTTP), else ``http://localhost:4318/v1/metrics``
(HTTP) or ``http://localhost:4317`` (gRPC); headers from
``OTEL_EXPORTER_OTLP_METRICS_HEADERS``/``OTEL_EXPORTER_OTLP_HEADERS`` (``k=v,k2=v2``, URL-encoded);
a CA file from ``OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE``/``OTEL_EXPORTER_OTLP_CERTIFICATE``; gzip when
``OTEL_EXPORTER_OTLP_METRICS_COMPRESSION``/``OTEL_EXPORTER_OTLP_COMPRESSION`` is ``gzip`` (the variable
opentelemetry-python's span exporter reads too; a profile flush is then about 85 times smaller).

Delivery: 429/502/503/504 (gRPC: UNAVAILABLE and the other retryable codes) and connection errors
are retried with jittered backoff (``Retry-After`` honoured) within ``timeout`` seconds per flush;
anything else, or a partial success that rejected data points, raises, which
``stats()["profile_flush_failures"]`` counts and logs. There is no spool: a flush that cannot be
delivered in time is lost *counted*. A retry after a lost answer can store a profile twice in
Elasticsearch (metric documents get no deterministic ``_id`` from the Collector); docs/profiles.md
says how such duplicates are found.
"""

from __future__ import annotations

import gzip
import itertools
import logging
import math
import os
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

import urllib3
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from modelspan.elasticsearch import layout
from modelspan.exporters import _fork
from modelspan.exporters._otlp_features import flush_requests
from modelspan.exporters._profiles import process_token
from modelspan.exporters._retry import RETRYABLE_STATUS, Backoff, Deadline, retry_after

_log = logging.getLogger(__name__)

ENV_METRICS_ENDPOINT: Final = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
ENV_ENDPOINT: Final = "OTEL_EXPORTER_OTLP_ENDPOINT"
ENV_METRICS_HEADERS: Final = "OTEL_EXPORTER_OTLP_METRICS_HEADERS"
ENV_HEADERS: Final = "OTEL_EXPORTER_OTLP_HEADERS"
ENV_METRICS_CERTIFICATE: Final = "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE"
ENV_CERTIFICATE: Final = "OTEL_EXPORTER_OTLP_CERTIFICATE"
ENV_METRICS_PROTOCOL: Final = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
ENV_METRICS_COMPRESSION: Final = "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION"
ENV_COMPRESSION: Final = "OTEL_EXPORTER_OTLP_COMPRESSION"
ENV_PROTOCOL: Final = "OTEL_EXPORTER_OTLP_PROTOCOL"
DEFAULT_ENDPOINT: Final = "http://localhost:4318/v1/metrics"
DEFAULT_GRPC_ENDPOINT: Final = "http://localhost:4317"
DEFAULT_TIMEOUT: Final = 10.0
"""Seconds one flush may take, retries included."""


def metrics_protocol(environ: Mapping[str, str] = os.environ) -> str:
    """``grpc`` or ``http/protobuf`` (the default; ``http/json`` is not offered and counts as it).

    >>> metrics_protocol({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    'grpc'
    """
    value = (environ.get(ENV_METRICS_PROTOCOL) or environ.get(ENV_PROTOCOL) or "").strip().lower()
    return "grpc" if value == "grpc" else "http/protobuf"


def metrics_compression(environ: Mapping[str, str] = os.environ) -> str:
    """``gzip`` or ``none`` (the default, as the OTLP exporters'); profile requests are ~85x smaller gzipped.

    >>> metrics_compression({"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"})
    'gzip'
    """
    value = (environ.get(ENV_METRICS_COMPRESSION) or environ.get(ENV_COMPRESSION) or "").strip().lower()
    return "gzip" if value == "gzip" else "none"


def metrics_endpoint(environ: Mapping[str, str] = os.environ, protocol: str = "http/protobuf") -> str:
    """The OTLP metrics endpoint the environment names.

    >>> metrics_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
    'http://collector:4318/v1/metrics'
    >>> metrics_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, "grpc")
    'http://collector:4317'
    """
    if environ.get(ENV_METRICS_ENDPOINT, "").strip():
        return environ[ENV_METRICS_ENDPOINT].strip()
    base = environ.get(ENV_ENDPOINT, "").strip()
    if protocol == "grpc":
        return base or DEFAULT_GRPC_ENDPOINT
    return base.rstrip("/") + "/v1/metrics" if base else DEFAULT_ENDPOINT


class Sender(Protocol):
    """Delivers one serialized ``ExportMetricsServiceRequest`` (raises ``RuntimeError`` when it cannot)."""

    endpoint: str

    def send(self, body: bytes) -> ExportMetricsServiceResponse: ...

    def renewed(self) -> Sender: ...

    def close(self) -> None: ...


def sender_from_environment(timeout: float = DEFAULT_TIMEOUT, backoff: Backoff | None = None) -> Sender:
    """The HTTP or gRPC sender the OTLP environment variables describe."""
    protocol = metrics_protocol()
    endpoint = metrics_endpoint(os.environ, protocol)
    if protocol == "grpc":
        from modelspan.exporters._otlp_grpc import GrpcProfileSender

        headers = parse_headers(os.environ.get(ENV_METRICS_HEADERS) or os.environ.get(ENV_HEADERS) or "")
        ca = os.environ.get(ENV_METRICS_CERTIFICATE) or os.environ.get(ENV_CERTIFICATE) or None
        return GrpcProfileSender(endpoint, headers, timeout, backoff or Backoff(initial=0.5, maximum=5.0), ca,
                                 gzip=metrics_compression() == "gzip")
    return ProfileSender(endpoint, timeout=timeout, backoff=backoff)


def parse_headers(value: str) -> dict[str, str]:
    """``k=v,k2=v2`` (URL-encoded, as the OTLP exporters read it); a malformed pair is logged and skipped.

    >>> parse_headers("api-key=a%20b, x=1")
    {'api-key': 'a b', 'x': '1'}
    """
    headers: dict[str, str] = {}
    for pair in value.split(","):
        if not pair.strip():
            continue
        key, sep, val = pair.partition("=")
        if not sep or not key.strip():
            _log.warning("modelspan: ignoring malformed OTLP header %r", pair.strip())
            continue
        headers[urllib.parse.unquote(key.strip()).lower()] = urllib.parse.unquote(val.strip())
    return headers


class ProfileSender:
    """POSTs one serialized ``ExportMetricsServiceRequest`` (gzipped if ``compression``, else as the
    environment says); retries what OTLP says to retry."""

    def __init__(self, endpoint: str | None = None, headers: Mapping[str, str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT, backoff: Backoff | None = None,
                 compression: str | None = None) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.endpoint = endpoint or metrics_endpoint()
        env_headers = os.environ.get(ENV_METRICS_HEADERS) or os.environ.get(ENV_HEADERS) or ""
        self.headers = {**parse_headers(env_headers), **dict(headers or {}),
                        "content-type": "application/x-protobuf"}
        self.timeout, self.backoff = timeout, backoff or Backoff(initial=0.5, maximum=5.0)
        self.compression = compression or metrics_compression()
        ca = os.environ.get(ENV_METRICS_CERTIFICATE) or os.environ.get(ENV_CERTIFICATE) or None
        self._pool = urllib3.PoolManager(ca_certs=ca) if ca else urllib3.PoolManager()
        self.stop = threading.Event()

    def renewed(self) -> ProfileSender:
        """The same sender with its own connections (for a forked child)."""
        return ProfileSender(self.endpoint, self.headers, self.timeout, self.backoff, self.compression)

    def send(self, body: bytes) -> ExportMetricsServiceResponse:
        """Deliver ``body``; raises ``RuntimeError`` saying why when it could not be delivered in time."""
        deadline = Deadline(self.timeout, self.stop)
        delays = self.backoff.delays()
        headers = self.headers
        if self.compression == "gzip":
            body, headers = gzip.compress(body, compresslevel=6), {**headers, "content-encoding": "gzip"}
        while True:
            wait, why = next(delays), ""
            try:
                answer = self._pool.request("POST", self.endpoint, body=body, headers=headers, retries=False,
                                            timeout=urllib3.Timeout(connect=min(self.timeout, 5.0),
                                                                    read=max(deadline.remaining(), 0.1)))
            except urllib3.exceptions.HTTPError as exc:
                why = f"{type(exc).__name__}: {exc}"
            else:
                if answer.status == 200:
                    response = ExportMetricsServiceResponse()
                    response.ParseFromString(answer.data or b"")
                    return response
                if answer.status not in RETRYABLE_STATUS:
                    raise RuntimeError(f"OTLP metrics endpoint {self.endpoint} answered {answer.status}: "
                                       f"{answer.data[:300]!r}")
                why = f"HTTP {answer.status}"
                wait = retry_after(dict(answer.headers)) or wait
            if not deadline.wait(wait):
                raise RuntimeError(f"OTLP metrics endpoint {self.endpoint} not reached within {self.timeout} s ({why})")

    def close(self) -> None:
        self.stop.set()
        self._pool.clear()


def _encodable(profiles: Sequence[Any]) -> tuple[list[Any], int]:
    kept = [p for p in profiles if math.isfinite(float(p.rows))]
    return kept, len(profiles) - len(kept)


class OTLPSpanExporter(SpanExporter):
    """OpenTelemetry's OTLP span exporter plus ``export_profiles`` (profiles as OTLP metrics)."""

    def __init__(self, spans: SpanExporter, *, sender: Sender | None = None,
                 profile_namespace: str | None = None) -> None:
        self.spans = spans
        self.sender: Sender = sender or sender_from_environment()
        self.profile_namespace = profile_namespace
        self._process = process_token()
        self._flushes = itertools.count()
        self._closed = False
        _fork.register(self)

    def _after_fork(self) -> None:
        # a forked child is another process: its profiles are its own, sent on its own sockets
        self._process, self._flushes = process_token(), itertools.count()
        self.sender = self.sender.renewed()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.spans.export(spans)

    def export_profiles(self, profiles: Sequence[Any]) -> int:
        """Send one flush as OTLP metrics; returns the profiles delivered, raises when some were not."""
        if self._closed:
            raise RuntimeError("the OTLP exporter is shut down")
        from modelspan.instrumentation._config import STATE

        namespace = self.profile_namespace or STATE.namespace or layout.DEFAULT_NAMESPACE
        kept, bad = _encodable(profiles)
        flush = next(self._flushes)
        requests, left_out = flush_requests(kept, namespace, self._process, flush)
        self._send([request.SerializeToString() for request in requests], len(kept))
        if bad or left_out:
            raise ValueError(f"{bad} profiles with a non-finite row count and {left_out} documents with a "
                             "non-finite value or too large for a receiver were not sent")
        return len(kept)

    def _send(self, bodies: Sequence[bytes], profiles: int) -> None:
        """Send every request of one flush; raises after the last when one failed or had data points rejected."""
        failures: list[str] = []
        for body in bodies:
            try:
                answer = self.sender.send(body)
            except RuntimeError as exc:
                failures.append(str(exc))
                continue
            rejected = answer.partial_success.rejected_data_points
            if rejected:
                failures.append(f"the OTLP receiver rejected {rejected} data points of {profiles} profiles: "
                                f"{answer.partial_success.error_message}")
        if failures:
            raise RuntimeError(f"{len(failures)} of {len(bodies)} requests failed: " + "; ".join(failures)[:1000])

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.spans.force_flush(timeout_millis)

    def shutdown(self) -> None:
        if not self._closed:
            self._closed = True
            self.spans.shutdown()
            self.sender.close()
