"""``exporter="otlp"``: profiles as OTLP metrics become, through the Collector, the direct exporter's documents.

The OTLP side is real: ``OTLPSpanExporter.export_profiles`` POSTs protobuf to a loopback OTLP/HTTP
receiver (``otlp_receiver``), which decodes it. The Collector is ``collector_metrics`` (its
``otel``-mode metric mapping re-read in Python, checked against its own cases in
``test_collector_metrics``); its documents are bulk-written into the loopback Elasticsearch after
``modelspan elastic setup``, and the Elasticsearch store must read them to the same statistics as the
documents of ``ElasticsearchSpanExporter.export_profiles``. ``golden_otel_profile.json`` pins the
document the Collector writes for one profile (golden_otel_profile.md says where it comes from).
"""

from __future__ import annotations

import doctest
import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan import _time
from modelspan._version import __version__
from modelspan.elasticsearch.profiles import KIND_ATTRIBUTE, KIND_OPERATIONS
from modelspan.exporters._retry import Backoff
from modelspan.exporters.otlp import OTLPSpanExporter, ProfileSender
from modelspan.instrumentation import _config
from modelspan.instrumentation._profiles import Profile, _Profiles
from modelspan.store import Question, Window
from modelspan.store.elasticsearch import ElasticsearchStore
from tests.contract.tsc import Case, bulk_groups, typecheck
from tests.exporters.collector_metrics import bulk_lines, to_documents
from tests.exporters.otlp_receiver import Answer, OTLPReceiver
from tests.store.elasticsearch.fake_es import FakeElasticsearch
from tests.store.elasticsearch.ingest import cluster, export_profiles

GOLDEN = Path(__file__).with_name("golden_otel_profile.json")
START = 1_795_341_600 * 10**9  # 2026-11-22T10:00:00Z
MINUTE = 60 * 10**9
WINDOW = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")
PROCESS = "4711-9f2c01d3a8b4"


