"""The exporter's direct write path stores exactly what the document round trip stored.

``SQLiteSpanExporter`` builds each span's rows from the span itself (``span_record``) instead of
encoding the span as its Elasticsearch document and parsing that back (``span_to_document`` then
``SQLiteStore.load_documents``). Both paths run here on the same real spans (single rows, batches
with tuple-valued outputs, a baseline, sub-modules, application spans with routing, geo and
non-finite attributes) into two real files, and every table must hold the same rows.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan.exporters._document import span_to_document
from modelspan.exporters.sqlite import SQLiteSpanExporter, span_record
from modelspan.instrumentation import _config
from modelspan.sqlite import _schema
from modelspan.store.sqlite import SQLiteStore

TABLES = ("spans", *_schema.DERIVED_TABLES)


@pytest.fixture
def spans() -> Iterator[list[ReadableSpan]]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    baseline = _baseline()
    modelspan.configure(tracer_provider=provider, exporter=InMemorySpanExporter(), baselines=[baseline])
    try:
        @modelspan.monitor(model="m", version="1")
        def predict(rows: Any) -> Any:
            with modelspan.module("inner"):
                return 1 if isinstance(rows, dict) else ["a", "b"] * (len(rows) // 2)

        tracer = provider.get_tracer("app")
        for i in range(12):
            with tracer.start_as_current_span("POST /predict", kind=trace.SpanKind.SERVER) as span:
                span.set_attributes({"http.route": "/predict", "http.response.status_code": 500 if i % 5 else 200,
                                     "geo.location.lat": 52.5, "geo.location.lon": 13.4, "tags": ("a", "b"),
                                     "data_stream.namespace": "prod"})
                if i % 4 == 0:
                    span.set_attribute("weird", math.nan)
                    span.set_attribute("many", (1.0, math.inf))
                if i % 4 == 1:
                    span.set_attribute("raw", b"\x00*")  # JSON has no bytes: the normalised document
                rows = [{"x": float(j), "y": "a" if j % 3 else "zz"} for j in range(8)]
                predict(rows if i % 3 == 0 else {"x": float(i * 9), "y": "b" if i % 2 else "new"})
        modelspan.force_flush()
        yield list(memory.get_finished_spans())
    finally:
        modelspan.shutdown()
        _config.STATE.baselines.clear()
        provider.shutdown()


def _baseline() -> modelspan.Baseline:
    return modelspan.Baseline.from_data({"x": [float(i) for i in range(100)], "y": ["a", "b"] * 50},
                                        model="m", version="1", categorical=["y"])


def _tables(path: Path) -> dict[str, list[Any]]:
    with sqlite3.connect(path) as connection:
        return {table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
                for table in TABLES}


def test_both_write_paths_store_the_same_rows(tmp_path: Path, spans: list[ReadableSpan]) -> None:
    exporter = SQLiteSpanExporter(tmp_path / "direct.db")
    try:
        assert exporter.export(spans).name == "SUCCESS"
        assert exporter.stats()["stored"] == len(spans) and exporter.stats()["dropped"] == 0
    finally:
        exporter.shutdown()
    with SQLiteStore(tmp_path / "documents.db") as store:
        store.save_baseline(_baseline())
        assert store.load_documents([span_to_document(span) for span in spans]) == len(spans)
    direct, documents = _tables(tmp_path / "direct.db"), _tables(tmp_path / "documents.db")
    assert direct["spans"] and direct["span_values"] and direct["batch_counts"] and direct["row_checks"]
    for table in TABLES:
        assert direct[table] == documents[table], table


def test_a_record_is_the_parsed_document(spans: list[ReadableSpan]) -> None:
    from modelspan.sqlite._rows import span_row

    refused = 0
    for span in spans:
        row, attributes = span_record(span)
        document = span_to_document(span)
        assert row == span_row(document)
        assert {k: list(v) if isinstance(v, tuple) else v for k, v in attributes.items()} == \
            document.get("attributes", {})
        refused += "weird" in attributes or "raw" in attributes
    assert refused == 6  # the normalised fallback was taken (NaN written as null, bytes as the document has them)
