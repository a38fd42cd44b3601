"""One HTTP sender for the exporter: gzip ``_bulk`` requests over a lean ``urllib3`` pool.

The sender is ``urllib3`` rather than elasticsearch-py's client: the exporter needs exactly one
request (``POST /_bulk`` with a gzip body it already encoded), full control over timeouts and
retries (the client retries on its own and raises on 429, which would hide the per-item answers we
retry ourselves), and no product check or response deserialisation it does not use. ``urllib3``
comes with the SDK's OTLP exporter, so direct export needs no extra dependency.

Where Elasticsearch is and how to authenticate come from :mod:`modelspan.elasticsearch.connection`
(the settings every part of modelspan reads the same way).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import urllib3

from modelspan.elasticsearch import clients
from modelspan.elasticsearch.connection import Settings

# Keep the answers small: items pair with the request by position, so status and error suffice.
_BULK_PATH: Final = "/_bulk?filter_path=errors,items.*.status,items.*.error"
_BULK_HEADERS: Final = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip",
                        "Accept-Encoding": "gzip"}


class TransportError(Exception):
    """The request did not get an HTTP answer (refused, reset, timed out). ``refused`` when nothing listens."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    data: dict[str, Any] | None
    text: str


class Transport:
    """POSTs gzip bulk bodies to the first endpoint that answers (rotating on connection errors)."""

    def __init__(self, settings: Settings, *, compress_level: int = 1) -> None:
        self.settings = settings
        self._compress_level = compress_level
        self._pool = clients.pool_manager(settings, maxsize=4)
        self._headers = {**settings.headers, **_BULK_HEADERS}
        self._current = 0

    def bulk(self, body: bytes, timeout: float) -> Response:
        """Send one ``_bulk`` request; raises ``TransportError`` when no HTTP answer comes back."""
        payload = gzip.compress(body, compresslevel=self._compress_level, mtime=0)
        url = self.settings.urls[self._current % len(self.settings.urls)] + _BULK_PATH
        try:
            answer = self._pool.request(
                "POST", url, body=payload, headers=self._headers,
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
