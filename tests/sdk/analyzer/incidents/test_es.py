"""The Elasticsearch incident queries: same incidents as SQLite on the same spans, a fixed number of
requests whatever the span count, and every body type-checked against the official types."""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
from collections import Counter
from contextlib import closing
from typing import Any

import pytest

from modelspan import findings as F
from modelspan.analyzer.incidents import find_incidents
from modelspan.analyzer.incidents._application import Episode
from modelspan.exporters._document import index_for
from modelspan.store import Window
from modelspan.store._es_traces import TRACES_INDEX, affected_body, evidence_body, series_body
from modelspan.store.elasticsearch import ElasticsearchStore
from tests.contract.tsc import Case, typecheck
from tests.sdk.analyzer.incidents import scenario, spans_table
from tests.store.elasticsearch.fake_es import FakeElasticsearch


def _documents(ran: scenario.Scenario) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(ran.store_path)) as connection:
        return [json.loads(row[0]) for row in connection.execute("SELECT document FROM spans")]


def _on_fake(ran: scenario.Scenario, weight: int = 1) -> tuple[list[dict[str, Any]], list[tuple[str, str, Any]]]:
    with FakeElasticsearch() as fake:
        for document in _documents(ran):
            fake.add(index_for(document), [document], weight=weight)
        assert {name for name in fake.indices} == {"traces-generic.otel-default", "traces-modelspan.otel-default"}
        with ElasticsearchStore(fake.url) as store:
            found = find_incidents(store, ran.window, ran.model_findings, reference=ran.reference)
        return found, [r for r in fake.requests if r[1] != "/"]


@pytest.fixture(scope="module")
def on_sqlite(ran: scenario.Scenario) -> list[dict[str, Any]]:
    store = spans_table.open_store(ran.store_path)
    try:
        return find_incidents(store, ran.window, ran.model_findings, reference=ran.reference)
    finally:
        store.close()


def test_same_incidents_from_elasticsearch_as_from_sqlite(ran: scenario.Scenario,
                                                          on_sqlite: list[dict[str, Any]]) -> None:
    found, _ = _on_fake(ran)
    assert found == on_sqlite
    of_errors = [d for d in found if str(d[F.ID]).startswith(f"incident:{F.TYPE_APP_ERRORS}:")
                 or d.get(F.INCIDENT_KIND) == "model_only"]
    assert Counter(d[F.INCIDENT_KIND] for d in of_errors) == {"correlated": 3, "application_only": 1, "model_only": 1}


def test_eight_requests_whatever_the_number_of_spans(ran: scenario.Scenario) -> None:
    few, requests = _on_fake(ran)
    many, more_requests = _on_fake(ran, weight=1000)  # every span stands for 1,000
    shape = [(method, path) for method, path, _ in requests]
    assert shape == [(method, path) for method, path, _ in more_requests]
    # route series; affected traces per episode; their evidence; a control sample of the failing traces'
    # model versions (traces, routes, evidence); the drifted model's callers (traces, routes)
    assert shape == [("POST", f"/{TRACES_INDEX}/_search")] + [("POST", "/_msearch")] * 7
    # ...and the counts really came from 1,000x the spans, with the same verdicts
    scaled = {d[F.ID]: d for d in many}
    for document in few:
        if document[F.TYPE] == F.TYPE_APP_ERRORS:
            assert scaled[document[F.ID]][F.SAMPLE_COUNT] == 1000 * document[F.SAMPLE_COUNT]
        if document[F.TYPE] == F.TYPE_INCIDENT:
            assert scaled[document[F.ID]][F.INCIDENT_KIND] == document[F.INCIDENT_KIND]


def test_every_body_passes_the_contract_check(ran: scenario.Scenario) -> None:
    _, requests = _on_fake(ran)
    cases = []
    for number, (_, path, body) in enumerate(requests):
        if path.endswith("/_msearch"):
            for part, (header, search) in enumerate(zip(body[::2], body[1::2], strict=True)):
                cases.append(Case(f"msearch {number}.{part} header", "estypes.MsearchMultisearchHeader", header))
                cases.append(Case(f"msearch {number}.{part} body", "SearchBody", search))
        else:
            cases.append(Case(f"search {number}", "SearchBody", body))
    hour = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")
    slow = Episode("latency", "", "GET /slow", False, hour.start, hour.end, 40, 0, 900.0, 120.0, "window", None,
                   120.0)
    cases += [Case("latency episode, no service name", "SearchBody", affected_body(slow)),
              Case("series", "SearchBody", series_body(hour, Window(hour.start - _dt.timedelta(hours=1),
                                                                     hour.start), 120)),
              Case("evidence", "SearchBody", evidence_body(["0" * 32, "1" * 32]))]
    typecheck(cases)


class _FailingFake(FakeElasticsearch):
    """The fake, except that every search of one msearch fails, as a missing field mapping would."""

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        if "traces" in body.get("aggs", {}) and "terms" in body["aggs"]["traces"]:
            raise ValueError("no mapping for [trace_id]")
        return super().search(index, body)


def test_a_failed_search_inside_msearch_is_a_store_error(ran: scenario.Scenario) -> None:
    from modelspan.store.elasticsearch import StoreError

    with _FailingFake() as fake:
        for document in _documents(ran):
            fake.add(index_for(document), [document])
        with ElasticsearchStore(fake.url) as store, pytest.raises(StoreError, match="no mapping"):
            find_incidents(store, ran.window, ran.model_findings, reference=ran.reference)
