"""A loopback OTLP/HTTP receiver: real HTTP on 127.0.0.1, protobuf bodies decoded, answers scripted.

``POST /v1/metrics`` and ``/v1/traces`` (``application/x-protobuf``, gzip or plain) are decoded into
``ExportMetricsServiceRequest``/``ExportTraceServiceRequest`` and kept in ``metrics``/``traces``
(a request answered with an error is not kept). ``script(...)`` sets the answers of the next
metrics requests: a status (with ``Retry-After``), a partial success, or ``drop`` (keep the request,
close the connection without answering: the Collector got it, the client never hears so).
"""

from __future__ import annotations

import gzip
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsPartialSuccess,
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass
class Answer:
    status: int = 200
    retry_after: str | None = None
    rejected: int = 0  # a partial success: this many data points rejected
    drop: bool = False


class OTLPReceiver:
    def __init__(self) -> None:
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.traces: list[ExportTraceServiceRequest] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.answers: deque[Answer] = deque()
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"receiver": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, *answers: Answer) -> None:
        with self.lock:
            self.answers.extend(answers)

    def next_answer(self) -> Answer:
        with self.lock:
            return self.answers.popleft() if self.answers else Answer()

    def __enter__(self) -> OTLPReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    receiver: OTLPReceiver
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        with self.receiver.lock:
            self.receiver.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        if self.path == "/v1/traces":
            with self.receiver.lock:
                self.receiver.traces.append(ExportTraceServiceRequest.FromString(body))
            self._answer(200, ExportTraceServiceResponse().SerializeToString())
            return
        if self.path != "/v1/metrics":
            self._answer(404, b"")
            return
        answer = self.receiver.next_answer()
        if answer.status == 200 or answer.drop:
            with self.receiver.lock:
                self.receiver.metrics.append(ExportMetricsServiceRequest.FromString(body))
        if answer.drop:
            self.close_connection = True
            self.connection.close()
            return
        response = ExportMetricsServiceResponse()
        if answer.rejected:
            response.partial_success.CopyFrom(ExportMetricsPartialSuccess(
                rejected_data_points=answer.rejected, error_message="scripted rejection"))
        headers = {"Retry-After": answer.retry_after} if answer.retry_after else {}
        self._answer(answer.status, response.SerializeToString() if answer.status == 200 else b"scripted", headers)

    def _answer(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
