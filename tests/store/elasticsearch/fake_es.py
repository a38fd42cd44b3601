"""The one loopback stand-in for Elasticsearch: ingest, templates, search, limits and scripted faults.

Real HTTP on 127.0.0.1 (HTTP/1.1, keep-alive, optional TLS). It answers what modelspan sends:

- ``POST /_bulk`` (gzip or plain NDJSON): ``create`` and ``index`` with ``_id``; a second
  ``create`` of an id is a 409 ``version_conflict_engine_exception``; a data stream (an index
  template with ``data_stream``, or a ``traces-``/``logs-``/``metrics-`` name) takes ``create``
  only and needs ``@timestamp``; every document is indexed through the mappings its index got from
  the templates (``fake_mappings``: types coerced or refused as Elasticsearch does). A body larger
  than ``max_content_length`` (after decompression) is a 413, as ``http.max_content_length`` is;
- ``GET /``, ``GET /_license``, ``_refresh``, ``_search``, ``_msearch``, ``_delete_by_query``
  (queries and aggregations evaluated by ``fake_search``, with ``index.max_result_window`` and
  ``search.max_buckets`` enforced), index/component templates, ILM policies, indices with aliases
  and ``_mapping``, ``_data_stream`` (recorded, and applied to what is stored afterwards);
- Elastic's own OTel templates are preloaded (``builtins=True``), as a 9.x cluster has them.

Faults are scripted per bulk request (:class:`Fault`, ``script(...)``): a whole-request status
(429 with ``Retry-After``, 503), per-item answers, a delay (longer than the client's timeout = a
timeout *after* storing), a dropped connection, or a ``200`` whose JSON is cut in half (after storing).
``stop()``/``start()`` close and reopen the port.
Every request is recorded as ``(method, path, body)`` for the contract check
(``tests.contract.tsc.recorded_cases``).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import ssl
import threading
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.store.elasticsearch import fake_indices
from tests.store.elasticsearch.fake_search import MAX_BUCKETS, MAX_RESULT_WINDOW, ElasticError

__all__ = ["MAX_BUCKETS", "MAX_CONTENT_LENGTH", "MAX_RESULT_WINDOW", "ElasticError", "FakeElasticsearch", "Fault"]

MAX_CONTENT_LENGTH = 100 * 1024 * 1024
"""``http.max_content_length``'s default: a larger request body is answered 413."""


@dataclass
class Fault:
    """What to do with one bulk request (defaults: answer normally)."""

    status: int = 200  # whole-request status; not 200 -> nothing stored, error body
    retry_after: str | None = None
    delay: float = 0.0  # seconds before answering (after storing, when status is 200)
    drop: bool = False  # close the connection without answering (after storing)
    item_status: Callable[[str, dict[str, Any]], int | None] | None = None  # per item: status or None (normal)
    truncate: bool = False  # answer 200 with only the first half of the JSON body (after storing)


