"""The same questions against a real cluster (``MODELSPAN_TEST_ES_URL``; skipped otherwise).

Generated spans are bulk-created into a throwaway ``traces-modelspan.otel-<ns>`` data stream (the
built-in ``traces-otel@template`` maps it), outcomes into a throwaway index; the cluster's answers
must equal the loopback fake's on the same documents (percentiles within t-digest's error).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from modelspan.store import ModelStats
from modelspan.store.elasticsearch import ElasticsearchStore
from tests.store.elasticsearch.fake_es import FakeElasticsearch
from tests.store.elasticsearch.scenario import outcome_documents, questions_for
from tests.store.elasticsearch.traffic import INDEX, WINDOW, Traffic, generate

URL = os.environ.get("MODELSPAN_TEST_ES_URL")
pytestmark = [
    pytest.mark.live_es,
    pytest.mark.skipif(not URL, reason="needs a live Elasticsearch: set MODELSPAN_TEST_ES_URL"),
]


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[ElasticsearchStore, Traffic, str]]:
    traffic = generate(singles=100, batches=10)
    suffix = uuid.uuid4().hex[:8]
    spans, outcomes, found = f"traces-modelspan.otel-t{suffix}", f"modelspan-outcomes-t{suffix}", f"modelspan-f{suffix}"
    store = ElasticsearchStore(URL, spans_index=spans, outcomes_index=outcomes, findings_index=found,
                               interval_seconds=600)
    client = store.client
    try:
        client.indices.create(index=outcomes, mappings={"properties": {
            "@timestamp": {"type": "date"}, "prediction.id": {"type": "keyword"}, "actual": {"type": "keyword"}}})
        operations: list[dict[str, Any]] = []
        for document in traffic.documents:
            operations += [{"create": {"_index": spans}}, document]
        for document in outcome_documents(traffic):
            operations += [{"index": {"_index": outcomes}}, document]
        response = client.bulk(operations=operations, refresh="wait_for")
        assert not response["errors"], [i for i in response["items"] if "error" in next(iter(i.values()))][:3]
        yield store, traffic, spans
    finally:
        client.indices.delete_data_stream(name=spans, ignore_unavailable=True)
        client.indices.delete(index=[outcomes, found], ignore_unavailable=True)
        store.close()


def _fake_answer(traffic: Traffic) -> ModelStats:
    with FakeElasticsearch() as fake:
        fake.add(INDEX, traffic.documents)
        with ElasticsearchStore(fake.url, interval_seconds=600) as store:
            return store.model_stats(questions_for(traffic)[:1])[0]


def test_the_cluster_gives_the_fakes_answers(live: tuple[ElasticsearchStore, Traffic, str]) -> None:
    store, traffic, _ = live
    assert store.models(WINDOW) == [("churn", "3", sum(1 for d in traffic.documents
                                                      if d["attributes"].get("ml.span.kind") == "model"))]
    real, fake = store.model_stats(questions_for(traffic)[:1])[0], _fake_answer(traffic)
    for name, column in fake.columns.items():
        got = real.columns[name]
        assert (got.count, got.bin_counts, got.category_counts, got.unseen_count, got.null_count) == (
            column.count, column.bin_counts, column.category_counts, column.unseen_count, column.null_count), name
        assert got.sum == pytest.approx(column.sum)
    assert {k: (p.count, p.labels) for k, p in real.paths.items()} == {
        k: (p.count, p.labels) for k, p in fake.paths.items()}
    assert real.quality == fake.quality
    assert (real.operations.calls, real.operations.errors) == (fake.operations.calls, fake.operations.errors)
    assert [i.calls for i in real.operations.intervals] == [i.calls for i in fake.operations.intervals]
    for percent, value in fake.operations.latency_ms.items():
        assert real.operations.latency_ms[percent] == pytest.approx(value, rel=0.15)
    assert {n: m.calls for n, m in real.modules.items()} == {n: m.calls for n, m in fake.modules.items()}


def test_labels_and_findings_on_the_cluster(live: tuple[ElasticsearchStore, Traffic, str]) -> None:
    store, traffic, _ = live
    assert len(store.labelled_predictions(WINDOW, "churn", "3")) == len(outcome_documents(traffic))
    finding = {"finding.id": "latency:churn:3:live", "finding.type": "latency", "finding.flagged": False}
    assert store.write_findings([finding]) == store.write_findings([finding]) == 1
    assert store.client.count(index=store.findings_index)["count"] == 1
