"""Conformance: the same span documents give the same answers from SQLite and from Elasticsearch.

The documents come from a real decorated model (``tests/store/elasticsearch/traffic.py``); they are
loaded into a ``SQLiteStore`` file, and their spans go through ``modelspan elastic setup`` and the
real exporter into the loopback Elasticsearch (or are loaded into a live cluster when
``MODELSPAN_TEST_ES_URL`` is set), so a difference between what is written and what is read
fails. Every field of ``ModelStats`` and every labelled prediction must be equal, with one stated
exception: latency percentiles. SQLite's are exact with numpy's default
(``linear``) definition; the fake computes nearest rank (numpy ``inverted_cdf``) and Elasticsearch
estimates with t-digest. So each backend is checked against its own definition computed with numpy
from the documents, and the two may differ by at most the gap between the order statistics around
the percentile's rank.

Profiles (docs/profiles.md) likewise: the same profile flushes go through ``SQLiteSpanExporter`` and
``ElasticsearchSpanExporter.export_profiles``; calls, errors, rows, spans and mean latency must be
equal, and each backend's latency percentiles within the sketch's 1 % of the exact value of its own
rank definition.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan import _time, semconv
from modelspan.exporters.sqlite import SQLiteSpanExporter
from modelspan.instrumentation import _config
from modelspan.instrumentation._profiles import Profile, _Profiles
from modelspan.store import ModelStats, Operations, Window
from modelspan.store._answers import PERCENTS
from modelspan.store.elasticsearch import ElasticsearchStore
from modelspan.store.sqlite import SQLiteStore
from tests.store.elasticsearch.ingest import cluster, export, export_profiles
from tests.store.elasticsearch.scenario import outcome_documents, questions_for
from tests.store.elasticsearch.traffic import WINDOW, Traffic, _moved, generate

LIVE_URL = os.environ.get("MODELSPAN_TEST_ES_URL")
# A window that does not start or end on a minute: rollups and raw values must add up exactly.
RAGGED = Window(WINDOW.start + _dt.timedelta(seconds=97, microseconds=250_000),
                WINDOW.end - _dt.timedelta(seconds=61, microseconds=500_000))


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return generate(singles=150, batches=12)


@pytest.fixture(scope="module")
def sqlite_store(traffic: Traffic, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with SQLiteStore(tmp_path_factory.mktemp("conformance") / "store.db", interval_seconds=600) as store:
        store.save_baseline(traffic.baseline)
        assert store.load_documents(traffic.documents) == len(traffic.documents)
        outcomes = outcome_documents(traffic)
        store.record_outcomes([(o["prediction.id"], o["actual"], o["@timestamp"]) for o in outcomes])
        yield store


def _questions(traffic: Traffic) -> list[Any]:
    questions = questions_for(traffic)
    ragged = dataclasses.replace(questions[0], window=RAGGED)
    unbinned = dataclasses.replace(questions[0], baseline_id="another-baseline")
    return [*questions, ragged, unbinned]


def _answers_from_es(url: str | None, traffic: Traffic) -> tuple[list[ModelStats], list[Any], list[Any]]:
    def ask(store: ElasticsearchStore) -> tuple[list[ModelStats], list[Any], list[Any]]:
        return (store.model_stats(_questions(traffic)), store.labelled_predictions(WINDOW, "churn", "3"),
                store.models(WINDOW))

    if url is not None:
        with _live(url, traffic) as store:
            return ask(store)
    with cluster([traffic.baseline]) as fake, ElasticsearchStore(fake.url, interval_seconds=600) as store:
        export(fake, traffic.spans)  # the real exporter, through the templates' mappings
        outcomes = outcome_documents(traffic)
        store.record_outcomes([(o["prediction.id"], o["actual"], o["@timestamp"]) for o in outcomes])
        return ask(store)


@contextlib.contextmanager
def _live(url: str, traffic: Traffic) -> Iterator[ElasticsearchStore]:
    """Throwaway data stream and outcomes index on the cluster, as tests/store/elasticsearch/test_live does."""
    suffix = uuid.uuid4().hex[:8]
    spans, outcomes = f"traces-modelspan.otel-c{suffix}", f"modelspan-outcomes-c{suffix}"
    store = ElasticsearchStore(url, spans_index=spans, outcomes_index=outcomes, interval_seconds=600)
    try:
        store.client.indices.create(index=outcomes, mappings={"properties": {
            "@timestamp": {"type": "date"}, "prediction.id": {"type": "keyword"}, "actual": {"type": "keyword"}}})
        operations: list[dict[str, Any]] = []
        for document in traffic.documents:
            operations += [{"create": {"_index": spans}}, document]
        for document in outcome_documents(traffic):
            operations += [{"index": {"_index": outcomes, "_id": document["prediction.id"]}}, document]
        response = store.client.bulk(operations=operations, refresh="wait_for")
        assert not response["errors"]
        yield store
    finally:
        store.client.indices.delete_data_stream(name=spans, ignore_unavailable=True)
        store.client.indices.delete(index=[outcomes], ignore_unavailable=True)
        store.close()


def _without_percentiles(stats: ModelStats) -> dict[str, Any]:
    def strip(operations: Operations) -> dict[str, Any]:
        data = dataclasses.asdict(operations)
        data.pop("latency_ms")
        for interval in data["intervals"]:
            interval.pop("latency_ms")
        return data

    data = dataclasses.asdict(stats)
    data["operations"] = strip(stats.operations)
    data["modules"] = {name: strip(ops) for name, ops in stats.modules.items()}
    return data


def _assert_same(mine: Any, theirs: Any, where: str) -> None:
    """Equal, except that sums of floats may differ in the last bits (summation order differs)."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        assert mine.keys() == theirs.keys(), where
        for key in mine:
            _assert_same(mine[key], theirs[key], f"{where}.{key}")
    elif isinstance(mine, (list, tuple)) and isinstance(theirs, (list, tuple)):
        assert len(mine) == len(theirs), where
        for index, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            _assert_same(a, b, f"{where}[{index}]")
    elif isinstance(mine, float) and isinstance(theirs, (int, float)):
        assert mine == pytest.approx(theirs, rel=1e-12, abs=1e-12), where
    else:
        assert mine == theirs, where


