"""Fault tests: against a scripted loopback ``_bulk`` server, every span is stored exactly once or
dead-lettered with its reason, counted by span id."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._configuration import _get_exporter_names, _import_exporters
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import modelspan
from modelspan import semconv
from modelspan.exporters._retry import Backoff
from modelspan.exporters.elasticsearch import ElasticsearchSpanExporter
from modelspan.instrumentation import _config
from tests.contract.tsc import Case, typecheck
from tests.exporters.bulk_server import BulkServer, Fault
from tests.exporters.network_threads import network_threads

POISON = "poison"  # spans with this attribute hit a (scripted) mapping error


def make_spans(count: int, poison_every: int = 0) -> list[ReadableSpan]:
    """``count`` spans: model spans (dataset modelspan) and application server spans."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.exporters")
    try:
        for number in range(count):
            attributes: dict[str, Any] = {"n": number}
            if number % 2:
                attributes[semconv.DATA_STREAM_DATASET] = semconv.MODELSPAN_DATASET
            if poison_every and number % poison_every == 0:
                attributes[POISON] = True
            kind = SpanKind.INTERNAL if number % 2 else SpanKind.SERVER
            tracer.start_span(f"span-{number}", kind=kind, attributes=attributes).end()
    finally:
        provider.shutdown()
    return list(exporter.get_finished_spans())


def span_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}{span.context.span_id:016x}"


def poisoned(identifier: str, document: dict[str, Any]) -> int | None:
    return 400 if POISON in document.get("attributes", {}) else None


@pytest.fixture
def server() -> Iterator[BulkServer]:
    with BulkServer() as fake:
        yield fake


def exporter_for(server: BulkServer, tmp_path: Path, **options: Any) -> ElasticsearchSpanExporter:
    options.setdefault("timeout", 2.0)
    return ElasticsearchSpanExporter(server.url, spool_dir=tmp_path / "spool",
                                     dead_letter_path=tmp_path / "dead.jsonl",
                                     backoff=Backoff(initial=0.01, maximum=0.05), **options)


def settle(exporter: ElasticsearchSpanExporter, seconds: float = 10.0) -> None:
    """Wait (bounded) until the spool is replayed."""
    end = time.monotonic() + seconds
    while not exporter.force_flush(500) and time.monotonic() < end:
        time.sleep(0.05)


