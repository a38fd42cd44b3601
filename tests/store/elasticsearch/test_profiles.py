"""The Elasticsearch store reads profiles (docs/profiles.md) where a window has them, spans where not.

Profiles are written by the real exporter (``export_profiles``) after ``modelspan elastic setup``;
spans by the real exporter too. Checked: a version whose spans were all sampled out is still
listed and counted exactly; a window of old data (spans only) keeps the span answer; a day of 200
profiled sub-modules at 300 s stays within the bucket budget; requests per run do not grow.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

import modelspan
from modelspan import _time
from modelspan.elasticsearch import profiles
from modelspan.exporters.elasticsearch import ElasticsearchSpanExporter
from modelspan.instrumentation._profiles import Profile, _Profiles
from modelspan.store import Question, Window
from modelspan.store import _es_queries as queries
from modelspan.store.elasticsearch import ElasticsearchStore
from tests.store.elasticsearch.fake_es import FakeElasticsearch
from tests.store.elasticsearch.ingest import cluster, export, export_profiles
from tests.store.elasticsearch.traffic import WINDOW, Traffic, generate

DAY = Window.parse("2026-11-22T00:00:00Z", "2026-11-23T00:00:00Z")
LATER = Window(WINDOW.end, WINDOW.end + _dt.timedelta(hours=1))


def _calls(model: str, window: Window, count: int, modules: tuple[str, ...] = ("",), step_s: int = 7) -> list[Profile]:
    state = _Profiles()
    start = _time.to_ns(window.start)
    for number in range(count):
        begin = start + (number * step_s % int(window.seconds - 60)) * 10**9
        for module in modules:
            state.record(model, "1", module, begin, begin + 1_000_000 + number, number % 4 == 0, 1.0, False)
    return state.take()


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return generate(singles=40, batches=4)


@pytest.fixture(scope="module")
def stored(traffic: Traffic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeElasticsearch]:
    """Spans of ``churn`` in WINDOW (old data: no profiles); ``sampled-out`` only has profiles, in LATER."""
    with cluster([traffic.baseline]) as fake:
        export(fake, traffic.spans)
        export_profiles(fake, [_calls("sampled-out", LATER, 500)])
        yield fake


def test_a_version_without_spans_is_listed_and_counted_from_profiles(stored: FakeElasticsearch) -> None:
    with ElasticsearchStore(stored.url, interval_seconds=600) as store:
        assert store.models(LATER) == [("sampled-out", "1", 500)]
        stats, = store.model_stats([Question("sampled-out", "1", LATER, 600)])
    assert stats.operations.calls == 500 and stats.operations.errors == 125 and stats.operations.spans == 0
    assert sum(interval.calls for interval in stats.operations.intervals) == 500
    assert stats.operations.latency_ms[50.0] == pytest.approx(1.000_25, rel=0.0101)  # 1 ms + number ns


def test_old_data_without_profiles_keeps_the_span_answer(stored: FakeElasticsearch, traffic: Traffic) -> None:
    with ElasticsearchStore(stored.url, interval_seconds=600) as store:
        models = store.models(WINDOW)
        stats, = store.model_stats([Question("churn", "3", WINDOW, 600)])
    assert models == [("churn", "3", stats.operations.calls)] and stats.operations.calls == 40 + 4
    assert stats.operations.spans is None and stats.operations.spans_dropped is None
    assert all(operations.spans is None for operations in stats.modules.values())


def test_a_day_of_two_hundred_profiled_sub_modules_stays_within_the_bucket_budget(tmp_path: Path) -> None:
    modules = ("", *(f"m{number:03d}" for number in range(200)))
    with cluster() as fake:
        # three calls 8 h apart: sparse data, but every sub-module still answers 288 intervals
        export_profiles(fake, [_calls("big", DAY, 3, modules, step_s=8 * 3600)])
        fake.largest_bucket_count = 0
        with ElasticsearchStore(fake.url, interval_seconds=300) as store:
            stats, = store.model_stats([Question("big", "1", DAY, 300)])
        largest = fake.largest_bucket_count
        searches = [body for _, path, body in fake.requests if path.endswith("/_msearch")]
    assert largest <= queries.BUCKET_BUDGET
    # span and profile searches, each split in two, and the per-feature profile search
    assert len(searches) == 1 and len(searches[0]) == 10
    assert len(stats.modules) == 200 and stats.operations.calls == 3
    assert all(ops.calls == 3 and len(ops.intervals) == 288 for ops in stats.modules.values())
    assert [interval.calls for interval in stats.modules["m000"].intervals if interval.calls] == [1, 1, 1]


def test_a_decorated_model_at_a_low_sample_rate_is_counted_exactly_on_elasticsearch(tmp_path: Path) -> None:
    """The SDK end to end: every call profiled, few spans sampled, the Elasticsearch exporter and store."""
    with cluster() as fake:
        exporter = ElasticsearchSpanExporter(fake.url, spool_dir=tmp_path / "spool", dead_letter_path=tmp_path / "dead")
        modelspan.configure(tracer_provider=TracerProvider(), exporter=exporter, sample_rate=0.05)

        @modelspan.monitor(model="tight-es", version="1")
        def predict(row: dict[str, float]) -> float:
            if row["x"] % 50 == 0:
                raise ValueError("planted")
            return row["x"] * 2.0

        try:
            for number in range(2_000):
                with contextlib.suppress(ValueError):
                    predict({"x": float(number)})
        finally:
            modelspan.shutdown()  # flushes the profiles into the exporter, then drains it
        assert not exporter.dead_letters.read()
        now = _dt.datetime.now(_dt.timezone.utc)
        window = Window(now - _dt.timedelta(hours=1), now + _dt.timedelta(minutes=5))
        with ElasticsearchStore(fake.url) as store:
            store.refresh()
            listed = {model: calls for model, _, calls in store.models(window)}
            stats, = store.model_stats([Question("tight-es", "1", window, 300)])
    assert listed["tight-es"] == 2_000
    assert stats.operations.calls == 2_000 and stats.operations.errors == 40
    assert stats.operations.spans is not None and stats.operations.spans < 400  # sampled, not lost
    assert sum(interval.scaled_calls for interval in stats.operations.intervals) == 2_000


def test_operations_only_profiles_keep_the_span_answers_of_features(traffic: Traffic, tmp_path: Path) -> None:
    """Profiles written before their per-feature part reached Elasticsearch (no ``quality`` documents):
    calls from the profiles, drift, data quality, outputs and paths from the spans, as before."""
    question = Question.about("churn", "3", WINDOW, 600, traffic.baseline)
    with cluster([traffic.baseline]) as fake:
        export(fake, traffic.spans)
        with ElasticsearchStore(fake.url, interval_seconds=600) as store:
            spans_only, = store.model_stats([question])
        old = [profiles.profile_document(p, "default", "1-old") for p in _calls("churn", WINDOW, 7)]
        for document in old:
            document["attributes"]["ml.model.version"] = "3"
        fake.add(profiles.data_stream_name("default"), old)
        with ElasticsearchStore(fake.url, interval_seconds=600) as store:
            stats, = store.model_stats([question])
    assert stats.operations.calls == 7 and spans_only.operations.calls == 40 + 4
    assert stats.columns == spans_only.columns and stats.paths == spans_only.paths
    assert stats.quality == spans_only.quality and stats.columns["temp"].count > 0
