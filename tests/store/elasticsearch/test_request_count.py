"""The number of Elasticsearch requests per analysis run does not grow with the spans (issue 4).

The fake holds the same generated documents with a weight (each stands for ``weight`` identical
spans), so 10,000 and 1,000,000 spans are both computed for real and stay cheap; the client's
requests are counted at the HTTP layer.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from modelspan.findings import OUTCOMES_INDEX
from modelspan.store import Column
from modelspan.store.elasticsearch import ElasticsearchStore
from tests.store.elasticsearch.fake_es import FakeElasticsearch
from tests.store.elasticsearch.scenario import outcome_documents, questions_for, run_analysis
from tests.store.elasticsearch.traffic import INDEX, WINDOW, Traffic, generate


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return generate(singles=80, batches=8)


def _run(traffic: Traffic, weight: int) -> tuple[Counter[str], dict[str, Any]]:
    with FakeElasticsearch() as fake:
        fake.add(INDEX, traffic.documents, weight=weight)
        fake.add(OUTCOMES_INDEX, outcome_documents(traffic))
        result = run_analysis(fake.url, traffic)
        kinds = Counter(f"{method} {path.rsplit('/', 1)[-1]}" for method, path, _ in fake.requests if path != "/")
    return kinds, result


def test_same_requests_for_ten_thousand_and_a_million_spans(traffic: Traffic) -> None:
    weight = 10_000 // len(traffic.documents)
    assert 9_000 <= weight * len(traffic.documents) <= 10_000
    small, small_result = _run(traffic, weight)
    large, large_result = _run(traffic, 100 * weight)  # ~1,000,000 spans
    assert small == large
    # one models search, one msearch, one outcomes page + one predictions search, one bulk
    assert sum(small.values()) == 5, small
    # ...and the answers really came from 100x the spans
    small_stats, large_stats = small_result["stats"][0], large_result["stats"][0]
    assert large_stats.operations.calls == 100 * small_stats.operations.calls
    assert large_stats.operations.calls >= 100_000 and large_stats.operations.errors > 0
    assert large_stats.columns["temp"].bin_counts == [100 * c for c in small_stats.columns["temp"].bin_counts]


def test_requests_do_not_grow_with_features_or_models(traffic: Traffic) -> None:
    few = questions_for(traffic)[:1]
    many_columns = tuple(Column.feature(f"f{i}", "numeric", [float(i), float(i + 1)]) for i in range(40))
    many = [*few, *(questions_for(traffic)[0].__class__("m" + str(i), "1", WINDOW, 600, "b", many_columns)
                    for i in range(5))]
    counts = []
    for questions in (few, many):
        with FakeElasticsearch() as fake:
            fake.add(INDEX, traffic.documents)
            with ElasticsearchStore(fake.url) as store:
                store.model_stats(questions)
            counts.append(sum(1 for _, path, _ in fake.requests if path != "/"))
    assert counts == [1, 1]
