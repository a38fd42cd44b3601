"""The Elasticsearch store against the computing fake: every statistic checked by recomputing it
directly from the generated span documents with numpy (no aggregation code shared)."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import numpy as np
import pytest

from modelspan import findings, semconv
from modelspan.elasticsearch import layout, profiles
from modelspan.store import ModelStats
from modelspan.store.elasticsearch import ElasticsearchStore, StoreError, client_from_env
from tests.store.elasticsearch.fake_es import FakeElasticsearch
from tests.store.elasticsearch.scenario import outcome_documents, questions_for
from tests.store.elasticsearch.traffic import INDEX, WINDOW, Traffic, generate


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return generate(singles=150, batches=12)


@pytest.fixture(scope="module")
def answer(traffic: Traffic) -> tuple[ModelStats, list[dict[str, Any]]]:
    with FakeElasticsearch() as fake:
        fake.add(INDEX, traffic.documents)
        with ElasticsearchStore(fake.url) as store:
            stats = store.model_stats(questions_for(traffic))[0]
    models = [d for d in traffic.documents if d["attributes"].get(semconv.SPAN_KIND) == semconv.SPAN_KIND_MODEL]
    return stats, models


def _batches(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d["attributes"] for d in models if semconv.batch_stat("temp", semconv.STAT_NULL_COUNT) in d["attributes"]]


def test_numeric_bins_merge_single_rows_and_batch_summaries(traffic: Traffic, answer: Any) -> None:
    stats, models = answer
    edges = np.asarray(traffic.baseline.features["temp"].edges)
    singles = np.asarray([d["attributes"][semconv.feature_value("temp")] for d in models
                          if semconv.feature_value("temp") in d["attributes"]])
    expected = np.bincount(np.searchsorted(edges, singles, side="right"), minlength=edges.size + 1)
    for attributes in _batches(models):
        expected += np.asarray([attributes[semconv.batch_bin("temp", i)] for i in range(edges.size + 1)])
    temp = stats.columns["temp"]
    assert temp.bin_counts == expected.tolist()
    batch_count = sum(a[semconv.batch_stat("temp", semconv.STAT_COUNT)] for a in _batches(models))
    assert temp.count == singles.size + batch_count == sum(temp.bin_counts)
    batch_sum = sum(a[semconv.batch_stat("temp", semconv.STAT_SUM)] for a in _batches(models))
    assert temp.sum == pytest.approx(singles.sum() + batch_sum)
    assert temp.min == pytest.approx(min(singles.min(), *(a["ml.batch.temp.min"] for a in _batches(models))))
    assert temp.unbinned_count == 0


def test_categories_unseen_and_quality(traffic: Traffic, answer: Any) -> None:
    stats, models = answer
    plan, categories = stats.columns["plan"], traffic.baseline.features["plan"].categories
    singles = Counter(d["attributes"][semconv.feature_value("plan")] for d in models
                      if semconv.feature_value("plan") in d["attributes"])
    batches = _batches(models)
    expected = [singles[c] + sum(a[semconv.batch_category("plan", i)] for a in batches)
                for i, c in enumerate(categories)]
    assert plan.category_counts == expected
    batch_unseen = sum(a[semconv.batch_stat("plan", semconv.STAT_UNSEEN_COUNT)] for a in batches)
    assert plan.unseen_count == singles["enterprise"] + batch_unseen > 0
    assert plan.unseen_examples == {"enterprise": singles["enterprise"]}
    nulls = sum(1 for d in models if "temp" in d["attributes"].get(semconv.quality_features(semconv.CHECK_NULL), [])
                and "ml.batch.temp.null_count" not in d["attributes"])
    assert stats.columns["temp"].null_count == nulls > 0
    unseen_values = sum(d["attributes"].get(semconv.quality_count(semconv.CHECK_UNSEEN_CATEGORY), 0) for d in models)
    assert stats.quality[semconv.CHECK_UNSEEN_CATEGORY][0] == unseen_values


def test_operations_modules_and_paths(traffic: Traffic, answer: Any) -> None:
    stats, models = answer
    ops = stats.operations
    assert ops.calls == len(models) == sum(i.calls for i in ops.intervals)
    assert ops.errors == sum(d["status"].get("code") == "Error" for d in models) > 0
    assert len(ops.intervals) == 6 and ops.intervals[0].start == WINDOW.start
    durations = np.sort([d["duration"] for d in models]) / 1e6
    assert ops.latency_ms[50.0] == pytest.approx(durations[int(np.ceil(0.5 * durations.size)) - 1])
    modules = Counter(d["attributes"][semconv.MODULE_NAME] for d in traffic.documents
                      if d["attributes"].get(semconv.SPAN_KIND) == semconv.SPAN_KIND_MODULE)
    assert {name: m.calls for name, m in stats.modules.items()} == dict(modules)
    paths = Counter(d["attributes"].get(semconv.MODULE_PATH_KEY, "") for d in models)
    assert {key: p.count for key, p in stats.paths.items()} == dict(paths)
    by_trace = {d["trace_id"]: d["attributes"].get(semconv.MODULE_PATH_KEY) for d in models}
    for key, path in stats.paths.items():
        assert path.trace_ids and all(by_trace[t] == key for t in path.trace_ids)
    scorer = stats.paths["encoder>scorer"]
    assert scorer.labels == dict(Counter(d["attributes"].get(semconv.OUTPUT_LABEL, "") for d in models
                                         if d["attributes"].get(semconv.MODULE_PATH_KEY) == "encoder>scorer"))


def test_calls_are_scaled_by_the_sample_rate(traffic: Traffic) -> None:
    sampled = copy.deepcopy([d for d in traffic.documents if d["attributes"].get(semconv.SPAN_KIND) == "model"])
    for document in sampled[::2]:
        document["attributes"][semconv.SAMPLE_RATE] = 0.25
    with FakeElasticsearch() as fake:
        fake.add(INDEX, sampled)
        with ElasticsearchStore(fake.url) as store:
            stats = store.model_stats(questions_for(traffic)[:1])[0]
    scaled = sum(i.scaled_calls for i in stats.operations.intervals)
    assert scaled == len(sampled[1::2]) + 4 * len(sampled[::2])
    assert sum(i.qps for i in stats.operations.intervals) * 600 == pytest.approx(scaled)


def test_labels_join_picks_the_batch_row(traffic: Traffic) -> None:
    outcomes = outcome_documents(traffic, every=2)
    with FakeElasticsearch() as fake:
        fake.add(INDEX, traffic.documents)
        fake.add(findings.OUTCOMES_INDEX, outcomes)
        with ElasticsearchStore(fake.url) as store:
            labelled = store.labelled_predictions(WINDOW, "churn", "3")
    assert len(labelled) == len(outcomes)
    spans = {d["attributes"][semconv.PREDICTION_ID]: d["attributes"] for d in traffic.documents
             if semconv.PREDICTION_ID in d["attributes"]}
    actual = {o["prediction.id"]: o["actual"] for o in outcomes}
    for row in labelled:
        base, _, index = row.prediction_id.rpartition(":")
        expected = spans[base][semconv.OUTPUT_LABELS][int(index)] if base else spans[row.prediction_id].get(
            semconv.OUTPUT_LABEL)
        assert (row.label, row.actual) == (expected, actual[row.prediction_id])


def test_labels_are_paged(traffic: Traffic) -> None:
    outcomes = outcome_documents(traffic, every=2)
    with FakeElasticsearch() as fake:
        fake.add(INDEX, traffic.documents)
        fake.add(findings.OUTCOMES_INDEX, outcomes)
        with ElasticsearchStore(fake.url, label_page=7) as store:
            labelled = store.labelled_predictions(WINDOW, "churn", "3")
        searches = sum(1 for _, path, _ in fake.requests if path.endswith("_search"))
    assert len(labelled) == len(outcomes)
    assert searches == 2 * -(-len(outcomes) // 7)  # two per page, however many spans


def test_findings_are_replaced_not_duplicated() -> None:
    finding = {findings.ID: "drift:churn:3:temp:w", findings.TYPE: findings.TYPE_DRIFT, findings.FLAGGED: True}
    with FakeElasticsearch() as fake:
        with ElasticsearchStore(fake.url) as store:
            assert store.write_findings([finding]) == 1
            assert store.write_findings([{**finding, findings.FLAGGED: False}]) == 1
        stored = [d for d, _ in fake.indices[findings.FINDINGS_INDEX]]
        _, path, body = fake.requests[-1]
    assert path == "/_bulk" and body[0] == {"index": {"_index": findings.FINDINGS_INDEX, "_id": finding[findings.ID]}}
    assert len(stored) == 1 and stored[0][findings.FLAGGED] is False


def test_a_failed_search_is_a_clear_error(traffic: Traffic) -> None:
    question = questions_for(traffic)[0]
    with FakeElasticsearch() as fake:
        fake.add(INDEX, [{"@timestamp": "bad date", "attributes": {}}])  # the fake cannot evaluate it
        store = ElasticsearchStore(fake.url, max_retries=0)
        with store, pytest.raises(StoreError, match=r"churn 3.*bad date"):
            store.model_stats([question])


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ELASTICSEARCH_URL", "ELASTICSEARCH_CLOUD_ID", "ELASTICSEARCH_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="ELASTICSEARCH_URL"):
        client_from_env()
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ELASTICSEARCH_API_KEY", "secret-key")
    client = client_from_env()
    try:
        assert client.transport.node_pool.get().base_url == "http://127.0.0.1:9"
        assert client._headers["authorization"] == "ApiKey secret-key"
    finally:
        client.close()
    monkeypatch.delenv("ELASTICSEARCH_API_KEY")
    client = client_from_env("http://elastic:s3cret@127.0.0.1:9")  # read as the exporter reads it
    try:
        assert client.transport.node_pool.get().base_url == "http://127.0.0.1:9"
        assert client._headers["authorization"] == "Basic ZWxhc3RpYzpzM2NyZXQ="
    finally:
        client.close()
    with pytest.raises(ValueError, match="interval"):
        ElasticsearchStore("http://127.0.0.1:9", interval_seconds=0)
    assert StoreError.__mro__[1] is RuntimeError


def test_refresh_and_trace_questions_go_through_the_store() -> None:
    from modelspan.store import Store
    from modelspan.store._es_traces import ElasticsearchTraces

    with FakeElasticsearch() as fake, ElasticsearchStore(fake.url) as store:
        assert isinstance(store, Store)
        store.refresh()
        traces = store.traces()
        assert isinstance(traces, ElasticsearchTraces) and traces.client is store.client
    refreshes = [(method, path) for method, path, _ in fake.requests if path.endswith("/_refresh")]
    assert refreshes == [("POST", f"/{layout.ALL_SPANS},{profiles.PATTERN}/_refresh")]
