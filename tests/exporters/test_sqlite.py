"""SQLiteSpanExporter with real providers and real files: every span stored once, never a raise."""

from __future__ import annotations

import datetime as _dt
import json
import multiprocessing
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan import semconv
from modelspan.exporters._document import span_to_document
from modelspan.exporters.sqlite import SQLiteSpanExporter
from modelspan.instrumentation import _config
from modelspan.store import Window
from modelspan.store.sqlite import SQLiteStore


@pytest.fixture
def provider() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield provider, memory
    provider.shutdown()


def _rows(path: Path, sql: str) -> list[Any]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(sql).fetchall()


def _served(provider: TracerProvider, exporter: SpanExporter, calls: int = 5) -> modelspan.Baseline:
    baseline = modelspan.Baseline.from_data({"x": [float(i) for i in range(100)], "y": ["a", "b"] * 50},
                                            model="m", version="1", categorical=["y"])
    # A baseline given to configure() is known to the process: the exporter saves it to the store.
    modelspan.configure(tracer_provider=provider, exporter=exporter, baselines=[baseline])
    try:
        @modelspan.monitor(model="m", version="1")
        def predict(row: dict[str, Any]) -> int:
            with modelspan.module("inner"):
                return 1

        tracer = provider.get_tracer("app")
        for i in range(calls):
            with tracer.start_as_current_span("POST /predict", kind=trace.SpanKind.SERVER):
                predict({"x": float(i * 20), "y": "a"})
        modelspan.force_flush()
    finally:
        modelspan.shutdown()
        _config.STATE.baselines.clear()
    return baseline


def test_every_span_is_stored_as_the_collector_document(tmp_path: Path, provider: Any) -> None:
    tracer_provider, memory = provider
    exporter = SQLiteSpanExporter(tmp_path / "store.db")
    baseline = _served(tracer_provider, exporter)
    spans = memory.get_finished_spans()
    assert {s.name for s in spans} >= {"POST /predict"}
    assert len(spans) == 15  # model, module and application span per call
    stored = dict(_rows(tmp_path / "store.db", "SELECT span_id, document FROM spans"))
    assert len(stored) == len(spans)
    for span in spans:
        document = span_to_document(span)
        assert json.loads(stored[document["span_id"]]) == document
    kinds = _rows(tmp_path / "store.db", "SELECT ml_kind, count(*) FROM spans GROUP BY 1 ORDER BY 1")
    assert kinds == [(None, 5), ("model", 5), ("module", 5)]
    assert exporter.stats()["stored"] == 15 and exporter.stats()["dropped"] == 0
    # The baseline the SDK ran with is saved, and single-row values were binned on its edges.
    with SQLiteStore(tmp_path / "store.db") as store:
        assert store.load_baseline("m", "1") is not None
        assert store.load_baseline("m", "1").id == baseline.id  # type: ignore[union-attr]
    # five calls, x = 0, 20, 40, 60, 80: each in its own decile of the baseline's 0..99
    assert _rows(tmp_path / "store.db", _BINNED) == [(5, 5, 200.0)]
    exporter.shutdown()


_BINNED = "SELECT sum(n), count(DISTINCT bin), sum(total) FROM value_bins WHERE binning > 0"


def test_a_baseline_given_to_the_decorator_is_saved_and_bins_values(tmp_path: Path, provider: Any) -> None:
    tracer_provider, _ = provider
    baseline = modelspan.Baseline.from_data({"x": [float(i) for i in range(100)]}, model="d", version="2")
    exporter = SQLiteSpanExporter(tmp_path / "store.db")
    modelspan.configure(tracer_provider=tracer_provider, exporter=exporter)
    try:
        @modelspan.monitor(model="d", version="2", baseline=baseline)
        def predict(row: dict[str, Any]) -> float:
            return 0.5

        for i in range(4):
            predict({"x": float(i * 30)})
        modelspan.force_flush()
    finally:
        modelspan.shutdown()
        _config.STATE.decorator_baselines.clear()
    with SQLiteStore(tmp_path / "store.db") as store:
        saved = store.load_baseline("d", "2")
    assert saved is not None and saved.id == baseline.id
    # x = 0, 30, 60, 90 in four deciles, and the four outputs of 0.5 in one bin of the output's edges
    assert _rows(tmp_path / "store.db", _BINNED) == [(8, 5, 180.0 + 4 * 0.5)]
    exporter.shutdown()


def test_replayed_spans_are_not_duplicated(tmp_path: Path, provider: Any) -> None:
    tracer_provider, memory = provider
    _served(tracer_provider, InMemorySpanExporter(), calls=3)
    spans = memory.get_finished_spans()
    exporter = SQLiteSpanExporter(tmp_path / "store.db")
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert exporter.export([*spans, *spans]) == SpanExportResult.SUCCESS
    assert _rows(tmp_path / "store.db", "SELECT count(*) FROM spans")[0][0] == len(spans)
    assert _rows(tmp_path / "store.db", "SELECT count(*) FROM calls")[0][0] == 6
    stats = exporter.stats()
    assert (stats["stored"], stats["duplicates"]) == (len(spans), 3 * len(spans))
    exporter.shutdown()


