"""Issue 12, found items 1, 2, 3, 5, 6: real model outputs and real inputs, each read as meant.

One test (or a small group) per found item; each failed before its fix. Real objects throughout: a
real TracerProvider with an in-memory exporter, real SQLite files, scikit-learn's own estimators.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider

import modelspan
from modelspan import findings, semconv
from modelspan.analyzer import analyze
from modelspan.baseline import Baseline
from modelspan.exporters._document import span_to_document
from modelspan.instrumentation import _exporters
from modelspan.sqlite import _schema
from modelspan.store import Window
from modelspan.store.elasticsearch import ElasticsearchStore
from modelspan.store.sqlite import SQLiteStore
from tests.sdk.conftest import Spans
from tests.store.elasticsearch.fake_es import FakeElasticsearch

pd = pytest.importorskip("pandas")


def _window_of(spans: Spans) -> Window:
    starts = [span.start_time or 0 for span in spans.all()]
    start = _dt.datetime.fromtimestamp(min(starts) // 10**9 - 1, _dt.timezone.utc)
    return Window(start, start + _dt.timedelta(hours=1))


def _stored(spans: Spans, path: Path) -> SQLiteStore:
    store = SQLiteStore(path)
    store.load_documents([span_to_document(span) for span in spans.all()])
    return store


@contextmanager
def _backend(name: str, spans: Spans, path: Path, baseline: Baseline) -> Iterator[Any]:
    """The same spans in either store: a SQLite file, or Elasticsearch (the test suite's fake server)."""
    if name == "sqlite":
        with _stored(spans, path) as store:
            store.save_baseline(baseline)
            yield store
        return
    with FakeElasticsearch() as fake:
        fake.add("traces-modelspan.otel-default", [span_to_document(span) for span in spans.all()])
        with ElasticsearchStore(fake.url) as store:
            store.save_baseline(baseline)
            yield store


# --- 1. scikit-learn outputs are read, or counted and logged naming the shape ---------------------

def test_one_row_string_and_integer_arrays_are_labels(spans: Spans) -> None:
    @modelspan.monitor(model="m1")
    def names(row: dict[str, float]) -> Any:
        return np.array(["benign"], dtype=object)  # clf.predict on one row, string classes

    @modelspan.monitor(model="m1")
    def codes(row: dict[str, float]) -> Any:
        return np.array([1])

    @modelspan.monitor(model="m1", task="classification")
    def floats(row: dict[str, float]) -> Any:
        return np.array([1.0])

    for predict in (names, codes, floats):
        predict({"x": 1.0})
    labels = [dict(s.attributes or {}).get(semconv.OUTPUT_LABEL) for s in spans.models()]
    values = [dict(s.attributes or {}).get(semconv.OUTPUT_VALUE) for s in spans.models()]
    assert labels == ["benign", "1", "1"] and values == [None, None, None]


def test_batches_of_objects_and_series_keep_their_outputs(spans: Spans) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})

    @modelspan.monitor(model="m1")
    def classify(batch: Any) -> Any:
        return np.array(["a", "b", "a"], dtype=object)

    @modelspan.monitor(model="m1")
    def regress(batch: Any) -> Any:
        return pd.Series([1.5, 2.5, 3.5])

    classify(frame)
    regress(frame)
    first, second = (dict(s.attributes or {}) for s in spans.models())
    assert list(first[semconv.OUTPUT_LABELS]) == ["a", "b", "a"]
    assert first[semconv.batch_stat(semconv.OUTPUT_FEATURE, semconv.STAT_COUNT)] == 3
    assert list(second[semconv.OUTPUT_VALUES]) == [1.5, 2.5, 3.5]
    assert second[semconv.batch_stat(semconv.OUTPUT_FEATURE, semconv.STAT_SUM)] == 7.5