def _durations(traffic: Traffic, module: str | None) -> np.ndarray:
    wanted = semconv.SPAN_KIND_MODULE if module else semconv.SPAN_KIND_MODEL
    return np.asarray([d["duration"] for d in traffic.documents
                       if d["attributes"].get(semconv.SPAN_KIND) == wanted
                       and (module is None or d["attributes"].get(semconv.MODULE_NAME) == module)])


def _check_percentiles(sqlite: Operations, es: Operations, durations: np.ndarray, *, exact_es: bool) -> None:
    ordered = np.sort(durations)
    for percent in PERCENTS:
        ours = sqlite.latency_ms[percent]
        assert ours == pytest.approx(np.percentile(durations, percent) / 1e6, rel=1e-12)
        theirs = es.latency_ms[percent]
        assert theirs is not None and ours is not None
        if not exact_es:  # t-digest: an estimate (the ES store's own live test allows 15 %)
            assert theirs == pytest.approx(ours, rel=0.15)
            continue
        assert theirs == pytest.approx(np.percentile(durations, percent, method="inverted_cdf") / 1e6)
        # Both lie between the order statistics around rank p/100 * (n - 1) (one rank of slack).
        rank = percent / 100 * (ordered.size - 1)
        low = ordered[max(int(np.floor(rank)) - 1, 0)] / 1e6
        high = ordered[min(int(np.ceil(rank)) + 1, ordered.size - 1)] / 1e6
        assert low <= ours <= high
        assert low <= theirs <= high


def _compare(sqlite_store: SQLiteStore, traffic: Traffic, url: str | None) -> None:
    es_stats, es_labelled, es_models = _answers_from_es(url, traffic)
    ours = sqlite_store.model_stats(_questions(traffic))
    assert sqlite_store.models(WINDOW) == es_models
    for mine, theirs in zip(ours, es_stats, strict=True):
        _assert_same(_without_percentiles(mine), _without_percentiles(theirs), "stats")
    window_stats = ours[0]
    assert window_stats.operations.calls > 0 and window_stats.columns["temp"].bin_counts
    _check_percentiles(window_stats.operations, es_stats[0].operations, _durations(traffic, None),
                       exact_es=url is None)
    for name, operations in window_stats.modules.items():
        _check_percentiles(operations, es_stats[0].modules[name], _durations(traffic, name), exact_es=url is None)
    assert sqlite_store.labelled_predictions(WINDOW, "churn", "3") == es_labelled
    assert len(es_labelled) > 0


def test_sqlite_and_elasticsearch_agree(sqlite_store: SQLiteStore, traffic: Traffic) -> None:
    _compare(sqlite_store, traffic, None)


