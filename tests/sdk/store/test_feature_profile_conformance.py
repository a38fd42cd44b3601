"""Conformance of the per-feature part of profiles: both stores give the same answers from it (docs/profiles.md).

A real decorated model (``tests/store/elasticsearch/traffic.py``: a baseline with a numeric, a categorical
feature and a label output; nulls, an unseen category, batches, sub-module paths, planted errors) serves
its calls at span sample rate 0.01, so the spans hold almost nothing and the profiles everything. The
profile flushes (the SDK's own) go through ``SQLiteSpanExporter.export_profiles`` into a SQLite file and
through ``ElasticsearchSpanExporter.export_profiles`` into the loopback Elasticsearch after
``modelspan elastic setup``. Every field of ``ModelStats`` but the latency percentiles (each backend's
own rank, checked in ``test_conformance``) must be equal: drift bins and categories, unseen examples,
data-quality counts per feature and per check, the output distribution and module paths per label.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan import _time, semconv
from modelspan.exporters.sqlite import SQLiteSpanExporter
from modelspan.instrumentation import _config, _profiles
from modelspan.instrumentation._profiles import Profile
from modelspan.store import Question, Window
from modelspan.store.elasticsearch import ElasticsearchStore
from modelspan.store.sqlite import SQLiteStore
from tests.sdk.store.test_conformance import _assert_same, _without_percentiles
from tests.store.elasticsearch.ingest import cluster, export_profiles
from tests.store.elasticsearch.traffic import PLANS, WINDOW, _call, _model, make_baseline

MINUTES = (3, 17, 18, 42)
"""Minutes of ``WINDOW`` the four flushes are moved to (two in one 10-minute interval)."""


def _flushes(baseline: modelspan.Baseline) -> list[list[Profile]]:
    """Four flushes of the SDK's profiles of a decorated model sampled at 0.01, moved into ``WINDOW``."""
    rng = np.random.default_rng(5)
    provider = TracerProvider()
    modelspan.configure(tracer_provider=provider, exporter=InMemorySpanExporter(), sample_rate=0.01)
    flushes: list[list[Profile]] = []
    _profiles.set_sinks([flushes.append])
    try:
        predict = _model(baseline)
        for minute in MINUTES:
            for i in range(60):
                plan = "enterprise" if i % 9 == 0 else f"new-{i % 13}" if i % 11 == 0 else str(rng.choice(PLANS))
                temp = None if i % 17 == 0 else float(rng.normal(24.0 + minute / 10, 6.0))
                _call(predict, {"temp": temp, "plan": plan})
            rows = [{"temp": float(t), "plan": str(p)}
                    for t, p in zip(rng.normal(22.0, 6.0, 16), rng.choice([*PLANS, "enterprise"], 16), strict=True)]
            _call(predict, rows)
            assert _profiles.flush()
            start = _time.to_ns(WINDOW.start) + minute * 60 * 10**9
            flushes[-1] = [dataclasses.replace(p, start_ns=start) for p in flushes[-1]]
    finally:
        _profiles.set_sinks(())
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()
        _config.STATE.decorator_baselines.pop(baseline.id, None)
    assert len(flushes) == len(MINUTES) and all(any(p.features for p in flush) for flush in flushes)
    return flushes


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, modelspan.Baseline]]:
    baseline = make_baseline(np.random.default_rng(3))
    flushes = _flushes(baseline)
    path = tmp_path_factory.mktemp("features") / "store.db"
    writer = SQLiteSpanExporter(path)
    try:
        for flush in flushes:
            writer.export_profiles(flush)
    finally:
        writer.shutdown()
    with cluster([baseline]) as fake:
        export_profiles(fake, flushes)
        with SQLiteStore(path, interval_seconds=600) as sqlite, \
                ElasticsearchStore(fake.url, interval_seconds=600) as es:
            yield sqlite, es, baseline


def _questions(store: Any, baseline: modelspan.Baseline) -> list[Question]:
    whole = store.question("churn", "3", WINDOW, baseline)
    on_minutes = Window(WINDOW.start + (WINDOW.end - WINDOW.start) / 4, WINDOW.end)  # cuts no profile
    return [whole, store.question("churn", "3", on_minutes, baseline), store.question("churn", "3", WINDOW),
            dataclasses.replace(whole, baseline_id="another-baseline")]


def test_both_stores_answer_features_paths_and_quality_alike_from_profiles(stores: Any) -> None:
    sqlite, es, baseline = stores
    questions = _questions(sqlite, baseline)
    ours, theirs = sqlite.model_stats(questions), es.model_stats(questions)
    for question, mine, other in zip(questions, ours, theirs, strict=True):
        _assert_same(_without_percentiles(mine), _without_percentiles(other), f"stats {question.window}")
    whole = ours[0]
    assert whole.operations.calls == 4 * 61 and whole.operations.spans is not None
    assert whole.operations.spans < 20  # sampled at 0.01: the answers below are the profiles'
    plan, temp = whole.columns["plan"], whole.columns["temp"]
    assert plan.count == 4 * (60 + 16) and sum(plan.category_counts) > 0 and plan.unseen_count > 0
    assert set(plan.unseen_examples) >= {"enterprise", "new-11"} and plan.unbinned_count == 0
    assert temp.null_count == 4 * len(range(0, 60, 17)) and sum(temp.bin_counts) == temp.count
    assert whole.columns[semconv.OUTPUT_FEATURE].count > 0
    assert sum(p.count for p in whole.paths.values()) == whole.operations.calls
    assert whole.quality[semconv.CHECK_NULL][1] == 4 * len(range(0, 60, 17))
    other_baseline = ours[3].columns["temp"]
    assert other_baseline.unbinned_count == other_baseline.count > 0  # bins only over the question's baseline


def test_a_cut_window_is_answered_from_spans_on_both_stores(stores: Any) -> None:
    sqlite, es, baseline = stores
    cut = Window(WINDOW.start + dt.timedelta(minutes=3, seconds=30), WINDOW.start + dt.timedelta(minutes=6))
    question = sqlite.question("churn", "3", cut, baseline)  # cuts the profile of 10:03 in two
    mine, other = sqlite.model_stats([question])[0], es.model_stats([question])[0]
    assert mine.columns["temp"].count == other.columns["temp"].count == 0  # no spans stored: no answer
    assert not mine.paths and not other.paths
