"""record_outcome / record_outcomes into SQLite files and (loopback) Elasticsearch."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
import pytest

from modelspan import findings, outcomes
from modelspan.store.sqlite import SQLiteStore
from tests.contract.tsc import Case, typecheck
from tests.store.elasticsearch.fake_es import FakeElasticsearch
from tests.store.elasticsearch.fake_search import source_of
from tests.store.elasticsearch.traffic import WINDOW, generate


def test_outcomes_join_predictions_and_replace_by_id(tmp_path: Path) -> None:
    traffic = generate(singles=20, batches=2, batch_size=4)
    path = tmp_path / "store.db"
    with SQLiteStore(path) as store:
        store.load_documents(traffic.documents)
    models = [d for d in traffic.documents if d["attributes"].get("ml.span.kind") == "model"]
    single = next(d for d in models if "ml.output.label" in d["attributes"])
    batch = next(d for d in models if "ml.output.labels" in d["attributes"])
    single_id, batch_id = single["attributes"]["ml.prediction.id"], batch["attributes"]["ml.prediction.id"]
    assert outcomes.record_outcome(single_id, "no", store=path, timestamp="2026-11-23T09:00:00Z") == 1
    assert outcomes.record_outcome(single_id, "yes", store=path, timestamp="2026-11-23T09:00:00Z") == 1
    assert outcomes.record_outcomes([(f"{batch_id}:2", np.str_("no")), ("never-predicted", "yes")],
                                    store=str(path)) == 2
    with SQLiteStore(path) as store:
        joined = {p.prediction_id: p for p in store.labelled_predictions(WINDOW, "churn", "3")}
    assert set(joined) == {single_id, f"{batch_id}:2"}
    assert joined[single_id].actual == "yes"  # re-recording replaced the first label
    assert joined[single_id].label == single["attributes"]["ml.output.label"]
    assert joined[f"{batch_id}:2"].label == batch["attributes"]["ml.output.labels"][2]
    assert joined[f"{batch_id}:2"].trace_id == batch["trace_id"]


def test_default_store_is_the_exporters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    monkeypatch.delenv("ELASTICSEARCH_CLOUD_ID", raising=False)
    monkeypatch.setenv("MODELSPAN_STORE", str(tmp_path / "env.db"))
    moment = _dt.datetime(2026, 11, 23, 9, 30, tzinfo=_dt.timezone.utc)
    assert outcomes.record_outcomes([("a", 1.5, moment), ("b", np.int64(2))]) == 2
    with SQLiteStore(tmp_path / "env.db") as store:
        rows = store.connection.execute("SELECT prediction_id, actual, timestamp FROM outcomes ORDER BY 1").fetchall()
    assert rows[0] == ("a", "1.5", "2026-11-23T09:30:00.000Z")
    assert rows[1][:2] == ("b", "2")


@pytest.mark.parametrize(("pair", "message"), [
    ((None, "yes"), "prediction_id"),
    (("", "yes"), "prediction_id"),
    (("p", object()), "cannot be stored"),
    (("p", float("nan")), "cannot be stored"),
    (("p", "yes", "yesterday"), "timestamp"),
    (("p",), "expected"),
    ("p", "expected"),
])
def test_bad_input_is_refused_and_nothing_is_written(tmp_path: Path, pair: object, message: str) -> None:
    path = tmp_path / "store.db"
    with pytest.raises(ValueError, match=message):
        outcomes.record_outcomes([("good", "yes"), pair], store=path)  # type: ignore[list-item]
    assert not path.exists()  # validated before the store was even opened
    with pytest.raises(ValueError, match="store must be"):
        outcomes.record_outcomes([("good", "yes")], store=42)


def test_elasticsearch_gets_index_actions_keyed_by_prediction_id() -> None:
    with FakeElasticsearch() as fake:
        assert outcomes.record_outcomes([("p1", "yes"), ("p2:0", 3.5, "2026-11-23T09:00:00Z")],
                                        store=fake.url) == 2
        assert outcomes.record_outcome("p1", "no", store=fake.url) == 1
        bulks = [body for _, path, body in fake.requests if path.endswith("/_bulk")]
    lines = [line for body in bulks for line in body]
    actions = lines[::2]
    assert [a["index"]["_id"] for a in actions] == ["p1", "p2:0", "p1"]
    assert {a["index"]["_index"] for a in actions} == {findings.OUTCOMES_INDEX}
    assert lines[3] == {"@timestamp": "2026-11-23T09:00:00.000Z", "prediction.id": "p2:0", "actual": 3.5}
    stored = {doc["_id"]: source_of(doc)["actual"] for doc, _ in fake.indices[findings.OUTCOMES_INDEX]}
    assert stored == {"p2:0": 3.5, "p1": "no"}  # recording p1 again replaced it
    typecheck([Case(f"outcome action {n}", "BulkOperation", action) for n, action in enumerate(actions)])