def _profiles() -> list[Profile]:
    state = _Profiles()  # the SDK's own profile code, on its own
    for number in range(600):
        begin = START + (number % 3) * MINUTE + number * 10**6
        latency = 200_000 + (number * 7_919) % 9_000_000  # 0.2 to 9.2 ms, spread over many buckets
        state.record("churn", "3", "", begin, begin + latency, number % 9 == 0, 4.0, number % 10 != 0)
        state.record("churn", "3", "encoder", begin, begin + latency // 3, number % 50 == 0, 0.0, False)
    return state.take()


def _golden_profile() -> Profile:
    state = _Profiles()
    for number, latency in enumerate([0, 1_000_000, 1_004_000, 1_500_000, 2_400_000]):
        state.record("churn", "3", "", START, START + latency, number == 4, 2.0, number != 3)
    profile, = state.take()
    profile.dropped = 1
    return profile


def _exporter(receiver: OTLPReceiver, namespace: str = "default") -> OTLPSpanExporter:
    sender = ProfileSender(receiver.url + "/v1/metrics", timeout=5.0, backoff=Backoff(initial=0.01, maximum=0.05))
    return OTLPSpanExporter(InMemorySpanExporter(), sender=sender, profile_namespace=namespace)


def _collector_documents(receiver: OTLPReceiver) -> list[tuple[str, dict[str, Any]]]:
    return [doc for request in receiver.metrics for doc in to_documents(request)]


def _bulk(es: FakeElasticsearch, documents: list[tuple[str, dict[str, Any]]]) -> None:
    """What the Collector sends: ``create`` without ``_id`` (metric documents get none)."""
    lines = [json.dumps(line) for index, doc in documents for line in ({"create": {"_index": index}}, doc)]
    request = urllib.request.Request(es.url + "/_bulk?refresh=true", data=("\n".join(lines) + "\n").encode(),
                                     headers={"Content-Type": "application/x-ndjson"}, method="POST")
    with urllib.request.urlopen(request) as response:
        answer = json.load(response)
    assert not answer["errors"], [item for item in answer["items"] if item["create"]["status"] >= 300][:2]


def _stats(es: FakeElasticsearch) -> Any:
    with ElasticsearchStore(es.url, interval_seconds=60) as store:
        stats, = store.model_stats([Question("churn", "3", WINDOW, 60)])
        return stats, store.models(WINDOW)


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as server:
        yield server


def test_the_collector_writes_the_golden_document(receiver: OTLPReceiver) -> None:
    exporter = _exporter(receiver)
    exporter._process = PROCESS
    try:
        assert exporter.export_profiles([_golden_profile()]) == 1
    finally:
        exporter.shutdown()
    golden = json.loads(GOLDEN.read_text())
    golden["document"]["scope"]["version"] = __version__  # the scope names the sending modelspan release
    operations, *rest = _collector_documents(receiver)
    assert operations == (golden["index"], golden["document"])
    # and its quality document, always (its features: golden["feature_documents"], test_otlp_feature_profiles)
    assert [doc["attributes"][KIND_ATTRIBUTE] for _, doc in rest] == ["quality"]
    assert receiver.requests[0][1]["content-type"] == "application/x-protobuf"
    action = bulk_lines(receiver.metrics[0])[0]
    assert action["create"]["dynamic_templates"]["metrics.ml.profile.latency"] == "histogram"
    assert "_id" not in action["create"]  # metric documents get none: see the duplicates test
    typecheck([Case("Collector profile bulk", "BulkBody", bulk_groups(bulk_lines(receiver.metrics[0])))])


def test_the_store_reads_collector_documents_as_the_direct_ones(receiver: OTLPReceiver) -> None:
    profiles = _profiles()
    exporter = _exporter(receiver)
    try:
        exporter.export_profiles(profiles)
    finally:
        exporter.shutdown()
    collector = _collector_documents(receiver)
    operations = [doc for _, doc in collector if doc["attributes"][KIND_ATTRIBUTE] == KIND_OPERATIONS]
    assert len(operations) == len(profiles) == 6  # one document per profile: no data point split off
    assert len(collector) == 6 + 3  # and a quality document per model profile (test_otlp_feature_profiles)
    with cluster() as direct, cluster() as via_collector:
        export_profiles(direct, [profiles])
        _bulk(via_collector, collector)
        (expected, expected_models), (actual, actual_models) = _stats(direct), _stats(via_collector)
        _same_indexed_fields(direct, via_collector)
    assert expected.operations.calls == 600 and expected.operations.errors == 67
    assert actual.operations == expected.operations and actual.modules == expected.modules
    assert actual_models == expected_models == [("churn", "3", 600)]


def _same_indexed_fields(direct: FakeElasticsearch, via_collector: FakeElasticsearch) -> None:
    def by_key(es: FakeElasticsearch) -> dict[tuple[Any, ...], dict[str, Any]]:
        # any namespace: the direct exporter takes the one an earlier configure() left, if any; the
        # per-feature documents are compared in test_otlp_feature_profiles
        docs = [doc for index, doc in es.stored.values() if index.startswith("metrics-modelspan.profile-")
                and doc["attributes"][KIND_ATTRIBUTE] == KIND_OPERATIONS]
        return {(doc["attributes"]["ml.module.name"], _time.to_ns(_time.parse(doc["@timestamp"]))
                 if isinstance(doc["@timestamp"], str) else doc["@timestamp"] * 10**6): doc for doc in docs}
    ours, theirs = by_key(direct), by_key(via_collector)
    assert ours.keys() == theirs.keys() and len(ours) == 6
    for key, doc in ours.items():
        assert theirs[key]["metrics"] == doc["metrics"]
        process = theirs[key]["attributes"]["ml.profile.process"]  # each exporter has its own token
        assert theirs[key]["attributes"] == {**doc["attributes"], "ml.profile.flush": 0, "ml.profile.process": process}


def test_retryable_answers_are_retried_and_the_others_counted(receiver: OTLPReceiver) -> None:
    receiver.script(Answer(status=503), Answer(status=429, retry_after="0"), Answer(), Answer(status=400),
                    Answer(rejected=3))
    exporter = _exporter(receiver)
    try:
        assert exporter.export_profiles(_profiles()) == 6
        assert len(receiver.metrics) == 1 and len(receiver.requests) == 3
        with pytest.raises(RuntimeError, match="answered 400"):
            exporter.export_profiles(_profiles())
        with pytest.raises(RuntimeError, match="rejected 3 data points"):
            exporter.export_profiles(_profiles())
    finally:
        exporter.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        exporter.export_profiles(_profiles())


def test_an_unreachable_collector_fails_the_flush_within_its_timeout() -> None:
    with OTLPReceiver() as gone:
        url = gone.url
    sender = ProfileSender(url + "/v1/metrics", timeout=0.3, backoff=Backoff(initial=0.01, maximum=0.05))
    exporter = OTLPSpanExporter(InMemorySpanExporter(), sender=sender)
    try:
        with pytest.raises(RuntimeError, match="not reached within"):
            exporter.export_profiles(_profiles())
    finally:
        exporter.shutdown()


def test_a_lost_answer_stores_a_profile_twice_and_the_flush_attribute_finds_the_copy(receiver: OTLPReceiver) -> None:
    receiver.script(Answer(drop=True))  # the Collector took the request; the answer never came: sent again
    exporter = _exporter(receiver)
    try:
        exporter.export_profiles(_profiles())
    finally:
        exporter.shutdown()
    documents = _collector_documents(receiver)
    assert len(receiver.metrics) == 2 and len(documents) == 2 * (6 + 3)  # operations + quality, twice
    with cluster() as es:
        _bulk(es, documents)
        stats, _ = _stats(es)
    assert stats.operations.calls == 1200  # the consequence: counted twice (metric documents have no _id)
    identities = [(doc["attributes"]["ml.profile.process"], doc["attributes"]["ml.profile.flush"],
                   doc["attributes"]["ml.module.name"], doc["@timestamp"], doc["attributes"][KIND_ATTRIBUTE])
                  for _, doc in documents]
    assert len(set(identities)) == 9  # (process, flush, key, kind) tells the copies apart from second flushes


def test_exporter_otlp_sends_spans_and_profiles_to_the_endpoint(receiver: OTLPReceiver,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                 "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "MODELSPAN_SAMPLE_RATE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    provider = TracerProvider()
    modelspan.configure(tracer_provider=provider, exporter="otlp", sample_rate=0.1)

    @modelspan.monitor(model="churn", version="3")
    def predict(x: float) -> float:
        return x * 2

    try:
        for number in range(250):
            predict(float(number))
        assert modelspan.force_flush()
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.sample_rate = 1.0  # configure() state outlives shutdown(); later tests expect the default
    calls = [point.as_int for request in receiver.metrics for rm in request.resource_metrics
             for sm in rm.scope_metrics for metric in sm.metrics if metric.name == "ml.profile.calls"
             for point in metric.sum.data_points]
    assert sum(calls) == 250  # every call, although about one in ten has a span
    assert receiver.traces and sum(len(ss.spans) for request in receiver.traces
                                   for rs in request.resource_spans for ss in rs.scope_spans) < 250


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_sends_its_profiles_as_another_process(receiver: OTLPReceiver) -> None:
    exporter = _exporter(receiver)
    try:
        exporter.export_profiles(_profiles())
        parent = exporter._process
        pid = os.fork()
        if pid == 0:  # the child: its own token, its own connections, its flushes counted from 0
            code = 3
            try:
                code = 0 if exporter._process != parent and exporter.export_profiles(_profiles()) == 6 else 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        exporter.export_profiles(_profiles())
    finally:
        exporter.shutdown()
    senders = [(doc["attributes"]["ml.profile.process"], doc["attributes"]["ml.profile.flush"])
               for _, doc in _collector_documents(receiver)]
    child = next(process for process, _ in senders if process != parent)
    assert sorted(set(senders)) == sorted({(parent, 0), (parent, 1), (child, 0)})


def test_the_modules_examples_hold() -> None:
    from modelspan.exporters import _otlp_profiles, otlp

    for module in (otlp, _otlp_profiles):
        result = doctest.testmod(module)
        assert result.attempted and not result.failed
