"""The SQLite incident queries on real SDK spans placed at known times, checked against the
Elasticsearch fake on the same documents: latency spikes, nested failing modules, out-of-range inputs.

The spans come from a real TracerProvider: application server spans opened as the HTTP
instrumentations open them, the decorated model inside. Whole traces are then moved to chosen
times and given chosen durations (Python runs in microseconds; a served model does not).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

import modelspan
from modelspan import findings as F
from modelspan import semconv
from modelspan.analyzer.incidents import find_incidents
from modelspan.exporters._document import index_for, span_to_document
from modelspan.instrumentation import _config
from modelspan.store import Window
from modelspan.store._sqlite_traces import percentile
from modelspan.store.elasticsearch import ElasticsearchStore
from tests.sdk.analyzer.incidents import spans_table
from tests.store.elasticsearch.fake_es import FakeElasticsearch

T0 = _dt.datetime(2026, 11, 22, 10, 0, tzinfo=_dt.timezone.utc)
REFERENCE = Window(T0, T0 + _dt.timedelta(minutes=30))
WINDOW = Window(T0 + _dt.timedelta(minutes=30), T0 + _dt.timedelta(minutes=60))
BASELINE = modelspan.Baseline.from_data({"price": [float(p) for p in range(10, 110)]}, model="pricer", version="3")


class Broken(RuntimeError):
    pass


@modelspan.monitor(model="pricer", version="3", baseline=BASELINE)
def pricer(row: dict[str, Any]) -> float:
    with modelspan.module("lookup"):
        price = float(row["price"])
    with modelspan.module("pipeline"), modelspan.module("solver"):
        if row.get("break"):
            raise Broken("solver diverged")
        return price * 1.1


def _request(tracer: Any, route: str, row: dict[str, Any], fail_after_model: bool = False) -> None:
    with tracer.start_as_current_span(f"GET {route}", kind=SpanKind.SERVER,
                                      attributes={"http.route": route, "http.method": "GET"}) as span:
        try:
            price = pricer(row)
            status = 500 if fail_after_model and price > 200 else 200
        except Broken:
            status = 500
        span.set_attribute("http.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))


def _traffic() -> list[tuple[list[Any], _dt.datetime, int, int]]:
    """(spans of one request, when, server ms, solver ms) for the whole reference and window."""
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=exporter)
    tracer = provider.get_tracer("test.http")
    plan: list[tuple[str, dict[str, Any], bool, _dt.datetime, int, int]] = []
    for phase, bad in ((REFERENCE, False), (WINDOW, True)):
        minute = phase.start + _dt.timedelta(minutes=10)
        for i in range(40):
            at = minute + _dt.timedelta(seconds=i)
            slow = bad and i % 2 == 0
            plan.append(("/quote", {"price": 50.0}, False, at, 400 if slow else 20, 380 if slow else 5))
            plan.append(("/price", {"price": 50.0, "break": bad and i % 2 == 1}, False, at, 20, 5))
            plan.append(("/convert", {"price": 500.0 if bad and i % 2 else 50.0}, True, at, 20, 5))
    requests = []
    try:
        for route, row, fail_after, at, server_ms, solver_ms in plan:
            before = len(exporter.get_finished_spans())
            _request(tracer, route, row, fail_after)
            modelspan.force_flush()
            requests.append((list(exporter.get_finished_spans()[before:]), at, server_ms, solver_ms))
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()
    return requests


def _documents() -> Iterator[dict[str, Any]]:
    for spans, at, server_ms, solver_ms in _traffic():
        shift = int(at.timestamp() * 1e9) - min(s.start_time for s in spans)
        for span in spans:
            document = span_to_document(span)
            start = span.start_time + shift
            document["@timestamp"] = f"{start // 1_000_000}.{start % 1_000_000}"
            name = document["attributes"].get(semconv.MODULE_NAME)
            if document["kind"] == "Server":
                document["duration"] = server_ms * 1_000_000
            elif name in ("solver", "pipeline") or document["attributes"].get(semconv.SPAN_KIND) == "model":
                document["duration"] = (solver_ms + {"solver": 0, "pipeline": 1}.get(name, 2)) * 1_000_000
            yield document


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    return list(_documents())


MODEL_FINDINGS = [
    {F.ID: "latency:pricer:3:solver", F.TYPE: F.TYPE_LATENCY, F.FLAGGED: True, F.MODEL_NAME: "pricer",
     F.MODEL_VERSION: "3", F.MODULE_NAME: "solver", F.WINDOW_START: WINDOW.iso()[0], F.WINDOW_END: WINDOW.iso()[1]},
]


@pytest.fixture(scope="module")
def on_sqlite(documents: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    path: Path = tmp_path_factory.mktemp("sqlite") / "modelspan.db"
    store = spans_table.open_store(path)
    spans_table.load(store, path, documents)
    try:
        return find_incidents(store, WINDOW, MODEL_FINDINGS)  # reference: the previous 30 minutes
    finally:
        store.close()


def _incident(found: list[dict[str, Any]], route: str) -> dict[str, Any]:
    (incident,) = [d for d in found if d[F.TYPE] == F.TYPE_INCIDENT and d.get(F.ROUTE) == route]
    return incident


def test_latency_spike_is_put_down_to_the_regressed_sub_module(on_sqlite: list[dict[str, Any]]) -> None:
    (spike,) = [d for d in on_sqlite if d[F.TYPE] == F.TYPE_APP_LATENCY]
    assert (spike[F.ROUTE], spike[F.METRIC_VALUE], spike[F.METRIC_REFERENCE_VALUE]) == ("/quote", 400.0, 20.0)
    incident = _incident(on_sqlite, "/quote")
    assert incident[F.INCIDENT_KIND] == "correlated" and incident[F.MODULE_NAME] == "solver"
    assert incident[F.INCIDENT_EVIDENCE_SHARE] == 1.0 and incident[F.SAMPLE_COUNT] == 20
    assert incident[F.INCIDENT_MODEL_FINDINGS] == ["latency:pricer:3:solver"]


def test_the_innermost_failing_module_is_named(on_sqlite: list[dict[str, Any]]) -> None:
    incident = _incident(on_sqlite, "/price")  # 'solver' raised inside 'pipeline': both spans failed
    assert incident[F.INCIDENT_KIND] == "correlated" and incident[F.MODULE_NAME] == "solver"
    assert incident[F.SAMPLE_COUNT] == 20 and incident[F.INCIDENT_EVIDENCE_SHARE] == 1.0


def test_out_of_range_inputs_behind_application_failures(on_sqlite: list[dict[str, Any]]) -> None:
    incident = _incident(on_sqlite, "/convert")  # the model answered; the app choked on its answer
    assert incident[F.INCIDENT_KIND] == "correlated" and F.MODULE_NAME not in incident
    assert incident[F.FEATURE_NAME] == "price"
    assert "outside the baseline's range" in incident[F.SUMMARY]


def test_elasticsearch_gives_the_same_incidents(documents: list[dict[str, Any]],
                                                on_sqlite: list[dict[str, Any]]) -> None:
    with FakeElasticsearch() as fake:
        for document in documents:
            fake.add(index_for(document), [document])
        with ElasticsearchStore(fake.url) as store:
            assert find_incidents(store, WINDOW, MODEL_FINDINGS) == on_sqlite


def test_nearest_rank_percentile() -> None:
    assert percentile([], 95) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([float(v) for v in range(1, 101)], 95) == 95.0
    assert percentile([float(v) for v in range(1, 21)], 95) == 19.0


def test_a_model_without_application_spans_is_model_only_with_unknown_impact(tmp_path: Path) -> None:
    from tests.store.elasticsearch.traffic import WINDOW as HOUR
    from tests.store.elasticsearch.traffic import generate

    documents = generate(singles=30, batches=2).documents  # model and module spans only, no HTTP server
    drift = {F.ID: "drift:churn:3:temp", F.TYPE: F.TYPE_DRIFT, F.FLAGGED: True, F.MODEL_NAME: "churn",
             F.MODEL_VERSION: "3", F.FEATURE_NAME: "temp", F.TRACE_IDS: ["a" * 32]}
    store = spans_table.open_store(tmp_path / "modelspan.db")
    try:
        spans_table.load(store, tmp_path / "modelspan.db", documents)
        on_sqlite = find_incidents(store, HOUR, [drift])
    finally:
        store.close()
    with FakeElasticsearch() as fake:
        fake.add("traces-modelspan.otel-default", documents)
        with ElasticsearchStore(fake.url) as es:
            assert find_incidents(es, HOUR, [drift]) == on_sqlite
    (incident,) = on_sqlite
    assert (incident[F.INCIDENT_KIND], incident[F.INCIDENT_MODEL_FINDINGS]) == ("model_only", ["drift:churn:3:temp"])
    assert F.ROUTE not in incident and incident[F.TRACE_IDS][0] == "a" * 32 and len(incident[F.TRACE_IDS]) > 1
    assert "effect on requests is unknown" in incident[F.SUMMARY]
