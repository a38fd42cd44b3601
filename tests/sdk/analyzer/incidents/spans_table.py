"""Spans into the embedded store's ``spans`` table, for the incident tests.

Uses the store helper's ``SQLiteSpanExporter`` when it exists; until then a small exporter that
writes ``span_to_document`` output and the extracted columns of ``modelspan/sqlite/_schema.py``.
"""

from __future__ import annotations

import importlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from modelspan import semconv
from modelspan.exporters._document import span_to_document
from modelspan.sqlite import _schema


class StoreView:
    """What the incident code needs of a SQLite store: ``connection`` (read access)."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, timeout=30, check_same_thread=False)

    def close(self) -> None:
        self.connection.close()


def open_store(path: Path) -> Any:
    """The store helper's ``SQLiteStore`` when it exists, else a read-only view of the table."""
    try:
        return importlib.import_module("modelspan.store.sqlite").SQLiteStore(path)
    except (ImportError, AttributeError):
        create(path)
        return StoreView(path)


def load(store: Any, path: Path, documents: Sequence[dict[str, Any]]) -> None:
    """Documents into the store: ``load_documents`` of the real store, else straight into ``spans``."""
    if hasattr(store, "load_documents"):
        store.load_documents(documents)
    else:
        insert(path, documents)


def exporter(path: Path) -> SpanExporter:
    try:
        built: SpanExporter = importlib.import_module("modelspan.exporters.sqlite").SQLiteSpanExporter(path=str(path))
        return built
    except (ImportError, AttributeError):
        return TableExporter(path)


def create(path: Path) -> None:
    connection = sqlite3.connect(path, timeout=30)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        with connection:
            connection.execute(_schema.SPANS_TABLE)
            for statement in _schema.SPANS_INDEXES:
                connection.execute(statement)
    finally:
        connection.close()


def row(document: dict[str, Any]) -> tuple[Any, ...]:
    attributes = document.get("attributes", {})
    status = attributes.get("http.response.status_code", attributes.get("http.status_code"))
    seconds = str(document["@timestamp"]).split(".")
    start_ns = int(seconds[0]) * 1_000_000 + (int(seconds[1]) if len(seconds) > 1 else 0)
    return (document["span_id"], document["trace_id"], document.get("parent_span_id"), document["name"],
            document["kind"], start_ns, document["duration"], document["status"].get("code") or "Unset",
            document.get("resource", {}).get("attributes", {}).get("service.name"),
            document["data_stream"]["dataset"], attributes.get(semconv.SPAN_KIND),
            attributes.get(semconv.MODEL_NAME), attributes.get(semconv.MODEL_VERSION),
            attributes.get(semconv.MODULE_NAME), attributes.get(semconv.PREDICTION_ID),
            attributes.get("http.route"), status, json.dumps(document))


def insert(path: Path, documents: Sequence[dict[str, Any]]) -> None:
    create(path)
    connection = sqlite3.connect(path, timeout=30)
    try:
        with connection:
            connection.executemany(f"INSERT OR REPLACE INTO spans VALUES ({','.join('?' * 18)})",
                                   [row(d) for d in documents])
    finally:
        connection.close()


class TableExporter(SpanExporter):
    """Writes every span (application, model, module) as a row of ``spans``."""

    def __init__(self, path: Path) -> None:
        create(path)
        self.lock = threading.Lock()
        self.connection = sqlite3.connect(path, timeout=30, check_same_thread=False)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self.lock, self.connection:
            self.connection.executemany(f"INSERT OR REPLACE INTO spans VALUES ({','.join('?' * 18)})",
                                        [row(span_to_document(span)) for span in spans])
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self.lock:
            self.connection.close()