def test_predict_proba_columns_are_named_by_the_models_classes(spans: Spans) -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = np.where(x[:, 0] > 0, 7, 3)  # integer classes that are not 0..k-1
    fitted = LogisticRegression().fit(x, y)

    class Model:
        classes_ = fitted.classes_

        @modelspan.monitor(model="m1")
        def predict_proba(self, batch: Any) -> Any:
            return fitted.predict_proba(batch)

    late = LogisticRegression()

    @modelspan.monitor(model="m1", classes=late)  # the model itself names the columns, even fitted later
    def proba(batch: Any) -> Any:
        return late.predict_proba(batch)

    Model().predict_proba(x[:4])
    late.fit(x, y)
    proba(x[:4])
    expected = [str(label) for label in fitted.predict(x[:4])]
    for span in spans.models():
        assert list(dict(span.attributes or {})[semconv.OUTPUT_LABELS]) == expected


def test_an_unreadable_output_is_counted_and_logged_with_its_shape(
        spans: Spans, caplog: pytest.LogCaptureFixture) -> None:
    @modelspan.monitor(model="m1")
    def cube(batch: Any) -> Any:
        return np.zeros((len(batch), 2, 2), dtype=np.complex128)

    before = modelspan.monitoring_errors()
    with caplog.at_level(logging.WARNING, logger="modelspan"):
        result = cube(np.zeros((2, 3)))
    assert result.shape == (2, 2, 2)
    assert modelspan.monitoring_errors() == before + 1
    assert spans.one()[semconv.MONITORING_ERRORS] == 1
    logged = [r for r in caplog.records if "monitor.output (numpy.ndarray complex128 3-D)" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "numpy.ndarray complex128 (2, 2, 2)" in str(logged[0].exc_info[1])
    cube(np.zeros((5, 3)))  # another size of the same kind: counted, not logged again
    assert modelspan.monitoring_errors() == before + 2
    assert len([r for r in caplog.records if "monitor.output" in r.getMessage()]) == 1


# --- 2. one canonical value for labels and categories ----------------------------------------------

def test_canonical_values() -> None:
    same = [1, np.int64(1), 1.0, np.float32(1.0), "1", np.str_("1"), np.uint8(1)]
    assert {semconv.category_value(value) for value in same} == {"1"}
    assert [semconv.category_value(v) for v in (True, np.bool_(False), 0.25, float("nan"), None, 2.0**60)] == \
        ["true", "false", "0.25", None, None, repr(2.0**60)]


def test_integer_codes_match_whatever_numeric_type_carries_them(spans: Spans, tmp_path: Path) -> None:
    codes = np.random.default_rng(1).integers(0, 5, 400)
    # A CSV column with one blank cell is read as float: the codes must stay "0".."4".
    blank = pd.DataFrame({"code": [*codes[:-1].astype(float), np.nan]})
    for number, data in enumerate(({"code": codes}, blank)):
        spans.exporter.clear()
        baseline = Baseline.from_data(data, model="m2", version="1", categorical=["code"])
        assert sorted(baseline.features["code"].categories) == ["0", "1", "2", "3", "4"]

        @modelspan.monitor(model="m2", version="1", baseline=baseline)
        def predict(batch: Any) -> Any:
            return np.zeros(len(batch)) if isinstance(batch, np.ndarray) else 0.0

        predict(codes[:100].astype(np.float64).reshape(-1, 1))  # a numpy batch: floats
        predict({"code": 3.0})  # a single row
        predict({"code": np.int64(3)})
        for span in spans.models():
            attributes = dict(span.attributes or {})
            assert semconv.quality_count(semconv.CHECK_UNSEEN_CATEGORY) not in attributes
            if attributes[semconv.BATCH_SIZE] > 1:
                cats = sum(attributes[semconv.batch_category("code", i)] for i in range(5))
                assert cats == 100 and attributes[semconv.batch_stat("code", semconv.STAT_UNSEEN_COUNT)] == 0
            else:
                assert attributes[semconv.feature_value("code")] == "3"
        with _stored(spans, tmp_path / f"{number}.db") as store:
            store.save_baseline(baseline)
            window = _window_of(spans)
            stats = store.model_stats([store.question("m2", "1", window, baseline)])[0].columns["code"]
            found = analyze(store, window, write=False).findings
        assert stats.unseen_count == 0 and sum(stats.category_counts) == stats.count == 102
        drift = [f for f in found if f[findings.TYPE] == findings.TYPE_DRIFT and f[findings.FEATURE_NAME] == "code"]
        assert drift and not [f[findings.SUMMARY] for f in drift if f[findings.FLAGGED]]


# --- 3. an attribute grammar no feature name can break ---------------------------------------------

NASTY = ["temp", "c.cat", "a.b.c", "sum", "cat", "bin", "count", "top", "x.cat.other", "with space", "température",
         "日本", "50%", "%2E", ".", "..", "", "_output", "_score", "_private", "a.length", "ml.feature.x", "bin.3"]


def test_every_name_and_statistic_round_trips_and_no_two_collide() -> None:
    stats = [*semconv.SUMMARY_STATS, "bin.0", "bin.12", "cat.0", "cat.49"]
    keys: dict[str, tuple[str, str | None]] = {}
    for name, stat in itertools.product(NASTY, stats):
        key = semconv.batch_stat(name, stat)
        assert semconv.parse_feature_attribute(key) == (name, stat), key
        assert keys.setdefault(key, (name, stat)) == (name, stat), key
    for name in NASTY:
        for key, stat in ((semconv.feature_value(name), None), (semconv.text_length(name), "length"),
                          (semconv.text_oov_rate(name), "oov_rate")):
            assert semconv.parse_feature_attribute(key) == (name, stat), key
            assert keys.setdefault(key, (name, stat)) == (name, stat), key
    for pseudo in semconv.PSEUDO_FEATURES:
        key = semconv.batch_stat(pseudo, semconv.STAT_COUNT)
        assert semconv.parse_feature_attribute(key) == (pseudo, semconv.STAT_COUNT) and key not in keys


def _categorical_traffic(spans: Spans, levels: int, name: str, rows: int = 2048, train_rows: int = 20_000
                         ) -> Baseline:
    rng = np.random.default_rng(2)
    train = rng.integers(0, levels, train_rows).astype(str)
    baseline = Baseline.from_data({name: train}, model="m3", version="1")

    @modelspan.monitor(model="m3", version="1", baseline=baseline)
    def predict(batch: Any) -> int:
        return 0

    for _ in range(rows // 256):
        predict([{name: str(value)} for value in rng.integers(0, levels, 256)])
    return baseline


@pytest.mark.parametrize("backend", ["sqlite", "elasticsearch"])
@pytest.mark.parametrize("name", ["c", "c.cat", "sensor value", "sum"])
def test_categories_beyond_the_top_50_are_counted_in_both_stores(spans: Spans, tmp_path: Path, name: str,
                                                                 backend: str) -> None:
    baseline = _categorical_traffic(spans, 80, name)
    with _backend(backend, spans, tmp_path / "s.db", baseline) as store:
        stats = store.model_stats([store.question("m3", "1", _window_of(spans), baseline)])[0].columns[name]
        found = analyze(store, _window_of(spans), write=False).findings
    drift = [f for f in found if f[findings.TYPE] == findings.TYPE_DRIFT and f[findings.FEATURE_NAME] == name]
    assert drift and not [f[findings.SUMMARY] for f in drift if f[findings.FLAGGED]]  # same distribution
    assert stats.count == 2048
    assert sum(stats.category_counts) + stats.other_count + stats.unseen_count == 2048
    assert stats.other_count > 0 and stats.unseen_count == 0


def test_schema_3_files_are_migrated_to_the_escaped_grammar(spans: Spans, tmp_path: Path) -> None:
    """A version 3 file written with the old grammar (raw dots, cat.other misread) reads right after
    migration: the dotted feature's values and the batch remainder are found under today's names."""
    baseline = _categorical_traffic(spans, 80, "c")

    @modelspan.monitor(model="m3", version="1")
    def single(row: dict[str, float]) -> int:
        return 0

    for value in (1.0, 2.0, 4.0):
        single({"sensor.temp": value})
    documents = [span_to_document(span) for span in spans.all()]
    for document in documents:  # the names as the SDK wrote them before escaping
        attributes = document["attributes"]
        for key in [k for k in attributes if "%2E" in k]:
            attributes[key.replace("%2E", ".")] = attributes.pop(key)
    old = tmp_path / "v3.db"
    with SQLiteStore(old) as store:
        store.load_documents(documents)
        store.save_baseline(baseline)
        store.connection.execute("UPDATE fields SET name = 'c' WHERE name = 'ml.batch.c'")  # v3 keyed batches so
        store.connection.execute("PRAGMA user_version = 3")
    with SQLiteStore(old) as migrated:
        assert migrated.connection.execute("PRAGMA user_version").fetchone()[0] == _schema.SCHEMA_VERSION
        question = migrated.question("m3", "1", _window_of(spans), baseline)
        stats = migrated.model_stats([question])[0].columns["c"]
        assert stats.count == 2048 and stats.other_count > 0
        sensor = migrated.connection.execute(
            "SELECT count(*), total(num) FROM span_values JOIN fields ON fields.id = field_id WHERE name = ?",
            (semconv.feature_value("sensor.temp"),)).fetchone()
        assert tuple(sensor) == (3, 7.0)


# --- 5. categorical features with more levels than the vocabulary holds ---------------------------

@pytest.mark.parametrize("backend", ["sqlite", "elasticsearch"])
def test_a_feature_with_12000_levels_is_not_unseen_on_unchanged_traffic(spans: Spans, tmp_path: Path,
                                                                        backend: str) -> None:
    baseline = _categorical_traffic(spans, 12_000, "user", train_rows=100_000)
    profile = baseline.features["user"]
    assert profile.levels > len(profile.vocabulary) and not profile.complete_vocabulary
    with _backend(backend, spans, tmp_path / "s.db", baseline) as store:
        stats = store.model_stats([store.question("m3", "1", _window_of(spans), baseline)])[0].columns["user"]
        found = analyze(store, _window_of(spans), write=False).findings
    judged = [f for f in found if f.get(findings.FEATURE_NAME) == "user"]
    assert judged and not [f[findings.SUMMARY] for f in judged if f[findings.FLAGGED]]
    assert stats.unseen_count == 0
    assert sum(stats.category_counts) + stats.other_count == stats.count == 2048
    for span in spans.models():
        assert semconv.quality_count(semconv.CHECK_UNSEEN_CATEGORY) not in dict(span.attributes or {})


# --- 6. configure(store=B) after configure(store=A) writes to B ------------------------------------

def test_configure_switches_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELSPAN_STORE", raising=False)
    provider = TracerProvider()

    @modelspan.monitor(model="m6")
    def predict(row: dict[str, float]) -> float:
        return 1.0

    try:
        for name in ("a.db", "b.db", "b.db"):
            modelspan.configure(tracer_provider=provider, exporter="sqlite", store=str(tmp_path / name))
            predict({"x": 1.0})
            modelspan.force_flush()
    finally:
        modelspan.shutdown()
        provider.shutdown()
    counts = {}
    for name in ("a.db", "b.db"):
        with sqlite3.connect(tmp_path / name) as connection:
            counts[name] = connection.execute("SELECT count(*) FROM spans WHERE ml_kind = 'model'").fetchone()[0]
    assert counts == {"a.db": 1, "b.db": 2}


def test_exporter_key_follows_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://one:9200")
    first = _exporters.resolve("elasticsearch").key
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://two:9200")
    assert _exporters.resolve("elasticsearch").key != first
    assert _exporters.resolve("sqlite", "x.db").key == _exporters.resolve("sqlite", Path("x.db").absolute()).key


def test_a_feature_named_like_a_pseudo_feature_stays_apart_in_the_store(spans: Spans, tmp_path: Path) -> None:
    @modelspan.monitor(model="m3", version="1")
    def predict(batch: Any) -> Any:
        return np.array(["yes", "no", "yes"])

    predict([{"_output": "x"}, {"_output": "y"}, {"_output": None}])
    attributes = spans.one()
    assert attributes[semconv.batch_stat("_output", semconv.STAT_COUNT)] == 2  # the user's feature
    assert attributes[semconv.batch_stat(semconv.OUTPUT_FEATURE, semconv.STAT_COUNT)] == 3  # the outputs
    with _stored(spans, tmp_path / "s.db") as store:
        counts = dict(store.connection.execute(
            "SELECT name, total(count) FROM batch_stats JOIN fields ON fields.id = field_id GROUP BY name"))
    assert counts == {semconv.batch_field("_output"): 2, semconv.batch_field(semconv.OUTPUT_FEATURE): 3}
