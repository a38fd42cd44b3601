"""The Elasticsearch store's contract-2 extras against the computing fake, every body contract-checked."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from modelspan import findings
from modelspan.baseline import Baseline
from modelspan.elasticsearch import layout
from modelspan.store import Window
from modelspan.store import _es_extras as extras
from modelspan.store.elasticsearch import ElasticsearchStore
from tests.contract.tsc import Case, recorded_cases, typecheck
from tests.store.elasticsearch.fake_es import FakeElasticsearch
from tests.store.elasticsearch.fake_search import source_of

WINDOW = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")


def _baseline(version: str, shift: float = 0.0) -> Baseline:
    rng = np.random.default_rng(3)
    data = {"temp": (rng.normal(20, 5, 500) + shift).tolist(), "plan": rng.choice(["a", "b"], 500).tolist()}
    return Baseline.from_data(data, model="churn", version=version, categorical=["plan"])


def _finding(number: int, kind: str, model: str = "churn", start: str = "2026-11-22T10:00:00.000Z") -> dict[str, Any]:
    return {findings.ID: f"{kind}:{model}:3:f{number}:{start}", findings.TYPE: kind, findings.FLAGGED: False,
            findings.MODEL_NAME: model, findings.MODEL_VERSION: "3", findings.WINDOW_START: start,
            findings.WINDOW_END: "2026-11-22T11:00:00.000Z", findings.TIMESTAMP: "2026-11-22T11:00:00.000Z"}


@pytest.fixture
def fake() -> Any:
    with FakeElasticsearch() as server:
        yield server


def test_baselines_round_trip_and_are_replaced_per_version(fake: FakeElasticsearch) -> None:
    with ElasticsearchStore(fake.url) as store:
        assert store.load_baseline("churn", "3") is None
        first, second, other = _baseline("3"), _baseline("3", shift=10.0), _baseline("4")
        store.save_baseline(first)
        store.save_baseline(other)
        assert store.load_baseline("churn", "3") == first
        store.save_baseline(second)
        assert store.load_baseline("churn", "3") == second
        assert store.load_baseline("churn", "4") == other
        assert store.load_baseline("other", "3") is None
    assert len(fake.indices[layout.BASELINES_INDEX]) == 2


def test_checkpoints_are_replaced_by_name(fake: FakeElasticsearch) -> None:
    with ElasticsearchStore(fake.url) as store:
        assert store.get_checkpoint("analyze") is None
        store.set_checkpoint("analyze", "2026-11-22T10:05:00Z")
        store.set_checkpoint("analyze", "2026-11-22T10:10:00Z")
        store.set_checkpoint("other", "x")
        assert store.get_checkpoint("analyze") == "2026-11-22T10:10:00Z"
        assert store.get_checkpoint("other") == "x"


def test_outcomes_are_replaced_by_prediction_id(fake: FakeElasticsearch) -> None:
    with ElasticsearchStore(fake.url) as store:
        assert store.record_outcomes([("p1", "yes"), ("p2", 3.5, "2026-11-22T10:30:00Z")]) == 2
        store.record_outcomes([("p1", "no")])
    stored = {doc["prediction.id"]: source_of(doc) for doc, _ in fake.indices[findings.OUTCOMES_INDEX]}
    assert stored["p1"]["actual"] == "no" and stored["p2"]["actual"] == 3.5
    assert stored["p2"]["@timestamp"] == "2026-11-22T10:30:00Z" and len(stored) == 2


def test_read_findings_filters_and_pages(fake: FakeElasticsearch, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extras, "FINDINGS_PAGE", 3)
    docs = [_finding(i, findings.TYPE_DRIFT) for i in range(7)]
    docs += [_finding(i, findings.TYPE_LATENCY, model="other") for i in range(2)]
    docs.append(_finding(0, findings.TYPE_DRIFT, start="2026-11-21T10:00:00.000Z"))  # another window
    with ElasticsearchStore(fake.url) as store:
        store.write_findings(docs)
        everything = store.read_findings()
        in_window = store.read_findings(WINDOW)
        drift = store.read_findings(WINDOW, types=[findings.TYPE_DRIFT])
        other = store.read_findings(WINDOW, model="other")
    assert len(everything) == 10
    assert len(in_window) == 9
    assert sorted(d[findings.ID] for d in drift) == sorted(d[findings.ID] for d in docs[:7])
    assert {d[findings.TYPE] for d in other} == {findings.TYPE_LATENCY} and len(other) == 2
    assert all("_id" not in d for d in everything)


def test_every_extras_body_type_checks(fake: FakeElasticsearch) -> None:
    with ElasticsearchStore(fake.url) as store:
        store.save_baseline(_baseline("3"))
        store.load_baseline("churn", "3")
        store.set_checkpoint("analyze", "x")
        store.get_checkpoint("analyze")
        store.record_outcomes([("p1", "yes")])
        store.write_findings([_finding(1, findings.TYPE_DRIFT)])
        store.read_findings(WINDOW, types=[findings.TYPE_DRIFT], model="churn")
    cases = recorded_cases(fake.requests)
    cases.append(Case("paged findings", "SearchBody", extras.findings_body(WINDOW, ["drift"], "m", after=["x"])))
    assert len(cases) >= 8
    typecheck(cases)
