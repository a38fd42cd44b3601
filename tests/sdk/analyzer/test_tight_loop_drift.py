"""A tight loop is judged like a paced run: drift from profiles does not depend on which spans survived (issue 13).

20,000 single-row calls with a planted shift go through the default store (the SQLite exporter) once as
fast as Python calls them (the span queue overflows and drops spans) and once paced (the queue drained
every 500 calls, nothing dropped). The drift verdicts, their sample counts and scores must be equal.
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
from modelspan.instrumentation import _profiles
from modelspan.store import Window
from modelspan.store.sqlite import SQLiteStore
from tests.sdk.analyzer.planted import MODEL, Plan, _rows, training_baseline

CALLS = 20_000


def _run(path: Path, rows: list[dict[str, Any]], baseline: modelspan.Baseline, paced: bool) -> int:
    """Serve ``rows`` one call each; returns the spans the queue dropped meanwhile."""
    provider = TracerProvider()
    modelspan.configure(tracer_provider=provider, exporter="sqlite", store=str(path))
    dropped = _profiles.stats()["spans_dropped"]

    @modelspan.monitor(model=MODEL, version="2", baseline=baseline)
    def predict(row: dict[str, Any]) -> float:
        return row["amount"] / 100.0

    try:
        for i, row in enumerate(rows):
            predict(row)
            if paced and i % 500 == 499:
                modelspan.force_flush()
    finally:
        modelspan.shutdown()
        provider.shutdown()
    return _profiles.stats()["spans_dropped"] - dropped


def _drift(path: Path, baseline: modelspan.Baseline, window: Window) -> dict[str, tuple[Any, ...]]:
    with SQLiteStore(path) as store:
        store.save_baseline(baseline)
        found = analyze(store, window, write=False).findings
    return {f[findings.FEATURE_NAME]: (f[findings.FLAGGED], f[findings.SAMPLE_COUNT], f.get(findings.TEST_SCORE))
            for f in found if f[findings.TYPE] == findings.TYPE_DRIFT}


@pytest.mark.slow
def test_a_tight_loop_gives_the_drift_verdicts_of_a_paced_run(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    baseline = training_baseline(rng, 0)
    rows = _rows(rng, CALLS, 0, Plan(shift="age", unit_change=None, new_category=False))
    start = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    tight_dropped = _run(tmp_path / "tight.db", rows, baseline, paced=False)
    paced_dropped = _run(tmp_path / "paced.db", rows, baseline, paced=True)
    window = Window(start, dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=2))
    tight, paced = _drift(tmp_path / "tight.db", baseline, window), _drift(tmp_path / "paced.db", baseline, window)
    assert paced_dropped == 0
    assert tight == paced, (tight_dropped, tight, paced)
    print(f"tight loop: {tight_dropped} spans dropped by the queue; paced: {paced_dropped}")
    assert {name for name, (flagged, _, _) in tight.items() if flagged} == {"age"}
    assert all(count == CALLS for _, count, _ in tight.values())
