"""End to end on real instrumented HTTP apps: the three incident kinds, found in the SQLite store."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from typing import Any

import pytest

from modelspan import findings as F
from modelspan import semconv
from modelspan.analyzer.incidents import detect_application_incidents, find_incidents
from tests.sdk.analyzer.incidents import scenario, spans_table


@pytest.fixture(scope="module")
def found(ran: scenario.Scenario) -> list[dict[str, Any]]:
    store = spans_table.open_store(ran.store_path)
    try:
        return find_incidents(store, ran.window, ran.model_findings, reference=ran.reference)
    finally:
        store.close()


def _spans(ran: scenario.Scenario) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(ran.store_path)) as connection:
        return [json.loads(row[0]) for row in connection.execute("SELECT document FROM spans")]


def _incident(found: list[dict[str, Any]], route_suffix: str) -> dict[str, Any]:
    """The incident of the error burst on a route (a busy test machine may add genuine latency spikes)."""
    matching = [d for d in found if str(d[F.ID]).startswith(f"incident:{F.TYPE_APP_ERRORS}:")
                and str(d.get(F.ROUTE, "")).endswith(route_suffix)]
    assert len(matching) == 1, found
    return matching[0]


def test_model_spans_nest_under_the_asgi_server_span(ran: scenario.Scenario) -> None:
    spans = _spans(ran)
    by_id = {s["span_id"]: s for s in spans}
    risk = [s for s in spans if s["attributes"].get(semconv.MODEL_NAME) == "risk"
            and s["attributes"].get(semconv.SPAN_KIND) == semconv.SPAN_KIND_MODEL]
    assert risk
    for span in risk:
        parent = by_id[span["parent_span_id"]]
        assert parent["kind"] == "Server" and parent["trace_id"] == span["trace_id"]
        assert parent["resource"]["attributes"]["service.name"] == "shop"
        assert parent["name"] in ("POST /checkout", "POST /cart")
    scorer = [s for s in spans if s["attributes"].get(semconv.MODULE_NAME) == "scorer"]
    assert {by_id[s["parent_span_id"]]["attributes"].get(semconv.MODEL_NAME) for s in scorer} == {"risk"}


def test_trace_context_crosses_into_the_wsgi_model_service_process(ran: scenario.Scenario) -> None:
    spans = _spans(ran)
    by_id = {s["span_id"]: s for s in spans}
    recommender = [s for s in spans if s["attributes"].get(semconv.MODEL_NAME) == "recommender"
                   and s["attributes"].get(semconv.SPAN_KIND) == semconv.SPAN_KIND_MODEL]
    assert len(recommender) == 2 * scenario.ROUNDS
    for span in recommender:
        wsgi = by_id[span["parent_span_id"]]  # model service's WSGI server span, in the other process
        client = by_id[wsgi["parent_span_id"]]  # the shop's httpx client span
        shop = by_id[client["parent_span_id"]]  # the shop's ASGI server span
        assert (wsgi["kind"], client["kind"], shop["kind"]) == ("Server", "Client", "Server")
        assert wsgi["resource"]["attributes"]["service.name"] == "model-service"
        assert shop["resource"]["attributes"]["service.name"] == "shop"
        assert shop["name"] == "POST /recommend"
        assert len({span["trace_id"], wsgi["trace_id"], client["trace_id"], shop["trace_id"]}) == 1


def test_model_caused_error_burst_is_correlated_and_names_the_sub_module(ran: scenario.Scenario,
                                                                       found: list[dict[str, Any]]) -> None:
    incident = _incident(found, "/checkout")
    assert incident[F.INCIDENT_KIND] == "correlated"
    assert incident[F.MODULE_NAME] == "scorer"
    assert (incident[F.MODEL_NAME], incident[F.MODEL_VERSION]) == ("risk", "1")
    assert incident[F.INCIDENT_EVIDENCE_SHARE] == 1.0
    failing = scenario.ROUNDS * 3 // 4
    assert incident[F.SAMPLE_COUNT] == failing  # every failing request was sampled and explained
    assert incident[F.INCIDENT_EVIDENCE_COUNT] == failing
    assert "error" in incident[F.INCIDENT_EVIDENCE_REASONS]
    assert incident[F.INCIDENT_MODEL_FINDINGS] == [f"error_rate:risk:1:{ran.window.iso()[0]}"]
    app = [d for d in found if d[F.ID] in incident[F.INCIDENT_APP_FINDINGS]]
    assert [d[F.TYPE] for d in app] == [F.TYPE_APP_ERRORS]
    calls = app[0][F.SAMPLE_COUNT]  # the episode may start after the phase's first (healthy) request
    assert calls in (scenario.ROUNDS - 1, scenario.ROUNDS)
    assert app[0][F.METRIC_VALUE] * calls == pytest.approx(failing)
    assert set(app[0][F.TRACE_IDS]) == set(incident[F.TRACE_IDS])  # examples: failing requests
    assert len(incident[F.TRACE_IDS]) == F.MAX_EXAMPLE_TRACES
    assert "scorer" in incident[F.SUMMARY] and "risk" in incident[F.SUMMARY]


def test_model_failing_in_another_process_is_correlated_through_the_propagated_trace(
        found: list[dict[str, Any]]) -> None:
    shop = _incident(found, "POST /quote")  # the shop's route: its trace continues in the model service
    service = _incident(found, "POST /price")  # the model service's own route
    for incident in (shop, service):
        assert incident[F.INCIDENT_KIND] == "correlated"
        assert (incident[F.MODEL_NAME], incident[F.MODEL_VERSION], incident[F.MODULE_NAME]) == ("pricing", "4",
                                                                                                 "solver")
        assert incident[F.INCIDENT_EVIDENCE_SHARE] == 1.0
    assert (shop[F.SERVICE_NAME], service[F.SERVICE_NAME]) == ("shop", "model-service")
    assert set(shop[F.TRACE_IDS]) == set(service[F.TRACE_IDS])  # the same requests, seen from both sides


def test_application_only_error_burst_is_not_blamed_on_the_model(found: list[dict[str, Any]]) -> None:
    incident = _incident(found, "/cart")
    assert incident[F.INCIDENT_KIND] == "application_only"
    assert incident[F.INCIDENT_EVIDENCE_SHARE] == 0.0
    assert (incident[F.INCIDENT_EVIDENCE_COUNT], incident[F.INCIDENT_EVIDENCE_REASONS]) == (0, [])
    assert F.MODULE_NAME not in incident and F.MODEL_NAME not in incident
    assert incident[F.INCIDENT_MODEL_FINDINGS] == []
    assert "Not the model" in incident[F.SUMMARY]


def test_drift_without_application_impact_is_model_only(ran: scenario.Scenario,
                                                        found: list[dict[str, Any]]) -> None:
    model_only = [d for d in found if d.get(F.INCIDENT_KIND) == "model_only"]
    assert [(d[F.MODEL_NAME], d[F.MODEL_VERSION]) for d in model_only] == [("recommender", "2")]
    assert model_only[0][F.INCIDENT_MODEL_FINDINGS] == [f"drift:recommender:2:age:{ran.window.iso()[0]}"]
    assert model_only[0][F.FEATURE_NAME] == "age"
    # No request on /recommend or the model service failed: the drift hurt no request yet...
    errors = [d for d in found if d[F.TYPE] == F.TYPE_APP_ERRORS]
    assert {d[F.ROUTE] for d in errors} == {"POST /checkout", "POST /cart", "POST /quote", "POST /price"}
    # ...and the incident says whom the drifted model serves: the shop's /recommend, across processes
    assert (model_only[0][F.SERVICE_NAME], model_only[0][F.ROUTE]) == ("shop", "POST /recommend")
    assert model_only[0][F.SAMPLE_COUNT] == scenario.ROUNDS  # the requests in the window
    assert "It serves POST /recommend on shop." in model_only[0][F.SUMMARY]


def test_documents_use_only_findings_fields_and_stable_ids(ran: scenario.Scenario, found: list[dict[str, Any]]) -> None:
    assert all(set(d) <= F.field_names() for d in found)
    assert len({d[F.ID] for d in found}) == len(found)
    store = spans_table.open_store(ran.store_path)
    try:
        again = find_incidents(store, ran.window, ran.model_findings, reference=ran.reference)
        applications = detect_application_incidents(store, ran.window, reference=ran.reference)
    finally:
        store.close()
    assert again == found
    assert applications == [d for d in found if d[F.TYPE] in (F.TYPE_APP_ERRORS, F.TYPE_APP_LATENCY)]


def test_incidents_ask_the_store_interface_not_its_internals() -> None:
    from modelspan.store import Window

    window = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")
    with pytest.raises(AttributeError, match="traces"):
        find_incidents(object(), window, [])  # type: ignore[arg-type]
