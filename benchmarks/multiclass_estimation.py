"""Multiclass CBPE on synthetic truth, and what the SQLite store's sums cost (docs/estimation.md, issue 19).

x ~ N(mean, std² I) in 2-D, y ~ softmax(Wx) with 3 classes, a model saying softmax(2Wx); reference of 30,000
labelled rows. Per shift: the true expected metric (from 1,000,000 rows), the mean estimate over the windows,
how often the truth lies within 3 SE, and how often the estimated accuracy leaves the reference band.
Then the time ``Store.class_score_sums`` takes on SQLite for 20,000 rows recorded by the real SDK (in
batches and as single-row calls), per row: a figure of this machine, not an assertion.

    python benchmarks/multiclass_estimation.py               # 200 windows of 2,000 rows per shift
    python benchmarks/multiclass_estimation.py --windows 50
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.sdk.analyzer.multiclass_traffic import MODEL, VERSION, WINDOW, reference_baseline, traffic
from tests.sdk.analyzer.test_multiclass_estimation import METRICS, SHIFTS, draw, population_truth

from modelspan.analyzer import multiclass_estimation as mce
from modelspan.profiling._multiclass import MulticlassCalibration, fit_multiclass_calibration
from modelspan.store.sqlite import SQLiteStore


def truth_table(calibration: MulticlassCalibration, windows: int) -> None:
    for name in sorted(SHIFTS):
        expected = population_truth(SHIFTS[name])
        rng = np.random.default_rng(100 + sorted(SHIFTS).index(name))
        values: dict[str, list[float]] = {m: [] for m in METRICS}
        inside = dict.fromkeys(METRICS, 0)
        flagged = 0
        for _ in range(windows):
            _, scores, _, predicted = draw(rng, 2_000, SHIFTS[name])
            result = mce.estimate(calibration, scores, predicted)
            flagged += result["accuracy"].flagged
            for m in METRICS:
                values[m].append(result[m].value)
                inside[m] += abs(result[m].value - expected[m]) <= 3 * result[m].sampling_error
        print(f"{name} {SHIFTS[name]}: estimated accuracy outside the band in {flagged}/{windows} windows")
        for m in METRICS:
            print(f"  {m:9} truth {expected[m]:.4f}  mean estimate {np.mean(values[m]):.4f}  "
                  f"within 3 SE {inside[m]}/{windows}")


def store_cost() -> None:
    calibration = reference_baseline().multiclass_calibration
    assert calibration is not None
    edges = [mce.class_edges(c) for c in calibration.per_class]
    for singles in (0, 20_000):
        window = traffic(1, rows=20_000, singles=singles, batch=250)
        with tempfile.TemporaryDirectory() as directory, SQLiteStore(Path(directory) / "s.db") as store:
            store.load_documents(window.documents)
            started = time.perf_counter()
            sums = store.class_score_sums(WINDOW, MODEL, VERSION, edges)
            seconds = time.perf_counter() - started
        kind = "single-row calls" if singles else "batches of 250"
        print(f"class_score_sums, {sums.rows} rows in {kind}, {[len(e) for e in edges]} edges per class: "
              f"{seconds:.3f} s, {seconds / sums.rows * 1e6:.1f} µs a row")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=200)
    args = parser.parse_args()
    _, scores, y, predicted = draw(np.random.default_rng(19), 30_000)
    calibration = fit_multiclass_calibration(scores, y, predicted)
    print("isotonic kept per class:", [c.isotonic for c in calibration.per_class],
          "held-out ECE raw -> calibrated:", [(round(c.ece_raw, 4), round(c.ece_calibrated, 4))
                                               for c in calibration.per_class])
    truth_table(calibration, args.windows)
    store_cost()


if __name__ == "__main__":
    main()