class FakeElasticsearch(fake_indices.Indices):
    """``with FakeElasticsearch() as es: es.url``; ``es.add(index, docs)`` injects without mappings."""

    def __init__(self, *, keep_sources: bool = True, port: int = 0, record: bool = False,
                 default: Fault | None = None, tls: tuple[str, str] | None = None, builtins: bool = True,
                 max_content_length: int = MAX_CONTENT_LENGTH, apply_mappings: bool = True) -> None:
        super().__init__(builtins=builtins, keep_sources=keep_sources, apply_mappings=apply_mappings)
        self.log: list[tuple[str, str, Any]] = []
        self.bulk_sizes: list[tuple[int, int]] = []
        """(bytes after decompression, status) of every bulk request."""
        self.bulk_wire: list[int] = []
        """Bytes of every bulk request body as sent (gzip when the client compresses), in order."""
        self.request_count = 0
        """Bulk requests seen (faults are taken one per bulk request)."""
        self.responses: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.bodies: list[bytes] = []
        """With ``record=True``: every bulk body as received, decompressed (privacy tests read the bytes)."""
        self.record = record
        self.default = default or Fault()
        self.tls = tls
        self.port = port
        self.max_content_length = max_content_length
        self.connections: set[socket.socket] = set()
        self._faults: deque[Fault] = deque()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._bind()

    @property
    def requests(self) -> list[tuple[str, str, Any]]:
        """Every request seen, as ``(method, path, body)`` (NDJSON bodies as lists)."""
        return self.log

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    # --- lifecycle ----------------------------------------------------------------------------
    def _bind(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), type("Handler", (_Handler,), {"fake": self}))
        server.daemon_threads = True
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server

    def start(self) -> FakeElasticsearch:
        if self._server is None:
            self._bind()
        assert self._server is not None
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port and every open connection: connections are refused until ``start()``."""
        with self.lock:
            open_connections, self.connections = list(self.connections), set()
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> FakeElasticsearch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- faults -------------------------------------------------------------------------------
    def script(self, *faults: Fault) -> None:
        """Queue faults, one per coming bulk request."""
        with self.lock:
            self._faults.extend(faults)

    def next_fault(self) -> Fault:
        with self.lock:
            self.request_count += 1
            return self._faults.popleft() if self._faults else self.default


class _Handler(BaseHTTPRequestHandler):
    fake: FakeElasticsearch
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def setup(self) -> None:
        super().setup()
        with self.fake.lock:
            self.fake.connections.add(self.connection)

    def finish(self) -> None:
        with self.fake.lock:
            self.fake.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def _serve(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        wire = len(raw)
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        parsed = urllib.parse.urlsplit(self.path)
        path, query = urllib.parse.unquote(parsed.path), dict(urllib.parse.parse_qsl(parsed.query))
        fake = self.fake
        if path.endswith("/_bulk"):
            self._bulk(path, query, raw, wire)
            return
        body = _decode(path, raw)
        with fake.lock:
            fake.log.append((self.command, path, body))
        try:
            status, answer = fake.answer(self.command, path, query, body)
        except ElasticError as error:
            status, answer = error.status, error.body
        except Exception as exc:  # a request the fake cannot answer is a test failure, said loudly
            status, answer = 400, {"error": {"type": "fake_error", "reason": repr(exc)}, "status": 400}
        self._answer(status, answer)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    def _bulk(self, path: str, query: dict[str, str], raw: bytes, wire: int) -> None:
        fake = self.fake
        fault = fake.next_fault()
        too_large = len(raw) > fake.max_content_length
        with fake.lock:  # one block, so bodies[i] and bulk_wire[i] are the same request
            if fake.record:
                fake.headers.append(dict(self.headers.items()))
                fake.bodies.append(raw)
            fake.bulk_sizes.append((len(raw), 413 if too_large else fault.status))
            fake.bulk_wire.append(wire)
        if too_large:  # http.max_content_length: Netty answers 413, empty
            with fake.lock:
                fake.log.append((self.command, path, None))
            self._answer(413, None)
            return
        if fault.status != 200:
            if fault.delay:
                threading.Event().wait(fault.delay)
            body = {"error": {"type": "unavailable" if fault.status != 429 else "es_rejected_execution_exception",
                              "reason": f"scripted {fault.status}"}, "status": fault.status}
            self._answer(fault.status, body, {"Retry-After": fault.retry_after} if fault.retry_after else None)
            return
        lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
        with fake.lock:  # a load test keeps no sources, and no bodies either
            fake.log.append((self.command, path, lines if fake.keep_sources else None))
        default_index = path.strip("/").split("/")[0] if path.count("/") > 1 else None
        response = fake.bulk(lines, fault.item_status, default_index, refresh=query.get("refresh"))
        if fake.record:
            fake.responses.append(response)
        if fault.delay:
            threading.Event().wait(fault.delay)
        if fault.drop:
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self._answer(200, response, truncate=fault.truncate)

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None, truncate: bool = False) -> None:
        data = b"" if body is None or self.command == "HEAD" else json.dumps(body).encode()
        if truncate:  # a proxy or a cut connection: well-formed HTTP, half a JSON document
            data = data[: len(data) // 2]
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.elasticsearch+json;compatible-with=9")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timeout): Elasticsearch would have stored anyway
            self.close_connection = True


def _decode(path: str, raw: bytes) -> Any:
    if not raw:
        return None
    if path.endswith("/_msearch"):
        return [json.loads(line) for line in raw.splitlines() if line.strip()]
    return json.loads(raw)