def test_failures_return_failure_and_are_counted(tmp_path: Path, provider: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    tracer_provider, memory = provider
    _served(tracer_provider, InMemorySpanExporter(), calls=1)
    spans = memory.get_finished_spans()
    (tmp_path / "a-directory").mkdir()
    broken = SQLiteSpanExporter(tmp_path / "a-directory")
    assert broken.export(spans) == SpanExportResult.FAILURE
    assert broken.stats()["dropped"] == len(spans) and broken.stats()["failures"] == 1
    assert "could not write" in caplog.text
    exporter = SQLiteSpanExporter(tmp_path / "store.db")
    exporter.shutdown()
    exporter.shutdown()
    assert exporter.export(spans) == SpanExportResult.FAILURE
    assert exporter.force_flush() is True
    with pytest.raises(ValueError, match="retention_days"):
        SQLiteSpanExporter(tmp_path / "x.db", retention_days=0)


def test_store_path_from_environment_and_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODELSPAN_STORE", raising=False)
    assert SQLiteSpanExporter().path == Path("modelspan.db")
    monkeypatch.setenv("MODELSPAN_STORE", str(tmp_path / "env.db"))
    assert SQLiteSpanExporter().path == tmp_path / "env.db"
    monkeypatch.setenv("MODELSPAN_RETENTION_DAYS", "nonsense")
    assert SQLiteSpanExporter().retention_days is None
    monkeypatch.setenv("MODELSPAN_RETENTION_DAYS", "7")
    assert SQLiteSpanExporter().retention_days == 7.0


def test_retention_deletes_old_spans_and_their_rows(tmp_path: Path, provider: Any) -> None:
    tracer_provider, _ = provider
    exporter = SQLiteSpanExporter(tmp_path / "store.db", retention_days=1)
    tracer = tracer_provider.get_tracer("app")
    old = time.time_ns() - 3 * 86_400 * 10**9
    spans = []
    for start in (old, old + 10**9, time.time_ns()):
        span = tracer.start_span("predict m", start_time=start, attributes={
            semconv.SPAN_KIND: semconv.SPAN_KIND_MODEL, semconv.MODEL_NAME: "m", semconv.MODEL_VERSION: "1",
            semconv.feature_value("x"): 1.5, semconv.feature_value("y"): "a"})
        span.end(end_time=start + 10**6)
        spans.append(span)
    assert exporter.export(spans) == SpanExportResult.SUCCESS  # purges after writing
    assert _rows(tmp_path / "store.db", "SELECT count(*) FROM spans")[0][0] == 1
    for table in ("calls", "span_values", "value_bins", "value_categories"):
        assert _rows(tmp_path / "store.db", f"SELECT count(*) FROM {table}")[0][0] in (1, 2), table
    assert exporter.stats()["purged"] == 2
    exporter.shutdown()


def _worker(path: str, worker: int, calls: int) -> None:
    provider = TracerProvider()
    exporter = SQLiteSpanExporter(path)
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=50, schedule_delay_millis=10))
    tracer = provider.get_tracer("worker")
    for i in range(calls):
        with tracer.start_as_current_span("predict m", attributes={
                semconv.SPAN_KIND: semconv.SPAN_KIND_MODEL, semconv.MODEL_NAME: "m",
                semconv.MODEL_VERSION: str(worker), semconv.feature_value("x"): float(i)}):
            pass
    provider.shutdown()
    assert exporter.stats()["dropped"] == 0, exporter.stats()


@pytest.mark.slow
def test_several_processes_write_while_the_analyzer_reads(tmp_path: Path) -> None:
    path = str(tmp_path / "store.db")
    # No file yet: the workers and the reader race to create and migrate it, too.
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker, args=(path, n, 400)) for n in range(3)]
    for process in workers:
        process.start()
    now = _dt.datetime.now(_dt.timezone.utc)
    window = Window(now - _dt.timedelta(hours=1), now + _dt.timedelta(hours=1))
    reads = 0
    with SQLiteStore(path) as store:
        while any(p.is_alive() for p in workers):
            for model, version, _ in store.models(window):  # never blocked, never an error
                store.model_stats([store.question(model, version, window)])
            reads += 1
        for process in workers:
            process.join(timeout=60)
            assert process.exitcode == 0
        assert sorted(store.models(window)) == [("m", "0", 400), ("m", "1", 400), ("m", "2", 400)]
        stats = store.model_stats([store.question("m", "1", window)])[0]
        assert stats.operations.calls == 400
    assert reads > 0
