"""Counted loss (issue 13, point 5): under each fault found in probes, every span is stored once,
dead-lettered with a reason, or counted as dropped, checked by span id against the loopback stand-in.

The spans come from a real ``TracerProvider`` (``make_spans``, or ``modelspan.configure`` with a
``BatchSpanProcessor``), the faults are scripted per bulk request (:class:`Fault`), and a full disk
is a write that fails with ``ENOSPC`` after the file was created, as on a real full disk.
"""

from __future__ import annotations

import builtins
import errno
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

import modelspan
from modelspan.exporters import _spool
from modelspan.exporters._retry import Backoff
from modelspan.exporters.elasticsearch import ElasticsearchSpanExporter
from modelspan.instrumentation import _config
from tests.exporters.bulk_server import BulkServer, Fault
from tests.exporters.test_elasticsearch import POISON, assert_each_span_once, make_spans, settle, span_id

LOGGER = "modelspan.exporters"


@pytest.fixture
def server() -> Iterator[BulkServer]:
    with BulkServer() as fake:
        yield fake


def exporter_at(server: BulkServer, tmp_path: Path, dead_letter_path: Path | None = None,
                **options: Any) -> ElasticsearchSpanExporter:
    return ElasticsearchSpanExporter(server.url, spool_dir=tmp_path / "spool", timeout=2.0,
                                     dead_letter_path=dead_letter_path or tmp_path / "dead.jsonl",
                                     backoff=Backoff(initial=0.01, maximum=0.05), **options)


def assert_stored_or_dropped(server: BulkServer, exporter: ElasticsearchSpanExporter, spans: list[ReadableSpan],
                             dropped: set[str]) -> None:
    """Every span stored exactly once except ``dropped``, which are counted as dropped and stored nowhere."""
    ids = {span_id(span) for span in spans}
    stored = set(server.stored)
    assert stored.isdisjoint(dropped)
    assert stored | dropped == ids, f"neither stored nor counted: {sorted(ids - stored - dropped)[:5]}"
    stats = exporter.stats()
    assert stats["stored"] == len(stored) and stats["dropped"] == len(dropped)
    assert stats["dead_lettered"] == 0 and stats["spool_documents"] == 0


def warnings_about(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == LOGGER and text in record.getMessage()]


# --- a. an unwritable dead-letter path -------------------------------------------------------------