def test_ragged_window_and_foreign_baseline_are_not_trivial(sqlite_store: SQLiteStore, traffic: Traffic) -> None:
    """The extra questions exercise the raw-value paths: the ragged window drops some calls, the
    foreign baseline leaves every batch value unbinned."""
    whole, _, ragged, foreign = sqlite_store.model_stats(_questions(traffic))
    assert 0 < ragged.operations.calls < whole.operations.calls
    assert sum(ragged.columns["temp"].bin_counts) < sum(whole.columns["temp"].bin_counts)
    assert foreign.columns["temp"].unbinned_count > 0


@pytest.mark.live_es
@pytest.mark.skipif(LIVE_URL is None, reason="needs a live Elasticsearch: set MODELSPAN_TEST_ES_URL")
def test_sqlite_and_live_elasticsearch_agree(sqlite_store: SQLiteStore, traffic: Traffic) -> None:
    _compare(sqlite_store, traffic, LIVE_URL)


def test_store_file_is_the_one_asked_for(sqlite_store: SQLiteStore, traffic: Traffic) -> None:
    assert isinstance(sqlite_store.path, Path) and sqlite_store.path.name == "store.db"
    assert sqlite_store.path.parent.name.startswith("conformance")
    baseline = traffic.baseline
    with SQLiteStore(sqlite_store.path) as reopened:  # the data went into that very file
        saved = reopened.load_baseline(baseline.model, baseline.version)
    assert saved is not None and saved.id == baseline.id


def _regression_traffic() -> Traffic:
    """A regression model with a text feature: numeric outputs, text lengths and OOV rates."""
    rng = np.random.default_rng(11)
    words = ["refund", "late", "broken", "thanks", "invoice", "help"]
    notes = [" ".join(rng.choice(words[:4], 3)) for _ in range(500)]
    baseline = modelspan.Baseline.from_data(
        {"note": notes, "amount": rng.gamma(2.0, 30.0, 500).tolist(), "score": rng.normal(1.0, 0.3, 500).tolist()},
        model="refunds", version="2", output="score", text=["note"])
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=4096))
    memory = InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=memory, baselines=[baseline])
    try:
        @modelspan.monitor(model="refunds", version="2", task="regression")
        def predict(value: Any) -> Any:
            rows = value if isinstance(value, list) else [value]
            scores = [float(row["amount"]) / 50.0 for row in rows]
            return scores if isinstance(value, list) else scores[0]

        for _ in range(80):
            predict({"note": " ".join(rng.choice(words, 3)), "amount": float(rng.gamma(2.0, 35.0))})
        for _ in range(6):
            predict([{"note": " ".join(rng.choice(words, 2)), "amount": float(a)} for a in rng.gamma(2.0, 35.0, 10)])
        modelspan.force_flush()
        spans = list(memory.get_finished_spans())
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()
    return Traffic(baseline, *_moved(spans, rng))


def test_text_features_and_numeric_outputs_agree(tmp_path: Path, traffic: Traffic) -> None:
    other = traffic  # a second model in the same store and index: answers must not mix
    traffic = _regression_traffic()
    with SQLiteStore(tmp_path / "r.db", interval_seconds=900) as store:
        store.load_documents(traffic.documents + other.documents)  # no baseline saved: exact raw binning
        questions = [store.question("refunds", "2", WINDOW, traffic.baseline),
                     dataclasses.replace(store.question("refunds", "2", WINDOW, traffic.baseline), window=RAGGED)]
        unsaved = store.model_stats(questions)
        store.save_baseline(traffic.baseline)
        ours = store.model_stats(questions)
        models = store.models(WINDOW)
    with cluster([traffic.baseline, other.baseline]) as fake:
        export(fake, traffic.spans + other.spans)
        with ElasticsearchStore(fake.url, interval_seconds=900) as es:
            theirs = es.model_stats(questions)
            assert models == es.models(WINDOW) and len(models) == 2
    for mine, before, expected in zip(ours, unsaved, theirs, strict=True):
        _assert_same(_without_percentiles(mine), _without_percentiles(expected), "stats")
        _assert_same(_without_percentiles(before), _without_percentiles(expected), "stats before the baseline")
    note, output = ours[0].columns["note"], ours[0].columns[semconv.OUTPUT_FEATURE]
    assert note.kind == "text" and note.count > 0 and note.oov_rate is not None and note.oov_rate > 0
    assert output.kind == "numeric" and sum(output.bin_counts) == output.count > 80


# --- Profiles (docs/profiles.md): the same calls through both real exporters -----------------------
PROFILED = ("", "scorer")  # the model's own calls and one sub-module; "encoder" stays a span answer


