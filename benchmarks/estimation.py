"""CBPE findings on synthetic truth, end to end: the real SDK records each window, SQLite stores it, the
analyzer writes ``estimated_performance`` and ``estimation_gap`` findings (docs/estimation.md, issue 19).

x ~ N(mean, std²), y ~ Bernoulli(sigmoid(2x - shift)), a model scoring sigmoid(4x), reference of 50,000
labelled rows; every row of each window is labelled for the gap. Per scenario: the true expected accuracy,
the mean estimate, how often the truth lies within 3 SE of the estimate, and how often each finding
is flagged. Not a timing: it prints what the findings say over many seeds.

    python benchmarks/estimation.py                # 20 windows of 2,000 rows per scenario
    python benchmarks/estimation.py --windows 50
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.sdk.analyzer.cbpe_traffic import MODEL, VERSION, WINDOW, expected_accuracy, reference_baseline, window

from modelspan import findings
from modelspan.analyzer import analyze
from modelspan.store.sqlite import SQLiteStore

SCENARIOS = {"clean N(0, 1)": (0.0, 1.0, 0.0), "covariate shift N(0, 0.5²)": (0.0, 0.5, 0.0),
             "covariate shift N(1, 1)": (1.0, 1.0, 0.0), "concept drift sigmoid(2x - 1.5)": (0.0, 1.0, 1.5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=20)
    parser.add_argument("--rows", type=int, default=2_000)
    args = parser.parse_args()
    baseline = reference_baseline()
    heads = ("truth", "mean est", "in 3 SE", "est flag", "realised", "gap flag")
    print(f"{'scenario':34} " + " ".join(f"{head:>8}" for head in heads))
    for seed_base, (name, (mean, std, shift)) in enumerate(SCENARIOS.items()):
        rows = []
        for seed in range(args.windows):
            traffic = window(10_000 * (seed_base + 1) + seed, rows=args.rows, mean=mean, std=std, shift=shift)
            with tempfile.TemporaryDirectory() as folder, SQLiteStore(Path(folder) / "s.db") as store:
                store.load_documents(traffic.documents)
                store.record_outcomes(list(zip(traffic.prediction_ids, traffic.actual.tolist(), strict=True)))
                analysis = analyze(store, WINDOW, baselines={(MODEL, VERSION): baseline}, write=False)
            found = {(d[findings.TYPE], d.get(findings.METRIC_NAME)): d for d in analysis.findings}
            estimate = found[(findings.TYPE_ESTIMATED_PERFORMANCE, "accuracy")]
            gap = found[(findings.TYPE_ESTIMATION_GAP, "accuracy")]
            rows.append((estimate[findings.METRIC_VALUE], estimate[findings.METRIC_SAMPLING_ERROR],
                         estimate[findings.FLAGGED], gap[findings.METRIC_VALUE], gap[findings.FLAGGED]))
        values = np.array(rows, dtype=float)
        truth = expected_accuracy(mean, std, shift)
        within = np.mean(np.abs(values[:, 0] - expected_accuracy(mean, std)) <= 3 * values[:, 1])
        print(f"{name:34} {truth:8.4f} {values[:, 0].mean():8.4f} {within:8.0%} {values[:, 2].mean():8.0%} "
              f"{values[:, 3].mean():8.4f} {values[:, 4].mean():8.0%}")
    print("(in 3 SE: of the expected accuracy the scores imply, E over x of the calibrated truth before any concept "
          "drift)")


if __name__ == "__main__":
    main()
