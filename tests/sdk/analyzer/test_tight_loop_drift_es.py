"""A tight loop on Elasticsearch is judged like a paced run: drift from profile documents (issue 13).

The Elasticsearch counterpart of ``test_tight_loop_drift``: 20,000 single-row calls with a planted shift
go as fast as Python calls them through the real Elasticsearch exporter into the loopback Elasticsearch
(after ``modelspan elastic setup``) at span sample rate 0.01. The drift verdicts, sample counts and
scores the Elasticsearch store gives must equal those of a paced run into the default store (nothing
dropped): exact counts from the per-feature profile documents, whatever spans survived. (At 1.0 the
exporter's own queue keeps up here: 20,000 spans stored, none dropped, the same verdicts, in about
three times the run time; not repeated in the suite.)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider

import modelspan
from modelspan import findings
from modelspan.analyzer import analyze
from modelspan.exporters.elasticsearch import ElasticsearchSpanExporter
from modelspan.instrumentation import _profiles
from modelspan.store import Window
from modelspan.store.elasticsearch import ElasticsearchStore
from tests.sdk.analyzer.planted import MODEL, Plan, _rows, training_baseline
from tests.sdk.analyzer.test_tight_loop_drift import CALLS, _drift
from tests.sdk.analyzer.test_tight_loop_drift import _run as _run_sqlite
from tests.store.elasticsearch.ingest import cluster


def _run_es(url: str, directory: Path, rows: list[dict[str, Any]], baseline: modelspan.Baseline,
            sample_rate: float) -> tuple[int, int]:
    """Serve ``rows`` unpaced into Elasticsearch; returns (spans the queue dropped, spans started)."""
    provider = TracerProvider()
    exporter = ElasticsearchSpanExporter(url, spool_dir=directory / "spool", dead_letter_path=directory / "dead")
    modelspan.configure(tracer_provider=provider, exporter=exporter, sample_rate=sample_rate)
    before = _profiles.stats()

    @modelspan.monitor(model=MODEL, version="2", baseline=baseline)
    def predict(row: dict[str, Any]) -> float:
        return row["amount"] / 100.0

    try:
        for row in rows:
            predict(row)
    finally:
        modelspan.shutdown()
        provider.shutdown()
    assert not exporter.dead_letters.read()
    after = _profiles.stats()
    return after["spans_dropped"] - before["spans_dropped"], after["spans_started"] - before["spans_started"]


def _es_drift(url: str, baseline: modelspan.Baseline, window: Window) -> dict[str, tuple[Any, ...]]:
    with ElasticsearchStore(url) as store:
        store.refresh()
        store.save_baseline(baseline)
        found = analyze(store, window, write=False).findings
    return {f[findings.FEATURE_NAME]: (f[findings.FLAGGED], f[findings.SAMPLE_COUNT], f.get(findings.TEST_SCORE))
            for f in found if f[findings.TYPE] == findings.TYPE_DRIFT}


@pytest.mark.slow
def test_a_tight_loop_into_elasticsearch_gives_the_drift_verdicts_of_a_paced_run(tmp_path: Path) -> None:
    sample_rate = 0.01
    rng = np.random.default_rng(3)
    baseline = training_baseline(rng, 0)
    rows = _rows(rng, CALLS, 0, Plan(shift="age", unit_change=None, new_category=False))
    start = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    assert _run_sqlite(tmp_path / "paced.db", rows, baseline, paced=True) == 0
    with cluster() as fake:
        dropped, started = _run_es(fake.url, tmp_path, rows, baseline, sample_rate)
        end = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) + dt.timedelta(minutes=2)
        window = Window(start, end)  # on minutes: holds every profile interval whole
        tight = _es_drift(fake.url, baseline, window)
        spans = sum(1 for index, _ in fake.stored.values() if index.startswith("traces-"))
    paced = _drift(tmp_path / "paced.db", baseline, window)
    print(f"Elasticsearch, sample rate {sample_rate}: {spans} spans stored, {dropped} dropped by the queue")
    assert spans + dropped == started < CALLS // 10  # every span accounted for; few sampled
    assert tight == paced, (dropped, tight, paced)
    assert {name for name, (flagged, _, _) in tight.items() if flagged} == {"age"}
    assert all(count == CALLS for _, count, _ in tight.values())
