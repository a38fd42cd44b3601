"""A loopback HTTP(S) server that answers like an empty Elasticsearch (and Kibana) and records headers.

It serves 127.0.0.1 on an ephemeral port, over TLS when given a certificate. Answers are those of a
cluster with no data and nothing installed: ``GET /`` gives a version, ``_license`` a basic licence,
``_bulk`` one ``created`` item per action, searches no hits, other reads 404 and other writes an
acknowledgement; every answer carries ``X-Elastic-Product`` so elasticsearch-py accepts it.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    host: str
    authorization: str | None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.seen.append(Seen(method, self.path, self.headers.get("Host", ""),
                                     self.headers.get("Authorization")))
        status, answer = _reply(method, self.path.split("?")[0], body)
        data = json.dumps(answer).encode() if answer is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_HEAD(self) -> None:
        self._answer("HEAD")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_PUT(self) -> None:
        self._answer("PUT")

    def do_DELETE(self) -> None:
        self._answer("DELETE")


def _reply(method: str, path: str, body: bytes) -> tuple[int, Any]:
    if method == "GET" and path in ("/", "/api/status"):
        return 200, {"version": {"number": "9.1.0", "build_flavor": "default"}, "tagline": "You Know, for Search"}
    if method == "GET" and path == "/_license":
        return 200, {"license": {"type": "basic", "status": "active"}}
    if path.endswith("/_bulk"):
        actions = [line for line in body.splitlines()[::2] if line.strip()]
        items = [{next(iter(json.loads(line))): {"status": 201, "result": "created"}} for line in actions]
        return 200, {"took": 1, "errors": False, "items": items}
    if path.endswith("/_search"):
        return 200, {"took": 1, "timed_out": False, "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []},
                     "aggregations": {}}
    if path.endswith("/_msearch"):
        searches = [line for line in body.splitlines() if line.strip()][1::2]
        return 200, {"took": 1, "responses": [{"hits": {"hits": []}, "aggregations": {}, "status": 200}
                                              for _ in searches]}
    if method in ("GET", "HEAD", "DELETE"):
        return 404, {"error": {"type": "resource_not_found_exception"}, "status": 404}
    return 200, {"acknowledged": True, "_shards": {"total": 1, "successful": 1, "failed": 0}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[Seen]


@contextmanager
def serve(tls: tuple[Path, Path] | None = None) -> Iterator[_Server]:
    """A running server (``tls``: certificate and key files); ``server.seen`` lists every request."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.seen = []
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def self_signed(directory: Path, *names: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``names`` (and 127.0.0.1), written as PEM; returns (cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = _dt.datetime.now(_dt.timezone.utc)
    alternative = [x509.DNSName(name) for name in names] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - _dt.timedelta(minutes=5)).not_valid_after(now + _dt.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