def _profile_flushes(rng: np.random.Generator) -> tuple[list[list[Profile]], dict[str, list[tuple[int, int]]]]:
    """Two flushes of each of three processes (the SDK's own profile code), and every (end, latency) recorded."""
    flushes: list[list[Profile]] = []
    recorded: dict[str, list[tuple[int, int]]] = {module: [] for module in PROFILED}
    start = _time.to_ns(WINDOW.start)
    for _ in range(3):
        state = _Profiles()
        for _ in range(2):
            for number in range(300):
                begin = start + int(rng.integers(0, 3590 * 10**9))
                for module, typical in zip(PROFILED, (2e6, 4e5), strict=True):
                    latency = int(rng.lognormal(np.log(typical), 0.6))
                    state.record("churn", "3", module, begin, begin + latency, number % 13 == 0,
                                 16.0 if number % 7 == 0 else 1.0, number % 10 == 0)
                    recorded[module].append((begin + latency, latency))
            flushes.append(state.take())
    return flushes, recorded


@pytest.fixture(scope="module")
def profiled(traffic: Traffic, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Stores holding the traffic's spans and the profiles, each written by its real exporter."""
    flushes, recorded = _profile_flushes(np.random.default_rng(11))
    directory = tmp_path_factory.mktemp("profiled")
    writer = SQLiteSpanExporter(directory / "store.db")
    try:
        assert writer.export(traffic.spans) is SpanExportResult.SUCCESS
        for flush in flushes:
            writer.export_profiles(flush)
    finally:
        writer.shutdown()
    with cluster([traffic.baseline]) as fake:
        export(fake, traffic.spans)
        export_profiles(fake, flushes)
        with SQLiteStore(directory / "store.db", interval_seconds=600) as sqlite, \
                ElasticsearchStore(fake.url, interval_seconds=600) as es:
            yield sqlite, es, recorded


def _exact(recorded: list[tuple[int, int]], start: _dt.datetime, seconds: float, percent: float,
           method: str) -> float | None:
    low = _time.to_ns(start)
    high = low + int(seconds * 1e9)
    # a profile counts in the interval where its minute starts (docs/profiles.md)
    values = [latency for end, latency in recorded if low <= end - end % 60_000_000_000 < high]
    return float(np.percentile(values, percent, method=method)) / 1e6 if values else None


def _check_profile_percentiles(operations: Operations, recorded: list[tuple[int, int]], window: Window,
                               method: str) -> None:
    """Within 1 % (the sketch's bound) of the exact percentile by the backend's own rank definition."""
    for percent in PERCENTS:
        exact = _exact(recorded, window.start, window.seconds, percent, method)
        assert operations.latency_ms[percent] == pytest.approx(exact, rel=0.0101), (percent, method)
    for interval in operations.intervals:
        step = (interval.start, 600.0)
        for percent in PERCENTS:
            exact = _exact(recorded, *step, percent, method)
            if exact is None:
                assert interval.latency_ms[percent] is None
            else:
                assert interval.latency_ms[percent] == pytest.approx(exact, rel=0.0101), (interval.start, percent)


def test_sqlite_and_elasticsearch_agree_on_profiles(profiled: Any, traffic: Traffic) -> None:
    sqlite, es, recorded = profiled
    assert sqlite.models(WINDOW) == es.models(WINDOW)
    questions = _questions(traffic)
    ours, theirs = sqlite.model_stats(questions), es.model_stats(questions)
    for mine, other in zip(ours, theirs, strict=True):
        # The operations part: both stores answer it from these profile documents. (The flushes here
        # carry no per-feature part: test_feature_profile_conformance compares that part.)
        mine_ops, other_ops = _without_percentiles(mine), _without_percentiles(other)
        for part in ("operations", "modules"):
            _assert_same(mine_ops[part], other_ops[part], f"profiled {part}")
    whole = ours[0]
    spans = sum(1 for d in traffic.documents if d["attributes"].get(semconv.SPAN_KIND) == semconv.SPAN_KIND_MODEL)
    assert whole.operations.calls == len(recorded[""]) == 1800 and whole.operations.spans == spans
    assert whole.modules["scorer"].calls == 1800 and whole.modules["encoder"].spans is None  # span answer kept
    assert whole.operations.errors == 6 * len(range(0, 300, 13))
    # SQLite ranks a percentile at floor(p (n - 1)) (numpy "lower"); Elasticsearch's stand-in at
    # ceil(p n) (numpy "inverted_cdf"): each within the sketch's 1 % of its own exact value.
    for stats, method in ((whole, "lower"), (theirs[0], "inverted_cdf")):
        _check_profile_percentiles(stats.operations, recorded[""], WINDOW, method)
        _check_profile_percentiles(stats.modules["scorer"], recorded["scorer"], WINDOW, method)