def test_an_unwritable_dead_letter_file_counts_its_documents_and_the_429s_are_still_retried(
        server: BulkServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spans = make_spans(40, poison_every=5)
    poisoned = {span_id(span) for span in spans if (span.attributes or {}).get(POISON)}
    throttled = {span_id(span) for span in spans[1::3]} - poisoned
    blocker = tmp_path / "a-file"
    blocker.write_text("the dead-letter path runs through this file, so it can never be created\n")
    exporter = exporter_at(server, tmp_path, dead_letter_path=blocker / "dead.jsonl")

    def verdict(identifier: str, document: dict[str, Any]) -> int | None:
        if POISON in document.get("attributes", {}):
            return 400
        return 429 if identifier in throttled else None

    server.script(Fault(item_status=verdict))
    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            assert exporter.export(spans) is SpanExportResult.SUCCESS
            settle(exporter)
        assert len(poisoned) == 8 and len(throttled) > 5
        assert_stored_or_dropped(server, exporter, spans, poisoned)
        assert exporter.stats()["retries"] == len(throttled) and server.requests == 2
        (warning,) = warnings_about(caplog, "dead-letter file refused")
        assert "cannot be written" in warning.getMessage() and "document_parsing_exception" in warning.getMessage()
        assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    finally:
        exporter.shutdown()


def test_an_unwritable_dead_letter_file_does_not_cost_the_encodable_spans_of_the_batch(
        server: BulkServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelspan.exporters import _bulk

    spans = make_spans(10)
    refused = span_id(spans[3])
    real = _bulk.route_span

    def route(span: ReadableSpan, *, normalise: bool) -> Any:
        if span_id(span) == refused:
            raise ValueError("a span no encoder can read")
        return real(span, normalise=normalise)

    monkeypatch.setattr(_bulk, "route_span", route)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    exporter = exporter_at(server, tmp_path, dead_letter_path=blocker / "dead.jsonl")
    try:
        assert exporter.export(spans) is SpanExportResult.FAILURE  # one document could not be kept
        settle(exporter)
        assert exporter.stats()["unencodable"] == 1
        assert_stored_or_dropped(server, exporter, spans, {refused})
    finally:
        exporter.shutdown()


# --- b. a full spool disk on the sender thread -----------------------------------------------------

class _FullDisk:
    """``open()`` for the spool module: the file is created (zero bytes), then every write fails."""

    def __init__(self, path: Any, mode: str) -> None:
        self.file = builtins.open(path, mode)  # noqa: SIM115  # closed by __exit__, like open()'s own file

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_spool_disk_drops_each_batch_counted_once_with_one_log_line_and_no_tmp_files(
        server: BulkServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    exporter = exporter_at(server, tmp_path)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.losses")
    server.stop()
    monkeypatch.setattr(_spool, "open", _FullDisk, raising=False)
    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            for number in range(20):  # the sender thread finds the server down and spills: the disk is full
                tracer.start_span(f"lost-{number}").end()
            assert provider.force_flush()
            assert exporter.force_flush(5000) is False
            for number in range(20, 30):  # now down: export() spills on the processor's thread
                tracer.start_span(f"lost-{number}").end()
            assert provider.force_flush()
            assert exporter.force_flush(5000) is False
        assert exporter.stats()["dropped"] == 30
        assert not list((tmp_path / "spool").iterdir()), "a partial spool file was left behind"
        (warning,) = warnings_about(caplog, "cannot be written")
        assert "No space left on device" in warning.getMessage() and not warning.exc_info
        assert not [record for record in caplog.records if record.levelno >= logging.ERROR]

        monkeypatch.undo()  # space again, and the server is back
        server.start()
        kept = [f"kept-{number}" for number in range(10)]
        for name in kept:
            tracer.start_span(name).end()
        assert provider.force_flush()
        settle(exporter)
        assert exporter.force_flush(5000) is True
    finally:
        provider.shutdown()
    stored = {document["name"] for _, document in server.stored.values()}
    assert stored == set(kept)
    stats = exporter.stats()
    assert stats["stored"] == 10 and stats["dropped"] == 30 and stats["exported"] == 40


def test_a_spool_file_that_cannot_be_rewritten_after_a_partial_replay_is_kept_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelspan.exporters._bulk import encode_spans

    spool = _spool.Spool(tmp_path / "spool", 1 << 20)
    items = encode_spans(make_spans(6)).items
    assert spool.append(items)
    segment = spool.claim_oldest()
    assert segment is not None
    monkeypatch.setattr(_spool, "open", _FullDisk, raising=False)
    spool.release(segment, segment.items[3:])  # three stored, three to send again: the rewrite fails
    monkeypatch.undo()
    again = spool.claim_oldest()
    assert again is not None and [item.id for item in again.items] == [item.id for item in items]
    assert [path.name for path in (tmp_path / "spool").iterdir()] == [again.path.name]  # no .tmp file left


# --- c. force_flush waits for the exporter's delivery ----------------------------------------------

def _monitored(exporter: ElasticsearchSpanExporter) -> tuple[Any, list[str]]:
    """A decorated model exporting through ``exporter``; the ids of the spans it ends."""
    from tests.exporters.test_elasticsearch_outage import SpanIds

    ids = SpanIds()
    provider = TracerProvider()
    provider.add_span_processor(ids)
    modelspan.configure(tracer_provider=provider, exporter=exporter, environment="test")

    @modelspan.monitor(model="flush", version="1")
    def predict(row: dict[str, float]) -> float:
        return row["x"] * 2

    return predict, ids.ids


def test_force_flush_returns_after_elasticsearch_has_stored_the_spans(server: BulkServer, tmp_path: Path) -> None:
    exporter = exporter_at(server, tmp_path)
    server.script(Fault(delay=0.5))  # stored at once, answered later: only the answer counts as delivered
    try:
        predict, ids = _monitored(exporter)
        for number in range(25):
            predict({"x": float(number)})
        assert modelspan.force_flush() is True
        assert exporter.stats()["stored"] == 25  # counted from the answer, so the answer was waited for
        assert set(server.stored) == set(ids) and len(ids) == 25
    finally:
        modelspan.shutdown()
        _config.STATE.baselines.clear()
        exporter.shutdown()


def test_force_flush_returns_false_while_elasticsearch_cannot_take_the_spans(server: BulkServer,
                                                                               tmp_path: Path) -> None:
    exporter = exporter_at(server, tmp_path)
    server.stop()
    try:
        predict, ids = _monitored(exporter)
        for number in range(25):
            predict({"x": float(number)})
        assert modelspan.force_flush(5000) is False  # on disk, not in Elasticsearch
        # the 25 spans and the profile documents of the minute(s) the calls fell in: per minute the
        # model's and the sub-module's operations, the model's features (x, _output), path and quality
        assert 25 < exporter.stats()["spool_documents"] <= 25 + 2 * 6 and not server.stored
        server.start()
        assert modelspan.force_flush(10_000) is True
        spans = {key for key, (index, _) in server.stored.items() if index.startswith("traces-")}
        profiles = {key for key, (index, _) in server.stored.items() if index.startswith("metrics-modelspan.profile")}
        assert spans == set(ids) and 1 <= len(profiles) <= 2 * 6 and len(server.stored) == 25 + len(profiles)
        assert exporter.stats()["stored"] == len(server.stored)
    finally:
        modelspan.shutdown()
        _config.STATE.baselines.clear()
        exporter.shutdown()


# --- d. a 200 whose JSON is cut short --------------------------------------------------------------

def test_a_200_with_truncated_json_is_sent_again_and_stores_every_span_once(server: BulkServer,
                                                                             tmp_path: Path) -> None:
    spans = make_spans(30)
    exporter = exporter_at(server, tmp_path)
    server.script(Fault(truncate=True))  # stored, then an answer cut in half
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        settle(exporter)
        assert_each_span_once(server, exporter, spans)
        stats = exporter.stats()
        assert stats["duplicates"] == 30 and stats["retries"] == 30 and stats["request_errors"] == 1
        assert server.requests == 2
    finally:
        exporter.shutdown()


def test_a_200_with_truncated_json_dead_letters_only_the_documents_without_an_id(server: BulkServer,
                                                                                  tmp_path: Path) -> None:
    from modelspan.exporters._bulk import Item
    from modelspan.exporters._retry import Deadline

    items = [Item("", "logs-generic.otel-default",
                  b'{"create":{"_index":"logs-generic.otel-default"}}\n{"@timestamp":"2026-12-03T00:00:00Z"}\n'),
             Item("abc", "logs-generic.otel-default",
                  b'{"create":{"_index":"logs-generic.otel-default","_id":"abc"}}\n'
                  b'{"@timestamp":"2026-12-03T00:00:00Z"}\n')]
    exporter = exporter_at(server, tmp_path)
    server.script(Fault(truncate=True))
    try:
        import threading

        result = exporter._delivery.send(items, Deadline(5.0, threading.Event()))
        assert result.pending == [] and "abc" in server.stored
        (letter,) = exporter.dead_letters.read()
        assert letter["status"] == 200 and "no _id" in str(letter["reason"])
        stats = exporter.stats()
        assert stats["stored"] == 1 and stats["dead_lettered"] == 1 and stats["dropped"] == 0
    finally:
        exporter.shutdown()


# --- what an exporter drops reaches modelspan.stats() and the profiles ------------------------------

def test_spans_an_exporter_drops_are_counted_against_their_model_in_stats_and_profiles(
        server: BulkServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelspan.instrumentation import _profiles

    exporter = exporter_at(server, tmp_path)
    server.stop()
    monkeypatch.setattr(_spool, "open", _FullDisk, raising=False)
    profiles: list[_profiles.Profile] = []
    before = modelspan.stats()
    try:
        modelspan.configure(tracer_provider=TracerProvider(), exporter=exporter, environment="test")
        _profiles.set_sinks([profiles.extend])  # the Elasticsearch exporter takes no profiles yet

        @modelspan.monitor(model="lost", version="2")
        def predict(row: dict[str, float]) -> float:
            with modelspan.module("score"):
                return row["x"] * 2

        for number in range(30):
            predict({"x": float(number)})
        assert modelspan.force_flush(5000) is False  # nothing reached Elasticsearch
    finally:
        modelspan.shutdown()
        _profiles.set_sinks(())
        _config.STATE.baselines.clear()
    after = modelspan.stats()
    assert exporter.stats()["dropped"] == 60  # a model span and a module span per call
    assert after["spans_dropped"] - before["spans_dropped"] == 60
    assert after["calls"] - before["calls"] == 30
    assert after["calls_without_span"] - before["calls_without_span"] == 30
    dropped = {profile.module: 0 for profile in profiles if profile.model == "lost"}
    for profile in profiles:
        if profile.model == "lost":
            dropped[profile.module] += profile.dropped
    assert dropped == {"": 30, "score": 30}
