"""Experiments from Elasticsearch: the same unit sums as the SQLite store, and type-checked bodies.

Real monitored calls (assigned arms, unit-less calls, shadow calls) are turned into span documents
by the exporter's own encoder and loaded into the fake Elasticsearch and a real SQLite store; the
aggregation path must give the same units, counts and sums as the SQL path.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan import semconv
from modelspan.exporters._document import span_to_document
from modelspan.instrumentation import _config, _experiment
from modelspan.store import Window
from modelspan.store import _es_experiments as es
from modelspan.store._sqlite_experiments import experiment_stats
from modelspan.store.sqlite import SQLiteStore
from tests.contract.tsc import Case, typecheck
from tests.store.elasticsearch.fake_es import FakeElasticsearch

INDEX = "traces-modelspan.otel-default"
NOW = _dt.datetime.now(_dt.timezone.utc)
WINDOW = Window(NOW - _dt.timedelta(hours=1), NOW + _dt.timedelta(hours=1))


@pytest.fixture(scope="module")
def documents() -> Iterator[list[dict[str, Any]]]:
    provider, exporter = TracerProvider(), InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=exporter)
    try:
        yield _traffic(exporter)
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.enabled = True


def _traffic(exporter: InMemorySpanExporter) -> list[dict[str, Any]]:
    @modelspan.monitor(model="ranker", version="2")
    def challenger(row: dict[str, float]) -> float:
        if row["x"] > 0.9:
            raise RuntimeError("challenger failed")
        return round(row["x"] + 0.1, 2)

    @modelspan.shadow(challenger, experiment="ranker-v2")
    @modelspan.monitor(model="ranker", version="1")
    def champion(row: dict[str, float]) -> float:
        return row["x"]

    for i in range(60):
        with modelspan.assign("ranker-v2", f"user-{i % 23}", ["champion", "challenger"]) as assignment:
            model = champion if assignment.arm == "champion" else challenger
            with contextlib.suppress(RuntimeError):
                model({"x": (i % 10) / 10})
    # Calls of an experiment that recorded no unit (e.g. another assignment system): one bucket per arm.
    token = _experiment.current.set(_experiment.Scope({semconv.EXPERIMENT_ID: "ranker-v2",
                                                       semconv.EXPERIMENT_ARM: "challenger"}))
    try:
        for x in (0.2, 0.95, 0.4):
            with contextlib.suppress(RuntimeError):
                challenger({"x": x})
    finally:
        _experiment.current.reset(token)
    assert champion.shadow.flush(30)  # type: ignore[attr-defined]
    modelspan.force_flush()
    return [span_to_document(span) for span in exporter.get_finished_spans()]


def _sqlite(tmp_path: Path, documents: list[dict[str, Any]]) -> Any:
    with SQLiteStore(tmp_path / "store.db") as store:
        store.load_documents(documents)
        return experiment_stats(store.connection, "ranker-v2", WINDOW)


@pytest.mark.parametrize("page", [7, 1000])
def test_aggregations_give_the_same_units_as_sql(documents: list[dict[str, Any]], tmp_path: Path, page: int) -> None:
    with FakeElasticsearch() as fake:
        fake.add(INDEX, documents)
        ours = es.experiment_stats(lambda body: fake.search(INDEX, body), "ranker-v2", WINDOW, page=page)
    sql = _sqlite(tmp_path, documents)
    key = sorted((u.arm, u.unit or "", u.calls, u.errors) for u in ours.units)
    assert key == sorted((u.arm, u.unit or "", u.calls, u.errors) for u in sql.units) and len(key) > 20
    assert ("challenger", "", 3, 1) in key  # the unit-less calls, in one bucket
    for a, b in zip(sorted(ours.units, key=lambda u: (u.arm, u.unit or "")),
                    sorted(sql.units, key=lambda u: (u.arm, u.unit or "")), strict=True):
        assert a.duration_ms_sum == pytest.approx(b.duration_ms_sum)
        assert a.duration_ms_sum_sq == pytest.approx(b.duration_ms_sum_sq)
    assert [(a.arm, a.calls, a.errors, a.versions) for a in ours.arms] == [
        (a.arm, a.calls, a.errors, a.versions) for a in sql.arms]
    assert ours.shadow is not None and sql.shadow is not None
    assert (ours.shadow.calls, ours.shadow.compared) == (sql.shadow.calls, sql.shadow.compared)
    assert ours.shadow.churn == pytest.approx(sql.shadow.churn)
    assert ours.shadow.mean_abs_difference == pytest.approx(sql.shadow.mean_abs_difference)
    assert not ours.labels_joined and ours.shadow.champion_only_right is None


def test_bodies_and_responses_type_check(documents: list[dict[str, Any]]) -> None:
    with FakeElasticsearch() as fake:
        fake.add(INDEX, documents)
        first = fake.search(INDEX, es.units_body("ranker-v2", WINDOW, size=5))
        after = first["aggregations"]["units"]["after_key"]
        cases = [Case("experiment units", "SearchBody", es.units_body("ranker-v2", WINDOW, size=5)),
                 Case("experiment units, next page", "SearchBody", es.units_body("ranker-v2", WINDOW, after, 5)),
                 Case("experiment summary", "SearchBody", es.summary_body("ranker-v2", WINDOW)),
                 Case("units response", "estypes.SearchResponse", first),
                 Case("summary response", "estypes.SearchResponse",
                      fake.search(INDEX, es.summary_body("ranker-v2", WINDOW)))]
    typecheck(cases)


def test_the_command_gates_on_elasticsearch(documents: list[dict[str, Any]], capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from modelspan import findings as F
    from modelspan.cli import main

    for name in ("ELASTICSEARCH_URL", "ELASTICSEARCH_CLOUD_ID", "ELASTICSEARCH_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    since, until = WINDOW.iso()
    with FakeElasticsearch() as fake:
        fake.add(INDEX, documents)
        assert main(["experiment", "create", "ranker-v2", "--arm", "champion=0.5", "--arm", "challenger=0.5",
                     "--control", "champion", "--store", fake.url]) == 0
        capsys.readouterr()
        code = main(["experiment", "show", "ranker-v2", "--store", fake.url, "--since", since, "--until", until,
                     "--format", "json"])
        report = json.loads(capsys.readouterr().out)
        written = [d for d, _ in fake.rows(F.FINDINGS_INDEX) if d.get(F.TYPE) == F.TYPE_EXPERIMENT]
    assert code == 1 and report["status"] == "not_enough_data"  # 23 units: far below 100 per arm
    assert report["labels_joined"] is False and report["shadow"]["calls"] > 0
    assert sum(a["units"] for a in report["arms"]) == 23 + 3 and report["calls_without_unit"] == 3
    assert len(written) == report["written"] > 0
