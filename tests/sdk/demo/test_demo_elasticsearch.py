"""The Elasticsearch path end to end, as a user with a cluster runs it (issue 16).

Against the loopback Elasticsearch (``tests/store/elasticsearch/fake_es.py``): ``modelspan elastic
setup`` first, then ``modelspan demo --quick`` with ``ELASTICSEARCH_URL`` set, both as commands in
their own processes. The exporter writes gzip bulks into data streams whose types come from the
installed templates, the analyzer aggregates what was written, findings and incidents are written
back and read again. The same demo on the embedded SQLite store must find the same things:
findings and incidents compared as sets of (type, model, version, feature/module or incident kind,
flagged). Every request the stand-in saw must pass the contract check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelspan import findings as F
from modelspan.store.elasticsearch import ElasticsearchStore
from modelspan.store.sqlite import SQLiteStore
from tests.contract.tsc import recorded_cases, typecheck
from tests.store.elasticsearch.fake_es import FakeElasticsearch

pytestmark = pytest.mark.slow  # two demo runs of ~40 s each
Key = tuple[Any, ...]
BORDERLINE = {F.TYPE_APP_LATENCY, F.TYPE_LATENCY, F.TYPE_THROUGHPUT}
"""Verdicts measured on wall-clock time: the planted sub-module regression (+120 ms) is flagged on
both runs and checked as such, but whether an unplanted window's p95 or request rate crosses its
threshold depends on this shared machine's scheduling during each run, not on the store. These
are compared as measured (same type, model, version, module) without their verdict."""
PLANTED_LATENCY = (F.TYPE_LATENCY, "grid_demand", "2.3", "tree_scorer")


def _environment(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("ELASTICSEARCH_", "KIBANA_", "OTEL_", "MODELSPAN_"))}
    return {**keep, **extra}


def _modelspan(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "modelspan", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=400, check=False)


def keys(documents: list[dict[str, Any]]) -> set[Key]:
    """What a finding says, without its numbers: (type, model, version, feature/module/incident kind, flagged)."""
    return {(d[F.TYPE], d.get(F.MODEL_NAME), d.get(F.MODEL_VERSION),
             d.get(F.INCIDENT_KIND) or d.get(F.FEATURE_NAME) or d.get(F.MODULE_NAME),
             None if d[F.TYPE] in BORDERLINE else bool(d.get(F.FLAGGED))) for d in documents}


@pytest.fixture(scope="module")
def elasticsearch_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeElasticsearch, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("es-demo")
    with FakeElasticsearch() as es:
        setup = _modelspan(["elastic", "setup", "--es-url", es.url], _environment(), folder)
        demo = _modelspan(["demo", "--quick", "--report", str(folder / "report.html")],
                          _environment(ELASTICSEARCH_URL=es.url), folder)
        with ElasticsearchStore(es.url) as store:
            stored = store.read_findings()
        yield es, {"setup": setup, "demo": demo, "findings": stored}


@pytest.fixture(scope="module")
def sqlite_findings(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("sqlite-demo")
    demo = _modelspan(["demo", "--quick", "--store", str(folder / "demo.db"), "--report", str(folder / "r.html")],
                      _environment(), folder)
    assert demo.returncode == 0, demo.stderr[-3000:]
    with SQLiteStore(folder / "demo.db") as store:
        return store.read_findings()


def test_setup_then_the_demo_on_elasticsearch_exits_zero(elasticsearch_run: tuple[FakeElasticsearch, Any]) -> None:
    es, run = elasticsearch_run
    assert run["setup"].returncode == 0, run["setup"].stderr
    assert "index template modelspan-traces" in run["setup"].stdout
    assert run["demo"].returncode == 0, run["demo"].stderr[-3000:]
    assert "has no modelspan index templates" not in run["demo"].stderr
    assert f"store:  {es.url}" in run["demo"].stdout
    spans = es.rows("traces-modelspan.otel-*")
    assert len(spans) > 1000 and all(doc.get("_source") for doc, _ in spans)  # written by the exporter
    assert es.mappings["traces-modelspan.otel-demo"]["fields"]["attributes.ml.feature.temperature"]["type"] == "double"


def test_findings_and_incidents_equal_the_sqlite_run(elasticsearch_run: tuple[FakeElasticsearch, Any],
                                                     sqlite_findings: list[dict[str, Any]]) -> None:
    _, run = elasticsearch_run
    on_elasticsearch, on_sqlite = keys(run["findings"]), keys(sqlite_findings)
    flagged = {key for key in on_sqlite if key[-1]}
    # the run planted them
    assert {(F.TYPE_DRIFT, "grid_demand", "2.3", "temperature", True),
            (F.TYPE_DRIFT, "grid_demand", "2.3", "device", True)} <= flagged, sorted(flagged, key=str)
    assert "correlated" in {key[3] for key in flagged if key[0] == F.TYPE_INCIDENT}, sorted(flagged, key=str)
    for stored in (run["findings"], sqlite_findings):  # the planted latency regression, whatever the load
        assert any(d.get(F.FLAGGED) and (d[F.TYPE], d.get(F.MODEL_NAME), d.get(F.MODEL_VERSION),
                                         d.get(F.MODULE_NAME)) == PLANTED_LATENCY for d in stored)
    assert (sorted(on_elasticsearch - on_sqlite, key=str), sorted(on_sqlite - on_elasticsearch, key=str)) == ([], [])


def test_every_request_the_demo_sent_passes_the_contract_check(
        elasticsearch_run: tuple[FakeElasticsearch, Any]) -> None:
    es, _ = elasticsearch_run
    paths = {path for _, path, _ in es.requests}
    assert any(path.endswith("/_bulk") for path in paths) and any(path.endswith("/_msearch") for path in paths)
    assert any(path.startswith("/_index_template/") for path in paths)
    # Every kind of request, each distinct body once; bulks repeat one shape, so a few of them suffice.
    distinct: dict[str, tuple[str, str, Any]] = {}
    bulks = [request for request in es.requests if request[1].endswith("/_bulk")]
    for method, path, body in [request for request in es.requests if request not in bulks] + bulks[:5]:
        distinct.setdefault(json.dumps([path.rsplit("/", 1)[-1], body], sort_keys=True), (method, path, body))
    typecheck(recorded_cases(list(distinct.values())))


def test_the_demo_says_when_setup_has_not_been_run(tmp_path: Path) -> None:
    with FakeElasticsearch() as es:
        demo = _modelspan(["demo", "--duration", "6", "--report", str(tmp_path / "r.html")],
                          _environment(ELASTICSEARCH_URL=es.url), tmp_path)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "`modelspan elastic setup` has not been run" in demo.stderr
