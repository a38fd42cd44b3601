"""The requests ``modelspan elastic setup`` sends, and two ways to send them: over HTTP, or to files.

Every call setup makes is a :class:`Request` value first (target, method, path, headers, body and
the privilege it needs), so a dry run can write exactly what a real run would send, and errors can
name the privilege a 403 is missing. Only the standard library is used: setup must work in a
minimal environment next to the cluster, and a multipart upload is a few lines.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

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


@dataclass(frozen=True)
class Credentials:
    """API key or user/password, sent to both Elasticsearch and Kibana."""

    api_key: str | None = None
    username: str | None = None
    password: str | None = None

    def header(self) -> dict[str, str]:
        if self.api_key:
            return {"Authorization": f"ApiKey {self.api_key}"}
        if self.username is not None and self.password is not None:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        return {}


def cloud_urls(cloud_id: str) -> tuple[str, str]:
    """Elasticsearch and Kibana URLs of an Elastic Cloud deployment from its Cloud ID.

    >>> cloud_urls("demo:" + base64.b64encode(b"eu-west-1.aws.found.io:443$es123$kb456").decode())
    ('https://es123.eu-west-1.aws.found.io:443', 'https://kb456.eu-west-1.aws.found.io:443')
    """
    try:
        decoded = base64.b64decode(cloud_id.split(":", 1)[-1]).decode()
        host, es_id, kibana_id = [*decoded.split("$"), "", ""][:3]
    except (ValueError, UnicodeDecodeError) as exc:
        raise SetupError(f"not a valid Cloud ID: {cloud_id!r}") from exc
    if not host or not es_id:
        raise SetupError(f"not a valid Cloud ID: {cloud_id!r}")
    port = "" if ":" in host else ":443"
    kibana = f"https://{kibana_id}.{host}{port}" if kibana_id else ""
    return f"https://{es_id}.{host}{port}", kibana


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``https://user:pw@host:9200`` -> ``("https://host:9200", "user", "pw")`` (urllib cannot send userinfo).

    >>> split_userinfo("http://elastic:s3cret@localhost:9200")
    ('http://localhost:9200', 'elastic', 's3cret')
    """
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, None, None
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    plain = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return plain, urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")


class HttpTransport:
    """Sends requests with ``urllib`` to Elasticsearch and Kibana."""

    def __init__(self, urls: dict[Target, str], credentials: Credentials, *, ca_certs: str | None = None,
                 timeout: float = 30.0) -> None:
        self.urls = {target: url.rstrip("/") for target, url in urls.items() if url}
        self.credentials = credentials
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=ca_certs) if ca_certs else None

    def send(self, request: Request) -> Response:
        base = self.urls.get(request.target)
        if base is None:
            raise SetupError(f"no {request.target} URL configured")
        headers = {**request.all_headers(), **self.credentials.header()}
        http = urllib.request.Request(base + request.path, data=request.payload(), headers=headers,
                                      method=request.method)
        try:
            with urllib.request.urlopen(http, timeout=self.timeout, context=self.context) as answer:
                return Response(answer.status, _decode(answer.read()))
        except urllib.error.HTTPError as exc:
            return Response(exc.code, _decode(exc.read()))
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SetupError(f"cannot reach {request.target} at {base}: {reason}. Check the URL "
                             f"(scheme, host, port) and that the service is running.") from exc


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
