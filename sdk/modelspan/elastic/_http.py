"""The requests ``modelspan elastic setup`` sends, and two ways to send them: over HTTP, or to files.

Every call setup makes is a :class:`Request` value first (target, method, path, headers, body and
the privilege it needs), so a dry run can write exactly what a real run would send, and errors can
name the privilege a 403 is missing. Requests go over ``urllib3`` with the pool and headers of
:mod:`modelspan.elasticsearch.connection` (the exporter's stack; a multipart upload is a few lines),
so setup authenticates and verifies TLS exactly as the exporter does; a dry run needs no HTTP library.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from modelspan.elasticsearch import clients
from modelspan.elasticsearch.connection import Settings

Target = Literal["elasticsearch", "kibana"]
JSON_TYPE = "application/json"
REDACTED = "<redacted>"


class SetupError(RuntimeError):
    """Setup or teardown cannot go on; the message says why and what to do.

    ``status`` is the HTTP status that caused it (``None`` for a connection failure or a check).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Request:
    """One HTTP request, described before it is sent (or written, in a dry run)."""

    target: Target
    method: str
    path: str
    privilege: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    """Bytes to send instead of ``body`` as JSON (the multipart saved-objects import)."""

    def payload(self) -> bytes | None:
        if self.raw is not None:
            return self.raw
        return None if self.body is None else json.dumps(self.body).encode()

    def all_headers(self) -> dict[str, str]:
        headers = {"Accept": JSON_TYPE}
        if self.body is not None and self.raw is None:
            headers["Content-Type"] = JSON_TYPE
        if self.target == "kibana" and self.method != "GET":
            headers["kbn-xsrf"] = "modelspan"  # Kibana refuses writes without it
        headers.update(self.headers)
        return headers


@dataclass(frozen=True)
class Response:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Transport(Protocol):
    def send(self, request: Request) -> Response: ...


def multipart(field_name: str, filename: str, content: bytes, content_type: str = "application/ndjson") -> tuple[
        bytes, str]:
    """A ``multipart/form-data`` body with one file part, and its Content-Type header value."""
    boundary = f"modelspan-{uuid.uuid4().hex}"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field_name}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class HttpTransport:
    """Sends requests to Elasticsearch (``settings.url``) and Kibana (``settings.kibana_url``).

    Both get ``settings.headers`` (the ``Authorization`` the exporter sends, and any extra headers).
    """

    def __init__(self, settings: Settings, *, timeout: float = 30.0) -> None:
        try:
            import urllib3
        except ImportError as exc:  # pragma: no cover - urllib3 comes with modelspan[sdk]
            raise SetupError(f"modelspan elastic setup needs urllib3 ({exc}): install 'modelspan[sdk]'") from exc
        self.settings = settings
        self.urls: dict[Target, str] = {"elasticsearch": settings.url}
        if settings.kibana_url:
            self.urls["kibana"] = settings.kibana_url
        self.timeout = urllib3.Timeout(connect=min(timeout, 10.0), read=timeout)
        self._pool = clients.pool_manager(settings, maxsize=2)
        self._errors = urllib3.exceptions.HTTPError

    def send(self, request: Request) -> Response:
        base = self.urls.get(request.target)
        if base is None:
            raise SetupError(f"no {request.target} URL configured")
        headers = {**request.all_headers(), **self.settings.headers}
        try:
            answer = self._pool.request(request.method, base + request.path, body=request.payload(), headers=headers,
                                        timeout=self.timeout, retries=False, redirect=False)
        except self._errors as exc:
            reason = getattr(exc, "reason", None) or exc
            raise SetupError(f"cannot reach {request.target} at {base}: {reason}. Check the URL "
                             f"(scheme, host, port) and that the service is running.") from exc
        return Response(answer.status, _decode(answer.data))

    def close(self) -> None:
        self._pool.clear()


def _decode(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode(errors="replace")


class DryRunTransport:
    """Writes each request as ``NNN-<target>-<method>-<path>.json`` in a folder and sends nothing.

    Answers are those of a fresh cluster (nothing installed yet) of ``version`` with ``license``,
    so the files hold every request a first real run would send. Credentials are never written;
    numbered files of an earlier dry run in the same folder are replaced.
    """

    def __init__(self, directory: str | Path, *, license: str = "basic", version: str = "9.1.0",
                 authorized: bool = False) -> None:
        self.directory = Path(directory)
        self.authorized = authorized
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob("[0-9][0-9][0-9]-*.json"):  # a previous plan's files, not mixed in
            stale.unlink()
        self.license = license
        self.version = version
        self.count = 0

    def send(self, request: Request) -> Response:
        self.count += 1
        slug = re.sub(r"[^A-Za-z0-9@._-]+", "_", request.path.split("?")[0].strip("/"))[:80] or "root"
        name = f"{self.count:03d}-{request.target}-{request.method}-{slug}.json"
        headers = request.all_headers()
        if self.authorized:
            headers["Authorization"] = REDACTED
        record = {"target": request.target, "method": request.method, "path": request.path,
                  "headers": headers, "privilege": request.privilege, "body": request.body}
        if request.raw is not None and request.body is None:
            record["body"] = request.raw.decode(errors="replace")
        (self.directory / name).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        return self._answer(request)

    def _answer(self, request: Request) -> Response:
        path = request.path.split("?")[0]
        if request.method == "GET" and path in ("/", "/api/status"):
            return Response(200, {"version": {"number": self.version}})
        if request.method == "GET" and path == "/_license":
            return Response(200, {"license": {"type": self.license, "status": "active"}})
        if request.method == "GET" and path.startswith("/_component_template/") and "modelspan" not in path:
            return Response(200, {"component_templates": [{"name": path.rsplit("/", 1)[-1]}]})
        if path.endswith("/_bulk_get"):
            wanted = request.body or []
            return Response(200, {"saved_objects": [{**item, "error": {"statusCode": 404}} for item in wanted]})
        if request.method in ("GET", "HEAD"):
            return Response(404, None)
        return Response(200, {"acknowledged": True, "success": True, "successCount": 0})


def quote(segment: str) -> str:
    """A path segment with reserved characters escaped (ids may hold ``:`` or ``/``; patterns keep ``*``)."""
    return urllib.parse.quote(segment, safe="@.-_*,")
