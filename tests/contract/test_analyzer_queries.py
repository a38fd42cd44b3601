"""Every search body the Elasticsearch analyzer backend sends, and every response its parsers are
tested with, type-checks against the official Elasticsearch types (docs/architecture.md, decision 7).

The bodies are the ones the backend really sent to the loopback fake during a whole analysis run
(recorded at the HTTP layer), plus the builders' outputs for every column kind.
"""

from __future__ import annotations

from typing import Any

import pytest

from modelspan.findings import OUTCOMES_INDEX
from modelspan.store import _es_features as feature_queries
from modelspan.store import _es_profiles as profile_queries
from modelspan.store import _es_queries as queries
from tests.contract.tsc import Case, recorded_cases, typecheck
from tests.store.elasticsearch.fake_es import FakeElasticsearch
from tests.store.elasticsearch.scenario import outcome_documents, questions_for, run_analysis
from tests.store.elasticsearch.traffic import INDEX, WINDOW, generate


@pytest.fixture(scope="module")
def recorded() -> list[tuple[str, str, Any]]:
    traffic = generate(singles=60, batches=6)
    with FakeElasticsearch() as fake:
        fake.add(INDEX, traffic.documents)
        fake.add(OUTCOMES_INDEX, outcome_documents(traffic))
        run_analysis(fake.url, traffic)
        return list(fake.requests)


def test_every_builder_body_is_a_search_request() -> None:
    traffic = generate(singles=10, batches=2)
    cases = [Case("models", "SearchBody", queries.models_body(WINDOW))]
    for question in questions_for(traffic):
        cases.append(Case(f"model {question.window.iso()[0]}", "SearchBody", queries.model_body(question)))
    text = queries.Column.feature("comment", "text", [5.0, 20.0], vocabulary=["good", "bad"])
    bare = queries.Column.feature("free", "categorical")  # no baseline: no include/exclude lists
    question = queries.Question("m", "1", WINDOW, 60, None, (text, bare, queries.Column.output("numeric", [0.5])))
    cases.append(Case("text, no baseline", "SearchBody", queries.model_body(question)))
    cases.append(Case("outcomes page", "SearchBody", queries.outcomes_body(WINDOW, after=["x"])))
    cases.append(Case("predictions", "SearchBody", queries.predictions_body(WINDOW, "churn", "3", ["a", "b"])))
    cases.append(Case("profiled models", "SearchBody", profile_queries.models_body(WINDOW)))
    for part in ("all", "calls", "modules"):
        cases.append(Case(f"profiles {part}", "SearchBody", profile_queries.profile_body(question, part)))  # type: ignore[arg-type]
    cases.append(Case("feature profiles, no baseline", "SearchBody", feature_queries.feature_body(question)))
    for traffic_question in questions_for(traffic):  # with a baseline: bins, categories, unseen values
        cases.append(Case("feature profiles", "SearchBody", feature_queries.feature_body(traffic_question)))
    typecheck(cases)


def test_every_request_the_backend_sent_type_checks(recorded: list[tuple[str, str, Any]]) -> None:
    cases = recorded_cases(recorded)
    assert any(path.endswith("/_msearch") for _, path, _ in recorded)
    typecheck(cases)


def test_fake_responses_are_real_response_shapes() -> None:
    traffic = generate(singles=40, batches=4)
    with FakeElasticsearch() as fake:
        fake.add(INDEX, traffic.documents)
        cases = [Case("models response", "estypes.SearchResponse", fake.search(INDEX, queries.models_body(WINDOW)))]
        for question in questions_for(traffic):
            response = fake.search(INDEX, queries.model_body(question))
            cases.append(Case("model response", "estypes.SearchResponse", response))
            msearch = {"took": 1, "responses": [{**response, "status": 200}]}
            cases.append(Case("msearch response", "estypes.MsearchResponse", msearch))
    typecheck(cases)
