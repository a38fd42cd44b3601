"""What recording CBPE sums costs a batch call, and what the stores' answer costs (docs/estimation.md, issue 19).

1. A monitored ``predict_proba`` on batches (250, 500 and 5,000 rows) whose baseline has a calibration (the
   call records its CBPE sums over every row) against the same call with the calibration removed: ratios of
   the best of 5 runs, measured in this run.
2. ``SQLiteStore.score_sums`` over 50,000 rows in batches of 500: asked with the calibration's fingerprint (the
   recorded cells) and without it (the listed rows only, as before): seconds, best of 3.

    python benchmarks/cbpe_batches.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.sdk.analyzer.cbpe_traffic import MODEL, VERSION, WINDOW, model_score, reference_baseline, window

import modelspan
from modelspan.analyzer._estimation_findings import score_edges
from modelspan.baseline import Baseline
from modelspan.instrumentation import _expected_performance
from modelspan.instrumentation._outputs import Outputs
from modelspan.profiling._calibration import Calibration
from modelspan.store.sqlite import SQLiteStore


def _time_calls(baseline: Baseline, rows: int, calls: int) -> float:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = TracerProvider()
    modelspan.configure(tracer_provider=provider, exporter=InMemorySpanExporter(), baselines=[baseline])

    @modelspan.monitor(model=MODEL, version=VERSION, task="classification")
    def predict_proba(features: Any) -> np.ndarray:
        s = model_score(np.array([row["x"] for row in features], dtype=float))
        return np.column_stack([1.0 - s, s])

    batch = [{"x": float(x)} for x in np.random.default_rng(1).normal(0.0, 1.0, rows)]
    try:
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(calls):
                predict_proba(batch)
            best = min(best, time.perf_counter() - start)
            modelspan.force_flush()
        return best
    finally:
        modelspan.shutdown()
        provider.shutdown()


def _time_sums(calibration: Calibration, rows: int) -> float:
    """Seconds of ``_expected_performance.add`` alone for one batch (best of 200)."""
    scores = model_score(np.random.default_rng(2).normal(0.0, 1.0, rows))
    outputs = Outputs(labels=["1" if s > 0.5 else "0" for s in scores], scores=np.maximum(scores, 1.0 - scores))
    best = float("inf")
    for _ in range(200):
        start = time.perf_counter()
        _expected_performance.add(calibration, outputs, {})
        best = min(best, time.perf_counter() - start)
    return best


def call_cost(baseline: Baseline) -> None:
    assert baseline.calibration is not None
    plain = Baseline.from_dict({**baseline.to_dict(), "calibration": None})
    assert plain.calibration is None
    print(f"{'monitored batch call':28} {'with / without calibration':>27} {'sums alone, µs':>15}")
    for rows, calls in ((250, 200), (500, 100), (5_000, 10)):
        ratio = _time_calls(baseline, rows, calls) / _time_calls(plain, rows, calls)
        alone = _time_sums(baseline.calibration, rows) * 1e6
        print(f"{f'batch of {rows:,} rows':28} {ratio:27.2f} {alone:15.0f}")


def store_cost(baseline: Baseline) -> None:
    assert baseline.calibration is not None
    traffic = window(5, rows=50_000, batch=500, baseline=baseline)
    edges = score_edges(baseline.calibration)
    with tempfile.TemporaryDirectory() as folder, SQLiteStore(Path(folder) / "store.db") as store:
        store.load_documents(traffic.documents)
        print(f"\n{'SQLite score_sums, 50,000 rows in batches of 500':52} {'seconds':>8} {'rows':>7} {'unscored':>9}")
        for label, fingerprint in (("recorded cells (every row)", baseline.calibration.fingerprint),
                                   ("listed rows only (before)", None)):
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                sums = store.score_sums(WINDOW, MODEL, VERSION, edges, fingerprint)
                best = min(best, time.perf_counter() - start)
            print(f"{label:52} {best:8.3f} {sums.rows:7,} {sums.unscored:9,}")


def main() -> None:
    baseline = reference_baseline()
    call_cost(baseline)
    store_cost(baseline)


if __name__ == "__main__":
    main()
