"""``exporter="otlp"``: the per-feature part of profiles reaches Elasticsearch through the Collector too.

``OTLPSpanExporter.export_profiles`` POSTs each flush (operations and per-feature parts) to a loopback
OTLP/HTTP receiver; ``collector_metrics`` (the Collector's ``otel`` mapping re-read in Python) turns it
into the bulk documents the Collector writes, which must be the direct exporter's per-feature documents
(``modelspan.elasticsearch.feature_profiles``) field for field, pinned by ``golden_otel_profile.json``.
The end-to-end test serves the planted-problem traffic once, the profiles going both ways, and the
analyzer must give the same findings from either store.
"""

from __future__ import annotations

import doctest
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from modelspan import _time, findings, semconv
from modelspan._version import __version__
from modelspan.elasticsearch import feature_profiles, profiles
from modelspan.exporters import _otlp_features
from modelspan.exporters._otlp_features import flush_requests
from modelspan.exporters.elasticsearch import ElasticsearchSpanExporter
from modelspan.exporters.otlp import OTLPSpanExporter
from modelspan.instrumentation._feature_fold import TOKEN_FIELDS
from modelspan.instrumentation._feature_profiles import OTHER_LABEL, OTHER_PATH, FeatureFold
from modelspan.instrumentation._profiles import Profile
from tests.contract.tsc import Case, bulk_groups, typecheck
from tests.exporters.collector_metrics import bulk_lines, to_documents
from tests.exporters.otlp_receiver import Answer, OTLPReceiver
from tests.exporters.test_otlp_profiles import (
    GOLDEN,
    PROCESS,
    START,
    _bulk,
    _collector_documents,
    _exporter,
    _golden_profile,
)
from tests.store.elasticsearch.ingest import cluster


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as server:
        yield server


KINDS = (feature_profiles.KIND_FEATURE, feature_profiles.KIND_CATEGORY, feature_profiles.KIND_PATH,
         feature_profiles.KIND_QUALITY)


