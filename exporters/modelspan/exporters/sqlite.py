"""``SQLiteSpanExporter``: every span into the embedded store, the default when nothing is configured.

The store file is ``path``, else ``MODELSPAN_STORE``, else ``./modelspan.db`` (contract 2). Each
span is written as the document the OTel Collector would write (``_document``, kept as JSON for the
label join and the incident correlator) plus the slim rows the analyzer reads
(``modelspan.sqlite._schema``), taken from the span itself: the document is encoded once, for the
column that stores it, and never parsed back (``span_record``). Safe with several processes
writing at once (gunicorn workers) and the analyzer reading: WAL, ``busy_timeout``, one
``BEGIN IMMEDIATE`` transaction per batch; the connection is reopened in a forked child. Span ids
are the primary key, so a replayed batch adds nothing.

Like every ``SpanExporter`` it never raises from ``export()``: a failure returns ``FAILURE``, is
counted (``stats()``) and logged at most every 30 s. With ``retention_days`` (or
``MODELSPAN_RETENTION_DAYS``) spans older than that are deleted a bounded chunk at a time after
exports, at most every ``RETENTION_EVERY_S``.

    provider.add_span_processor(BatchSpanProcessor(SQLiteSpanExporter("/var/lib/app/modelspan.db")))
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from modelspan.exporters._document import build_document
from modelspan.instrumentation._processor import count_lost
from modelspan.sqlite import SpanRecord, SpanWriter, store_path
from modelspan.sqlite._rows import document_json, span_row

_log = logging.getLogger(__name__)
ENV_RETENTION_DAYS: Final = "MODELSPAN_RETENTION_DAYS"
RETENTION_EVERY_S: Final = 300.0
RETENTION_CHUNKS: Final = 20
"""Chunks (of ``modelspan.sqlite._retention.CHUNK`` rows) deleted per export at most: bounds the pause."""
_LOG_EVERY_S: Final = 30.0


def _retention_from_env() -> float | None:
    value = os.environ.get(ENV_RETENTION_DAYS, "").strip()
    if not value:
        return None
    try:
        days = float(value)
    except ValueError:
        _log.warning("%s=%r is not a number of days; keeping spans forever", ENV_RETENTION_DAYS, value)
        return None
    return days if days > 0 else None


def span_record(span: ReadableSpan) -> SpanRecord:
    """The ``spans`` row and attributes of ``span``: what ``SpanWriter`` stores, without a parse.

    The document is built without the normalisation pass (tuples stay tuples, which JSON writes as
    arrays); only when JSON refuses a value (NaN or infinite, bytes, ...) is it rebuilt normalised,
    as the collector writes it. Either way the stored text and rows are those of ``span_to_document``.
    """
    document = build_document(span, normalise=False)
    try:
        text = document_json(document, strict=True)
    except (ValueError, TypeError):
        document = build_document(span, normalise=True)
        text = document_json(document)
    return span_row(document, start_ns=span.start_time or 0, text=text), document.get("attributes") or {}


class SQLiteSpanExporter(SpanExporter):
    """Write every finished span (model, module and application spans) to the SQLite store."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, retention_days: float | None = None) -> None:
        if retention_days is not None and not retention_days > 0:
            raise ValueError(f"retention_days must be positive, got {retention_days!r}")
        self.path: Path = store_path(path)
        self.retention_days = retention_days if retention_days is not None else _retention_from_env()
        self._lock = threading.Lock()
        self._store: SpanWriter | None = None
        self._pid = os.getpid()
        self._shutdown = False
        self._next_purge = 0.0
        self._counts = {"exported": 0, "stored": 0, "duplicates": 0, "dropped": 0, "failures": 0, "purged": 0,
                        "profiles": 0}
        self._last_warning = -_LOG_EVERY_S

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Store ``spans``; ``FAILURE`` (counted, logged) when the store cannot be written."""
        if self._shutdown:
            return SpanExportResult.FAILURE
        with self._lock:
            self._counts["exported"] += len(spans)
            records, readable = self._records(spans)
            try:
                stored = self._open().write_records(records)
            except Exception:
                self._counts["failures"] += 1
                self._counts["dropped"] += len(records)
                for span in readable:
                    count_lost(span.attributes)  # modelspan.stats() and the profiles say so too
                self._warn("modelspan could not write %d spans to %s", len(records), self.path, exc_info=True)
                return SpanExportResult.FAILURE
            self._counts["stored"] += stored
            self._counts["duplicates"] += len(records) - stored
            try:
                self._retention()
            except Exception:  # the spans are stored; only the clean-up failed
                self._counts["failures"] += 1
                self._warn("modelspan could not delete old spans from %s", self.path, exc_info=True)
        return SpanExportResult.SUCCESS if len(records) == len(spans) else SpanExportResult.FAILURE

    def _records(self, spans: Sequence[ReadableSpan]) -> tuple[list[SpanRecord], list[ReadableSpan]]:
        """The rows of ``spans``; one that cannot be turned into a row (no span id, ...) is dropped and
        counted alone, never at the cost of the batch."""
        records, readable = [], []
        for span in spans:
            try:
                records.append(span_record(span))
                readable.append(span)
            except Exception:
                self._counts["dropped"] += 1
                count_lost(span.attributes)
                self._warn("a span could not be turned into a row", exc_info=True)
        return records, readable

    def export_profiles(self, profiles: Sequence[Any]) -> int:
        """Store profiles (docs/profiles.md): every call's exact statistics, however many spans were kept.

        Raises when the store cannot be written: the caller (``modelspan.instrumentation._profiles``)
        counts and logs the failure.
        """
        if self._shutdown:
            raise RuntimeError(f"the SQLite exporter for {self.path} is shut down")
        with self._lock:
            written = self._open().write_profiles(profiles)
            self._counts["profiles"] += written
            return written

    def stats(self) -> dict[str, int]:
        """Spans exported, stored, already stored (replays), dropped; failed exports; purged spans."""
        with self._lock:
            return dict(self._counts)

    def shutdown(self) -> None:
        """Close the store; harmless twice. Later exports return ``FAILURE``."""
        self._shutdown = True
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing is buffered here: every ``export()`` commits before returning."""
        return True

    def _open(self) -> SpanWriter:
        if self._store is not None and self._pid != os.getpid():
            self._store = None  # a forked child must never use its parent's connection
        if self._store is None:
            self._store = SpanWriter(self.path)
            self._pid = os.getpid()
        return self._store

    def _retention(self) -> None:
        if self.retention_days is None or time.monotonic() < self._next_purge or self._store is None:
            return
        deleted, finished = self._store.purge(self.retention_days, max_chunks=RETENTION_CHUNKS)
        self._counts["purged"] += deleted
        # More left (the chunk budget ran out)? Carry on after the next export, else wait a while.
        self._next_purge = time.monotonic() + (RETENTION_EVERY_S if finished else 0.0)

    def _warn(self, message: str, *args: object, exc_info: bool = False) -> None:
        now = time.monotonic()
        if now - self._last_warning >= _LOG_EVERY_S:
            self._last_warning = now
            _log.warning(message, *args, exc_info=exc_info)
