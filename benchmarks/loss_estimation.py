"""Direct loss estimation on synthetic truth, end to end, and what it costs a call (docs/estimation.md, issue 19).

x ~ U(low, high), y = 2x + noise·x·N(0, 1), a model predicting 2x; the baseline's error model is learned on a
reference of 100,000 labelled rows with x ~ U(0, 2). Three parts:

1. calibration (numpy only): over ``--references`` reference sets and 200 windows each, how often the realised
   MAE lies within 3 SE of the estimate, and the mean estimate against the true expected MAE;
2. end to end (the real SDK, a SQLite file, ``analyze``): per scenario, the mean estimated and realised MAE and
   how often ``estimated_performance`` and ``estimation_gap`` are flagged (every row labelled);
3. the monitored call with the error model against the same call without one (ratios measured in this run).

    python benchmarks/loss_estimation.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.sdk.analyzer.dle_traffic import MODEL, VERSION, WINDOW, draw, expected_mae, reference_baseline, traffic

import modelspan
from modelspan import findings
from modelspan.analyzer import analyze
from modelspan.analyzer.loss_estimation import estimate_loss, gap_errors, loss_gap, realised_loss
from modelspan.baseline import Baseline
from modelspan.profiling._error_model import fit_error_model
from modelspan.store.sqlite import SQLiteStore

SHIFTS = {"clean U(0, 2)": (0.0, 2.0, 1.0), "shift U(1, 2)": (1.0, 2.0, 1.0), "shift U(0, 1)": (0.0, 1.0, 1.0),
          "concept drift, noise x1.5": (0.0, 2.0, 1.5)}


def calibration(references: int) -> None:
    print(f"{'windows of 2,000 rows':28} {'truth':>8} {'mean est':>8} {'realised in 3 SE':>17}")
    for name, (low, high, _) in list(SHIFTS.items())[:3]:
        inside, estimates = [], []
        for seed in range(references):
            rng = np.random.default_rng(100 + seed)
            x, prediction, target = draw(rng, 100_000)
            model = fit_error_model({"x": x}, prediction, target)
            for _ in range(200):
                x, prediction, target = draw(rng, 2_000, low, high)
                absolute, squared = model.expected({"x": x}, prediction)
                estimate = estimate_loss(model, x.size, float(absolute.sum()), float(squared.sum()))
                realised = realised_loss(target, prediction)["mae"]
                inside.append(not loss_gap(estimate["mae"].value, realised, gap_errors(model, estimate, x.size)["mae"]))
                estimates.append(estimate["mae"].value)
        print(f"{name:28} {expected_mae(low, high):8.4f} {np.mean(estimates):8.4f} "
              f"{np.mean(inside):16.2%} (of {len(inside)})")


def end_to_end(baseline: Baseline, windows: int) -> None:
    heads = ("truth", "mean est", "est flag", "realised", "gap flag")
    print(f"\n{'scenario':28} " + " ".join(f"{head:>8}" for head in heads))
    for base, (name, (low, high, noise)) in enumerate(SHIFTS.items()):
        rows = []
        for seed in range(windows):
            window = traffic(baseline, 10_000 * (base + 1) + seed, low=low, high=high, noise=noise)
            with tempfile.TemporaryDirectory() as folder, SQLiteStore(Path(folder) / "s.db") as store:
                store.load_documents(window.documents)
                store.record_outcomes(list(zip(window.prediction_ids, window.actual.tolist(), strict=True)))
                analysis = analyze(store, WINDOW, baselines={(MODEL, VERSION): baseline}, write=False)
            found = {(d[findings.TYPE], d.get(findings.METRIC_NAME)): d for d in analysis.findings}
            estimate, gap = (found[(kind, "mae")] for kind in (findings.TYPE_ESTIMATED_PERFORMANCE,
                                                                  findings.TYPE_ESTIMATION_GAP))
            rows.append((estimate[findings.METRIC_VALUE], estimate[findings.FLAGGED], gap[findings.METRIC_VALUE],
                         gap[findings.FLAGGED]))
        values = np.array(rows, dtype=float)
        print(f"{name:28} {expected_mae(low, high, noise):8.4f} {values[:, 0].mean():8.4f} {values[:, 1].mean():8.0%} "
              f"{values[:, 2].mean():8.4f} {values[:, 3].mean():8.0%}")


def call_cost(baseline: Baseline, calls: int) -> None:
    plain = Baseline.from_dict({**baseline.to_dict(), "error_model": None})
    print(f"\n{'monitored call':28} {'with / without error model':>27}")
    for name, argument in (("one row (float out)", {"x": 1.3}), ("batch of 250 rows", [{"x": 1.3}] * 250)):
        timings = {}
        for label, chosen in (("without", plain), ("with", baseline)):
            timings[label] = _time_calls(chosen, argument, calls if isinstance(argument, dict) else calls // 20)
        print(f"{name:28} {timings['with'] / timings['without']:27.2f}")


def _time_calls(baseline: Baseline, argument: Any, calls: int) -> float:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = TracerProvider()
    modelspan.configure(tracer_provider=provider, exporter=InMemorySpanExporter(), baselines=[baseline])

    @modelspan.monitor(model=MODEL, version=VERSION)
    def predict(features: Any) -> Any:
        return 2.0 * features["x"] if isinstance(features, dict) else 2.0 * np.array([r["x"] for r in features])

    try:
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(calls):
                predict(argument)
            best = min(best, time.perf_counter() - start)
            modelspan.force_flush()
        return best
    finally:
        modelspan.shutdown()
        provider.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", type=int, default=5)
    parser.add_argument("--windows", type=int, default=20)
    parser.add_argument("--calls", type=int, default=2_000)
    args = parser.parse_args()
    calibration(args.references)
    baseline = reference_baseline()
    end_to_end(baseline, args.windows)
    call_cost(baseline, args.calls)


if __name__ == "__main__":
    main()
