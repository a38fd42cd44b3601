"""Where and how to reach Elasticsearch: settings from arguments or environment, and one HTTP sender.

The sender is a lean ``urllib3`` pool rather than elasticsearch-py's client: the exporter needs
exactly one request (``POST /_bulk`` with a gzip body it already encoded), full control over
timeouts and retries (the client retries on its own and raises on 429, which would hide the per-item
answers we retry ourselves), and no product check or response deserialisation it does not use.
``urllib3`` comes with the SDK's OTLP exporter, so direct export needs no extra dependency.

Environment (the names the OTel Collector's ``elasticsearch`` exporter documents):
``ELASTICSEARCH_URL`` (one or more comma-separated endpoints; ``user:password@`` allowed),
``ELASTICSEARCH_CLOUD_ID``, ``ELASTICSEARCH_API_KEY`` (base64 ``id:key``, or ``id:key``),
``ELASTICSEARCH_USERNAME`` / ``ELASTICSEARCH_PASSWORD``, ``ELASTICSEARCH_CA_CERTS`` (PEM file).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote, urlsplit, urlunsplit

import urllib3

ENV_URL: Final = "ELASTICSEARCH_URL"
ENV_CLOUD_ID: Final = "ELASTICSEARCH_CLOUD_ID"
ENV_API_KEY: Final = "ELASTICSEARCH_API_KEY"
ENV_USERNAME: Final = "ELASTICSEARCH_USERNAME"
ENV_PASSWORD: Final = "ELASTICSEARCH_PASSWORD"
ENV_CA_CERTS: Final = "ELASTICSEARCH_CA_CERTS"
DEFAULT_URL: Final = "http://localhost:9200"
# Keep the answers small: items pair with the request by position, so status and error suffice.
_BULK_PATH: Final = "/_bulk?filter_path=errors,items.*.status,items.*.error"


class TransportError(Exception):
    """The request did not get an HTTP answer (refused, reset, timed out). ``refused`` when nothing listens."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings (argument, then environment, then default)."""

    urls: tuple[str, ...]
    headers: Mapping[str, str] = field(default_factory=dict)
    ca_certs: str | None = None


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    data: dict[str, Any] | None
    text: str


def resolve_settings(
    url: str | None = None,
    *,
    api_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    cloud_id: str | None = None,
    ca_certs: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from arguments, else environment. A bad argument raises ``ValueError``.

    >>> resolve_settings("https://elastic:secret@es.example:9243", environ={}).headers["Authorization"]
    'Basic ZWxhc3RpYzpzZWNyZXQ='
    """
    env = os.environ if environ is None else environ
    cloud_id = cloud_id or env.get(ENV_CLOUD_ID) or None
    raw_urls = url or env.get(ENV_URL) or ""
    if not raw_urls and cloud_id:
        raw_urls = cloud_id_url(cloud_id)
    urls, url_auth = [], None
    for part in (raw_urls or DEFAULT_URL).split(","):
        clean, auth = _split_credentials(part.strip())
        if clean:
            urls.append(clean)
            url_auth = url_auth or auth
    headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip", "Accept-Encoding": "gzip"}
    api_key = api_key or env.get(ENV_API_KEY) or None
    username = username or env.get(ENV_USERNAME) or None
    password = password if password is not None else env.get(ENV_PASSWORD)
    if api_key:
        headers["Authorization"] = "ApiKey " + _api_key(api_key)
    elif username:
        headers["Authorization"] = "Basic " + _basic(username, password or "")
    elif url_auth:
        headers["Authorization"] = "Basic " + _basic(*url_auth)
    ca = ca_certs or env.get(ENV_CA_CERTS) or None
    if ca and not os.path.isfile(ca):
        raise ValueError(f"modelspan: CA certificate file {ca!r} does not exist")
    return Settings(tuple(urls), headers, ca)


def cloud_id_url(cloud_id: str) -> str:
    """The Elasticsearch URL inside an Elastic Cloud ID (``name:base64(host$es$kibana)``).

    >>> cloud_id_url("demo:" + base64.b64encode(b"eu-west-1.aws.found.io:443$abc123$def").decode())
    'https://abc123.eu-west-1.aws.found.io:443'
    """
    _, _, encoded = cloud_id.partition(":")
    try:
        host, es_uuid, *_ = base64.b64decode(encoded or cloud_id).decode().split("$")
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"modelspan: malformed Elastic Cloud ID {cloud_id!r}") from exc
    if not host or not es_uuid:
        raise ValueError(f"modelspan: malformed Elastic Cloud ID {cloud_id!r}")
    host, _, port = host.partition(":")
    return f"https://{es_uuid}.{host}:{port or 443}"


def _split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    if not url:
        return "", None
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"modelspan: Elasticsearch URL {url!r} is not http(s)://host[:port]")
    auth = (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    if ":" in parts.hostname:  # IPv6 literal
        netloc = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), auth


def _api_key(key: str) -> str:
    # The collector takes the base64 "id:key" Elasticsearch returns as ``encoded``; accept "id:key" too.
    if ":" in key:
        return base64.b64encode(key.encode()).decode()
    return key


def _basic(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


class Transport:
    """POSTs gzip bulk bodies to the first endpoint that answers (rotating on connection errors)."""

    def __init__(self, settings: Settings, *, compress_level: int = 1) -> None:
        self.settings = settings
        self._compress_level = compress_level
        kwargs: dict[str, Any] = {"maxsize": 4, "retries": False}
        if settings.ca_certs:
            kwargs.update(cert_reqs="CERT_REQUIRED", ca_certs=settings.ca_certs)
        self._pool = urllib3.PoolManager(**kwargs)
        self._current = 0

    def bulk(self, body: bytes, timeout: float) -> Response:
        """Send one ``_bulk`` request; raises ``TransportError`` when no HTTP answer comes back."""
        payload = gzip.compress(body, compresslevel=self._compress_level, mtime=0)
        url = self.settings.urls[self._current % len(self.settings.urls)] + _BULK_PATH
        try:
            answer = self._pool.request(
                "POST", url, body=payload, headers=dict(self.settings.headers),
                timeout=urllib3.Timeout(connect=min(timeout, 5.0), read=timeout), retries=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            self._current += 1  # next endpoint, if several
            refused = isinstance(exc, urllib3.exceptions.NewConnectionError) or (
                isinstance(exc, urllib3.exceptions.MaxRetryError)
                and isinstance(exc.reason, urllib3.exceptions.NewConnectionError)
            )
            raise TransportError(f"{type(exc).__name__}: {exc}", refused=refused) from exc
        text = answer.data.decode(errors="replace")
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = None
        return Response(answer.status, dict(answer.headers), data if isinstance(data, dict) else None, text)

    def close(self) -> None:
        self._pool.clear()
