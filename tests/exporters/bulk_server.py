"""A loopback HTTP server that answers ``POST /_bulk`` like Elasticsearch, scripted to misbehave.

It keeps documents by ``_id`` per index (a second ``create`` of an id is a 409
``version_conflict_engine_exception``, as in a data stream), checks what Elasticsearch checks
for data streams (``create`` only, ``@timestamp`` present, gzip or plain NDJSON), and answers with
a ``BulkResponse``-shaped body (``took``, ``errors``, ``items[{create: {_index, _id, status, ...}}]``)
so the answers can be type-checked against the official types.

Faults are scripted per request with ``script(...)``: a whole-request status (429 with
``Retry-After``, 503), per-item answers (``item_status``: 429 or a mapping error for chosen ids),
a delay (slow answers; longer than the client's timeout = a timeout *after* storing, the case
that makes retries produce 409s), or dropping the connection. ``stop()``/``start()`` close and
reopen the port (connection refused in between). Requests are also recorded for contract checks.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAPPING_ERROR: dict[str, Any] = {
    "type": "document_parsing_exception",
    "reason": "[1:200] failed to parse field [attributes.ml.feature.temp] of type [double]",
    "caused_by": {"type": "illegal_argument_exception", "reason": "For input string: \"hot\""},
}


@dataclass
class Fault:
    """What to do with one request (defaults: answer normally)."""

    status: int = 200  # whole-request status; not 200 -> nothing stored, error body
    retry_after: str | None = None
    delay: float = 0.0  # seconds before answering (after storing, when status is 200)
    drop: bool = False  # close the connection without answering (after storing)
    item_status: Callable[[str, dict[str, Any]], int | None] | None = None  # per item: status or None (normal)


@dataclass
class BulkServer:
    """The fake; use as a context manager. ``stored`` maps ``_id`` to ``(index, document)``."""

    keep_sources: bool = True
    port: int = 0
    stored: dict[str, tuple[str, Any]] = field(default_factory=dict)
    requests: int = 0
    responses: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    record: bool = False
    default: Fault = field(default_factory=Fault)
    tls: tuple[str, str] | None = None  # (certificate file, key file): serve https

    def __post_init__(self) -> None:
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.connections: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def script(self, *faults: Fault) -> None:
        """Queue faults, one per coming request."""
        with self._lock:
            self._faults.extend(faults)

    def start(self) -> BulkServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        server.daemon_threads = True
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port and every open connection: connections are refused until ``start()``."""
        with self._lock:
            open_connections, self.connections = list(self.connections), set()
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> BulkServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def next_fault(self) -> Fault:
        with self._lock:
            self.requests += 1
            return self._faults.popleft() if self._faults else self.default

    def bulk(self, payload: bytes, fault: Fault) -> dict[str, Any]:
        """Apply one bulk body; returns the BulkResponse."""
        started = time.perf_counter()
        lines = payload.splitlines()
        items = []
        for action_line, source_line in zip(lines[::2], lines[1::2], strict=True):
            action = json.loads(action_line)
            if self.record:
                self.actions.append(action)
            items.append(self._item(action, source_line, fault))
        response = {"errors": any(next(iter(i.values()))["status"] >= 300 for i in items),
                    "took": int((time.perf_counter() - started) * 1000), "items": items}
        if self.record:
            self.responses.append(response)
        return response

    def _item(self, action: dict[str, Any], source_line: bytes, fault: Fault) -> dict[str, Any]:
        (op, meta), = action.items()
        index, identifier = meta.get("_index", ""), meta.get("_id", "")
        document = json.loads(source_line) if (self.keep_sources or fault.item_status) else None
        if op != "create":
            return {op: _error(index, identifier, 400, "illegal_argument_exception",
                               "only write ops with an op_type of create are allowed in data streams")}
        status = fault.item_status(identifier, document or {}) if fault.item_status else None
        if status == 429:
            return {op: _error(index, identifier, 429, "es_rejected_execution_exception",
                               "rejected execution of coordinating operation")}
        if status == 400 or (document is not None and "@timestamp" not in document):
            error = _error(index, identifier, 400, MAPPING_ERROR["type"], MAPPING_ERROR["reason"])
            error["error"]["caused_by"] = MAPPING_ERROR["caused_by"]
            return {op: error}
        with self._lock:
            if identifier in self.stored:
                return {op: _error(index, identifier, 409, "version_conflict_engine_exception",
                                   f"[{identifier}]: version conflict, document already exists")}
            self.stored[identifier] = (index, document)
        return {op: {"_index": index, "_id": identifier, "_version": 1, "result": "created", "status": 201,
                     "_seq_no": len(self.stored), "_primary_term": 1,
                     "_shards": {"total": 1, "successful": 1, "failed": 0}}}


def _error(index: str, identifier: str, status: int, kind: str, reason: str) -> dict[str, Any]:
    return {"_index": index, "_id": identifier, "status": status,
            "error": {"type": kind, "reason": reason, "index": index}}


class _Handler(BaseHTTPRequestHandler):
    fake: BulkServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        with self.fake._lock:
            self.fake.connections.add(self.connection)

    def finish(self) -> None:
        with self.fake._lock:
            self.fake.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        fault = self.fake.next_fault()
        if self.fake.record:
            self.fake.headers.append(dict(self.headers.items()))
        if self.path.split("?")[0] != "/_bulk":
            self._answer(404, {"error": "no handler", "status": 404})
            return
        if fault.status != 200:
            if fault.delay:
                time.sleep(fault.delay)
            body = {"error": {"type": "unavailable" if fault.status != 429 else "es_rejected_execution_exception",
                              "reason": f"scripted {fault.status}"}, "status": fault.status}
            self._answer(fault.status, body, {"Retry-After": fault.retry_after} if fault.retry_after else None)
            return
        payload = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
        response = self.fake.bulk(payload, fault)
        if fault.delay:
            time.sleep(fault.delay)
        if fault.drop:
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self._answer(200, response)

    def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timeout): Elasticsearch would have stored anyway
            self.close_connection = True