def assert_each_span_once(server: BulkServer, exporter: ElasticsearchSpanExporter,
                          spans: list[ReadableSpan], dead: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Every span stored exactly once, or dead-lettered with a reason; never both, never neither."""
    ids = [span_id(span) for span in spans]
    letters = exporter.dead_letters.read()
    lettered = [str(letter["id"]) for letter in letters]
    assert len(lettered) == len(set(lettered)), "a span was dead-lettered twice"
    assert set(lettered) == dead
    assert all(letter["reason"] and letter["status"] for letter in letters)
    stored = set(server.stored)
    assert stored.isdisjoint(dead)
    assert stored | dead == set(ids), f"missing: {sorted(set(ids) - stored - dead)[:5]}"
    stats = exporter.stats()
    assert stats["stored"] == len(stored) and stats["dead_lettered"] == len(dead) and stats["dropped"] == 0
    assert stats["spool_documents"] == 0


FAULTS = {
    "429 with Retry-After": [Fault(status=429, retry_after="0.05"), Fault(status=429, retry_after="0")],
    "503": [Fault(status=503), Fault(status=503)],
    "502 and 504": [Fault(status=502), Fault(status=504)],
    "partial item 429s": [Fault(item_status=lambda i, d: 429 if int(i[-1], 16) % 2 else None)],
    "slow answer": [Fault(delay=0.3)],
    "timeout after storing": [Fault(delay=2.5)],
    "connection dropped after storing": [Fault(drop=True)],
}


@pytest.mark.parametrize("faults", list(FAULTS.values()), ids=list(FAULTS))
def test_retryable_faults_store_every_span_exactly_once(server: BulkServer, tmp_path: Path,
                                                       faults: list[Fault]) -> None:
    spans = make_spans(40)
    exporter = exporter_for(server, tmp_path)
    server.script(*faults)
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        settle(exporter)
        assert_each_span_once(server, exporter, spans)
        assert exporter.stats()["retries"] > 0 or faults[0].delay == 0.3
    finally:
        exporter.shutdown()


def test_a_retry_of_a_stored_batch_counts_409_as_stored(server: BulkServer, tmp_path: Path) -> None:
    spans = make_spans(10)
    exporter = exporter_for(server, tmp_path)
    server.script(Fault(drop=True))
    try:
        exporter.export(spans)
        settle(exporter)
        assert exporter.stats()["duplicates"] == 10
        assert_each_span_once(server, exporter, spans)
    finally:
        exporter.shutdown()


def test_mapping_errors_go_to_the_dead_letter_file_with_reason(server: BulkServer, tmp_path: Path) -> None:
    spans = make_spans(30, poison_every=7)
    exporter = exporter_for(server, tmp_path)
    server.default = Fault(item_status=poisoned)
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        settle(exporter)
        dead = {span_id(span) for span in spans if (span.attributes or {}).get(POISON)}
        assert len(dead) == 5
        assert_each_span_once(server, exporter, spans, dead)
        letter = exporter.dead_letters.read()[0]
        assert letter["status"] == 400 and "document_parsing_exception" in str(letter["reason"])
        assert letter["document"]["attributes"][POISON] is True  # type: ignore[index]
        assert server.requests == 1  # never retried
    finally:
        exporter.shutdown()


def test_a_rejected_request_dead_letters_its_documents(server: BulkServer, tmp_path: Path) -> None:
    spans = make_spans(6)
    exporter = exporter_for(server, tmp_path)
    server.script(Fault(status=400))
    try:
        exporter.export(spans)
        settle(exporter)
        assert_each_span_once(server, exporter, spans, {span_id(span) for span in spans})
    finally:
        exporter.shutdown()


def test_refused_connections_spool_and_replay_when_the_server_returns(server: BulkServer, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    spans = make_spans(50)
    exporter = exporter_for(server, tmp_path)
    server.stop()
    try:
        with network_threads(monkeypatch) as network:
            for start in range(0, 50, 10):
                assert exporter.export(spans[start:start + 10]) is SpanExportResult.SUCCESS
        assert not network.this_thread  # export() never touches the network itself
        assert exporter.force_flush(2000) is False  # down: everything went to the spool
        assert exporter.down and exporter.stats()["spool_documents"] == 50 and not server.stored
        server.start()
        settle(exporter)
        assert_each_span_once(server, exporter, spans)
        assert exporter.stats()["replayed"] == 50
    finally:
        exporter.shutdown()


def test_the_spool_survives_a_restart(server: BulkServer, tmp_path: Path) -> None:
    spans = make_spans(20)
    server.stop()
    first = exporter_for(server, tmp_path)
    first.export(spans)
    first.shutdown()
    assert first.stats()["spooled"] == 20
    server.start()
    second = exporter_for(server, tmp_path)
    try:
        settle(second)
        assert set(server.stored) == {span_id(span) for span in spans}
    finally:
        second.shutdown()


def test_a_full_spool_drops_and_counts(server: BulkServer, tmp_path: Path) -> None:
    spans = make_spans(40)
    exporter = exporter_for(server, tmp_path, spool_max_bytes=4000)
    server.stop()
    try:
        exporter.export(spans[:5])
        exporter.force_flush(2000)  # finds the server down
        results = [exporter.export(spans[start:start + 5]) for start in range(5, 40, 5)]
        stats = exporter.stats()
        assert SpanExportResult.FAILURE in results
        assert stats["dropped"] > 0 and stats["spooled"] + stats["dropped"] == 40
        assert stats["spool_bytes"] <= 4000
    finally:
        exporter.shutdown()


def test_unauthorised_keeps_documents_in_the_spool(server: BulkServer, tmp_path: Path) -> None:
    spans = make_spans(5)
    exporter = exporter_for(server, tmp_path, timeout=0.3)
    server.default = Fault(status=401)
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        assert exporter.force_flush(3000) is False
        assert exporter.stats()["spooled"] == 5 and not exporter.dead_letters.read()
        server.default = Fault()
        settle(exporter)
        assert_each_span_once(server, exporter, spans)
    finally:
        exporter.shutdown()


def test_export_after_shutdown_fails_and_shutdown_twice_is_harmless(server: BulkServer, tmp_path: Path) -> None:
    exporter = exporter_for(server, tmp_path)
    exporter.shutdown()
    exporter.shutdown()
    assert exporter.export(make_spans(1)) is SpanExportResult.FAILURE


def test_export_never_waits_and_shutdown_interrupts_the_backoff(server: BulkServer, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = ElasticsearchSpanExporter(server.url, spool_dir=tmp_path / "s", timeout=1.0,
                                         backoff=Backoff(initial=3600.0, maximum=3600.0))
    server.default = Fault(status=503)
    with network_threads(monkeypatch) as network:
        for _ in range(20):  # far more batches than the in-memory queue holds
            assert exporter.export(make_spans(3)) is SpanExportResult.SUCCESS
        assert not network.this_thread
    # The sender now sits in a backoff wait of 30-60 minutes; only an interrupted wait lets shutdown
    # return. The join's limit is a watchdog (so a regression fails instead of hanging), not a timing.
    closer = threading.Thread(target=exporter.shutdown, daemon=True)
    closer.start()
    closer.join(300)
    assert not closer.is_alive(), "shutdown waited out the backoff"
    stats = exporter.stats()
    assert stats["spooled"] == 60 and stats["dropped"] == 0  # nothing lost: all on disk


def test_requests_and_answers_match_the_official_types(tmp_path: Path) -> None:
    spans = make_spans(12, poison_every=5)
    with BulkServer(record=True) as server:
        exporter = exporter_for(server, tmp_path)
        server.script(Fault(item_status=lambda i, d: 400 if POISON in d.get("attributes", {}) else
                            (429 if int(i[-1], 16) % 3 == 0 else None)))
        try:
            exporter.export(spans)
            settle(exporter)
        finally:
            exporter.shutdown()
    cases = [Case(f"action {n}", "BulkCreate", action) for n, action in enumerate(server.actions)]
    cases += [Case(f"response {n}", "estypes.BulkResponse", response) for n, response in enumerate(server.responses)]
    typecheck(cases)


def test_auth_and_encoding_headers_reach_the_server(tmp_path: Path) -> None:
    with BulkServer(record=True) as server:
        exporter = exporter_for(server, tmp_path, api_key="id:secret")
        exporter.export(make_spans(1))
        exporter.shutdown()
    (headers,) = server.headers
    assert headers["Authorization"] == "ApiKey aWQ6c2VjcmV0"
    assert headers["Content-Encoding"] == "gzip" and headers["Content-Type"] == "application/x-ndjson"


def test_otel_traces_exporter_env_selects_it_through_the_sdk(server: BulkServer, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "elasticsearch")
    monkeypatch.setenv("ELASTICSEARCH_URL", server.url)
    monkeypatch.setenv("MODELSPAN_SPOOL_DIR", str(tmp_path / "spool"))
    names = _get_exporter_names("traces")
    classes, _, _ = _import_exporters(names, [], [])
    assert classes == {"elasticsearch": ElasticsearchSpanExporter}
    # what the SDK's _init_tracing does, without replacing the global provider
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(classes["elasticsearch"]()))
    with provider.get_tracer("t").start_as_current_span("x"):
        pass
    provider.shutdown()
    assert len(server.stored) == 1


def test_a_decorated_model_exports_through_configure(server: BulkServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELASTICSEARCH_URL", server.url)
    monkeypatch.setenv("MODELSPAN_SPOOL_DIR", str(tmp_path / "spool"))
    provider = TracerProvider()
    modelspan.configure(tracer_provider=provider, exporter="elasticsearch", environment="prod")
    try:
        @modelspan.monitor(model="churn", version="3")
        def predict(row: dict[str, float]) -> float:
            with modelspan.module("scorer"):
                return row["x"] * 2

        for value in range(5):
            predict({"x": float(value)})
        modelspan.force_flush()
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()
    indexes = {index for index, _ in server.stored.values()}
    # spans, and the profiles of every call in the same namespace (docs/profiles.md)
    assert indexes == {"traces-modelspan.otel-prod", "metrics-modelspan.profile-prod"}
    spans = {key: doc for key, (index, doc) in server.stored.items() if index.startswith("traces-")}
    profiles = [doc for index, doc in server.stored.values()
                if index.startswith("metrics-") and doc["attributes"]["ml.profile.kind"] == "operations"]
    assert len(spans) == 10
    calls = {doc["attributes"]["ml.module.name"]: 0 for doc in profiles}
    for doc in profiles:
        calls[doc["attributes"]["ml.module.name"]] += doc["metrics"]["ml.profile.calls"]
    assert calls == {"": 5, "scorer": 5}
    model = [doc for doc in spans.values() if doc["attributes"].get(semconv.SPAN_KIND) == "model"]
    assert len(model) == 5 and json.dumps(model[0])


AUTO_CONFIGURED_APP = """
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
_OTelSDKConfigurator().configure(auto_instrumentation_version="test")  # what opentelemetry-instrument runs
from opentelemetry import trace
with trace.get_tracer("app").start_as_current_span("hello", attributes={"data_stream.dataset": "modelspan"}):
    pass
"""


def test_sdk_auto_configuration_exports_at_exit(server: BulkServer, tmp_path: Path) -> None:
    """``opentelemetry-instrument`` (with opentelemetry-distro's configurator) in a real process:
    the provider is shut down at exit and the span is stored."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, OTEL_TRACES_EXPORTER="elasticsearch", OTEL_METRICS_EXPORTER="none",
               OTEL_LOGS_EXPORTER="none", OTEL_SERVICE_NAME="auto", ELASTICSEARCH_URL=server.url,
               MODELSPAN_SPOOL_DIR=str(tmp_path / "spool"))
    result = subprocess.run([sys.executable, "-c", AUTO_CONFIGURED_APP], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    ((index, document),) = server.stored.values()
    assert index == "traces-modelspan.otel-default"
    assert document["resource"]["attributes"]["service.name"] == "auto"


INSTRUMENTED_MODEL = """
import modelspan

@modelspan.monitor(model="zero-code", version="1")
def predict(row):
    return 0.25

for i in range(3):
    predict({"x": float(i)})
"""


def test_opentelemetry_instrument_picks_the_exporter_by_name(server: BulkServer, tmp_path: Path) -> None:
    """The real ``opentelemetry-instrument`` command (opentelemetry-distro), no modelspan.configure():
    OTEL_TRACES_EXPORTER=elasticsearch loads our exporter by its entry point, and the decorated
    model's spans arrive in the modelspan data stream."""
    import os
    import shutil
    import subprocess
    import sys

    command = shutil.which("opentelemetry-instrument", path=os.path.dirname(sys.executable))
    assert command, "opentelemetry-instrument is installed with the demo extra (opentelemetry-distro)"
    env = dict(os.environ, OTEL_TRACES_EXPORTER="elasticsearch", OTEL_METRICS_EXPORTER="none",
               OTEL_LOGS_EXPORTER="none", OTEL_SERVICE_NAME="zero-code", ELASTICSEARCH_URL=server.url,
               MODELSPAN_SPOOL_DIR=str(tmp_path / "spool"))
    result = subprocess.run([command, sys.executable, "-c", INSTRUMENTED_MODEL], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    stored = list(server.stored.values())
    assert len(stored) == 3 and {index for index, _ in stored} == {"traces-modelspan.otel-default"}
    for _, document in stored:
        assert document["attributes"][semconv.MODEL_NAME] == "zero-code"
        assert document["resource"]["attributes"]["service.name"] == "zero-code"


def test_span_events_become_log_documents_and_nan_is_written_as_null(server: BulkServer, tmp_path: Path) -> None:
    exporter_memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter_memory))
    with provider.get_tracer("t").start_as_current_span("predict", attributes={"score": float("nan")}) as span:
        span.add_event("retry", {"attempt": 1})
    provider.shutdown()
    (finished,) = exporter_memory.get_finished_spans()
    exporter = exporter_for(server, tmp_path)
    try:
        exporter.export([finished])
        settle(exporter)
    finally:
        exporter.shutdown()
    identifier = span_id(finished)
    assert server.stored[identifier][1]["attributes"] == {"score": None}
    index, event = server.stored[identifier + "-0"]
    assert index == "logs-generic.otel-default" and event["event_name"] == "retry"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_tls_with_a_ca_file(tmp_path: Path) -> None:
    """https with the cluster's CA file stores; without it, the certificate is refused and spans wait on disk."""
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    with BulkServer(tls=(str(cert), str(key))) as server:
        trusted = exporter_for(server, tmp_path / "trusted", ca_certs=str(cert))
        untrusted = exporter_for(server, tmp_path / "untrusted", timeout=0.5)
        try:
            trusted.export(make_spans(3))
            assert trusted.force_flush(10_000) and len(server.stored) == 3
            untrusted.export(make_spans(2))
            assert untrusted.force_flush(3000) is False
            assert untrusted.stats()["spooled"] == 2 and len(server.stored) == 3
        finally:
            trusted.shutdown()
            untrusted.shutdown()