def _with_features(profile: Profile, numeric: int = 1, with_text: bool = False) -> Profile:
    """``profile`` with numeric features of 4 bins, a categorical one (an unseen category), paths, checks,
    and with ``with_text`` a text feature with its token counts."""
    for number in range(numeric):
        fold = FeatureFold("numeric", "b-1", 4, None)
        for value in (1.0, 2.0, 2.5, 9.0 + number):
            fold.number(value, min(int(value // 2), 3))
        profile.features[("age" if number == 0 else f"f{number:03d}", "b-1")] = fold
    plan = FeatureFold("categorical", "b-1", 0, 3)
    for text, slot in (("basic", 0), ("pro", 2), ("enterprise", None), ("pro", 2)):
        plan.category(text, slot)
    profile.features[("plan", "b-1")] = plan
    if with_text:
        note = FeatureFold("text", "b-1", 4, None)
        for length, bin_index, counts in ((12.0, 1, (3.0, 1.0, 1 / 3, 1.0)), (30.0, 3, (8.0, 0.0, 0.0, 1.0))):
            note.number(length, bin_index)
            note.tokens(counts)  # tokens, out of vocabulary, the OOV rate x weight, the weight
        profile.features[("note", "b-1")] = note
    profile.paths = {"": {"ok": 3, OTHER_LABEL: 1}, "scorer": {"fraud": 1}, OTHER_PATH: {"ok": 0}}
    profile.checks = {semconv.CHECK_NULL: [2, 1]}
    return profile


def _direct(profile: Profile, namespace: str = "default") -> list[dict[str, Any]]:
    base = profiles.profile_document(profile, namespace, PROCESS)
    return [document for _, document in feature_profiles.feature_documents(profile, base, PROCESS, 0)]


def _as_collector_writes(document: dict[str, Any]) -> dict[str, Any]:
    """A direct document's indexed part as the Collector writes it: epoch ms, float histogram values."""
    metrics = {name: {"counts": value["counts"], "values": [float(v) for v in value["values"]]}
               if isinstance(value, dict) else value for name, value in document[profiles.METRICS].items()}
    return {"@timestamp": _time.to_ns(_time.parse(document["@timestamp"])) // 10**6,
            "attributes": {**document["attributes"], "ml.profile.flush": 0}, "metrics": metrics}


def test_the_collector_writes_the_golden_feature_documents(receiver: OTLPReceiver) -> None:
    exporter = _exporter(receiver)
    exporter._process = PROCESS
    try:
        assert exporter.export_profiles([_with_features(_golden_profile())]) == 1
    finally:
        exporter.shutdown()
    golden = json.loads(GOLDEN.read_text())
    expected = [golden["document"], *golden["feature_documents"]]
    for document in expected:
        document["scope"]["version"] = __version__
    assert _collector_documents(receiver) == [(golden["index"], document) for document in expected]
    lines = bulk_lines(receiver.metrics[0])
    assert lines[2]["create"]["dynamic_templates"]["metrics.ml.profile.feature.bins"] == "histogram"
    typecheck([Case("Collector feature profile bulk", "BulkBody", bulk_groups(lines))])


def test_each_collector_document_is_the_direct_one(receiver: OTLPReceiver) -> None:
    profile = _with_features(_golden_profile(), numeric=3, with_text=True)
    exporter = _exporter(receiver)
    exporter._process = PROCESS
    try:
        exporter.export_profiles([profile])
    finally:
        exporter.shutdown()
    written = [doc for _, doc in _collector_documents(receiver)
               if doc["attributes"][profiles.KIND_ATTRIBUTE] != profiles.KIND_OPERATIONS]
    direct = _direct(profile)
    assert {doc["attributes"][profiles.KIND_ATTRIBUTE] for doc in direct} == set(KINDS)
    assert len(written) == len(direct) == 5 + 1 + 4 + 1  # features, the unseen category, paths, quality
    assert [{key: doc[key] for key in ("@timestamp", "attributes", "metrics")} for doc in written] == \
        [_as_collector_writes(doc) for doc in direct]
    (note,) = [doc for doc in written if doc["attributes"].get(feature_profiles.FEATURE_ATTRIBUTE) == "note"]
    assert {name: note["metrics"][f"ml.profile.feature.{name}"] for name in TOKEN_FIELDS} == {
        "tokens": 11.0, "oov_tokens": 1.0, "oov_rate_sum": pytest.approx(1 / 3), "oov_rate_count": 2.0}


def test_the_store_indexes_both_shapes_alike(receiver: OTLPReceiver) -> None:
    profile = _with_features(_golden_profile(), numeric=2)
    exporter = _exporter(receiver)
    try:
        exporter.export_profiles([profile])
    finally:
        exporter.shutdown()
    with cluster() as es:
        _bulk(es, _collector_documents(receiver))
        stored = [doc for index, doc in es.stored.values() if index == profiles.data_stream_name("default")]
        (stream,) = {index for index, _ in es.stored.values() if index.startswith("metrics-modelspan.profile-")}
        fields = es.mappings[stream]["fields"]
    assert len(stored) == 1 + len(_direct(profile))
    assert len(fields) == feature_profiles.leaf_fields(feature_profiles.mapping()["properties"]) == 56


def test_a_document_with_a_non_finite_value_is_left_out_and_counted(receiver: OTLPReceiver) -> None:
    profile = _with_features(_golden_profile())
    huge = FeatureFold("numeric", None, 0, None)
    for value in (1.0, math.inf):
        huge.number(value, None)  # an infinite maximum: the Collector would write 0 (the direct exporter dead-letters)
    profile.features[("huge", None)] = huge
    exporter = _exporter(receiver)
    try:
        with pytest.raises(ValueError, match="1 documents with a non-finite value"):
            exporter.export_profiles([profile])
    finally:
        exporter.shutdown()
    written = _collector_documents(receiver)
    names = {doc["attributes"].get(feature_profiles.FEATURE_ATTRIBUTE) for _, doc in written}
    assert "huge" not in names and {"age", "plan"} <= names  # the rest of the flush was sent
    assert len(written) == len(_direct(profile))  # operations + all but the one


def _wide(features: int) -> Profile:
    profile = Profile("churn", "3", "", START, 60 * 10**9, calls=10, spans=1)
    for number in range(features):
        fold = FeatureFold("numeric", "b-1", 11, None)
        for value in range(11):
            fold.number(float(value), value)
        profile.features[(f"f{number:03d}", "b-1")] = fold
    return profile


def test_data_points_per_flush_are_bounded_and_no_document_is_split() -> None:
    profile = _wide(500)
    requests, left_out = flush_requests([profile], "default", PROCESS, 0)
    metrics = [[m for rm in r.resource_metrics for sm in rm.scope_metrics for m in sm.metrics] for r in requests]
    points = [p for names in metrics for m in names for p in getattr(m, m.WhichOneof("data")).data_points]
    sizes = [r.ByteSize() for r in requests]
    print(f"500 numeric features of 11 bins: {len({m.name for names in metrics for m in names})} metrics, "
          f"{len(points)} data points, {len(requests)} requests of {sizes} bytes")
    assert left_out == 0 and len({m.name for names in metrics for m in names}) <= 36
    kinds = [next(kv.value.string_value for kv in p.attributes if kv.key == profiles.KIND_ATTRIBUTE) for p in points]
    assert kinds.count(feature_profiles.KIND_FEATURE) == 500 * 14 and kinds.count(feature_profiles.KIND_QUALITY) == 11
    assert len(points) <= 9 + 500 * 14 + 11  # operations (no latency extremes here), features, quality
    assert max(len(p.attributes) for p in points) <= 10
    assert max(len(p.explicit_bounds) for names in metrics for m in names if m.name == feature_profiles.BINS_METRIC
               for p in m.histogram.data_points) == 12
    assert len(requests) > 1 and max(sizes) <= 1.05 * _otlp_features.MAX_REQUEST_BYTES
    documents = [doc for request in requests for doc in to_documents(request)]
    assert len(documents) == 1 + len(_direct(profile))  # one document each, nothing split off


def test_a_large_flush_arrives_whole_in_several_requests(receiver: OTLPReceiver) -> None:
    profile = _wide(300)
    receiver.script(Answer(), Answer(rejected=2))  # the second request is partly rejected: counted, the rest sent
    exporter = _exporter(receiver)
    exporter._process = PROCESS
    try:
        with pytest.raises(RuntimeError, match="1 of 2 requests failed: the OTLP receiver rejected 2"):
            exporter.export_profiles([profile])
    finally:
        exporter.shutdown()
    assert len(receiver.metrics) == 2
    written = [doc for _, doc in _collector_documents(receiver)
               if doc["attributes"][profiles.KIND_ATTRIBUTE] != profiles.KIND_OPERATIONS]
    assert [{key: doc[key] for key in ("@timestamp", "attributes", "metrics")} for doc in written] == \
        [_as_collector_writes(doc) for doc in _direct(profile)]


def test_profiles_are_gzipped_when_the_environment_says_so(receiver: OTLPReceiver,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    profile = _wide(200)
    exporter = _exporter(receiver)
    exporter._process = PROCESS
    try:
        exporter.export_profiles([profile])
    finally:
        exporter.shutdown()
    (_, headers), = receiver.requests
    (expected,), _ = flush_requests([profile], "default", PROCESS, 0)
    assert headers["content-encoding"] == "gzip" and receiver.metrics == [expected]
    # the attributes that repeat on every data point compress well
    assert int(headers["content-length"]) * 20 < expected.ByteSize()


class _Both(SpanExporter):
    """Spans into both clusters; profiles directly into one and over OTLP (for the Collector) to the other."""

    def __init__(self, direct: ElasticsearchSpanExporter, spans: ElasticsearchSpanExporter,
                 otlp: OTLPSpanExporter) -> None:
        self.direct, self.spans, self.otlp = direct, spans, otlp

    def export(self, batch: Any) -> SpanExportResult:
        self.spans.export(batch)
        return self.direct.export(batch)

    def export_profiles(self, flush: Any) -> int:
        self.otlp.export_profiles(flush)
        return self.direct.export_profiles(flush)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.direct.force_flush(timeout_millis) and self.spans.force_flush(timeout_millis)

    def shutdown(self) -> None:
        for exporter in (self.direct, self.spans, self.otlp):
            exporter.shutdown()


@pytest.mark.slow
def test_the_planted_drift_is_found_through_the_collector_as_directly(
        tmp_path: Path, receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.sdk.analyzer.test_planted_profiles import _key, _run
    from tests.sdk.analyzer.test_planted_profiles_es import _es_findings

    with cluster() as direct_es, cluster() as collector_es:
        both = _Both(ElasticsearchSpanExporter(direct_es.url, spool_dir=tmp_path / "a",
                                               dead_letter_path=tmp_path / "da"),
                     ElasticsearchSpanExporter(collector_es.url, spool_dir=tmp_path / "b",
                                               dead_letter_path=tmp_path / "db"), _exporter(receiver))
        baseline = _run(tmp_path / "unused.db", 0.01, monkeypatch, exporter=both)
        assert not both.direct.dead_letters.read() and not both.spans.dead_letters.read()
        _bulk(collector_es, _collector_documents(receiver))
        kinds = {doc["attributes"][profiles.KIND_ATTRIBUTE] for index, doc in collector_es.stored.values()
                 if index.startswith("metrics-modelspan.profile-")}
        direct, direct_calls = _es_findings(direct_es.url, baseline)
        through, through_calls = _es_findings(collector_es.url, baseline)
    assert kinds == {profiles.KIND_OPERATIONS, *KINDS}
    assert direct_calls == through_calls > 0
    found = {(*_key(f), f.get(findings.SAMPLE_COUNT)) for f in through}
    assert found == {(*_key(f), f.get(findings.SAMPLE_COUNT)) for f in direct}
    drift = {f[findings.FEATURE_NAME] for f in through
             if f[findings.TYPE] == findings.TYPE_DRIFT and f[findings.FLAGGED]}
    assert "age" in drift  # the planted shift, from the per-feature documents the Collector wrote


def test_the_modules_examples_hold() -> None:
    result = doctest.testmod(_otlp_features)
    assert result.attempted and not result.failed
