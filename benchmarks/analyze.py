"""A drift report over N spans x 20 features from the embedded store, against Evidently (issue 4).

Both sides judge the same rows with the same tests: 16 numeric features (normalised Wasserstein,
Evidently's default above 1,000 rows) and 4 categorical ones (Jensen-Shannon), against the same
100,000 reference rows (for modelspan: the baseline profile built from them). Three features are
planted to drift (a shift, a unit change x 1.8 + 32, a new category) so the verdicts can be compared.

1. N single-row model spans (a real ``@modelspan.monitor`` span as template, one per row, spread
   over one hour) are written into a fresh SQLite store with its bulk loader (``load_documents``);
   loading is timed and reported separately.
2. In a subprocess: ``modelspan.analyzer.analyze`` over the hour (store statistics, drift, data
   quality, operations, paths; findings written back).
3. In another subprocess: Evidently's ``Report([DataDriftPreset()])`` on the same reference and
   current rows as pandas DataFrames (built before the clock starts), then ``snapshot.dict()``.

Each subprocess reports its time and its peak resident memory (``VmHWM``), also above what it
held once its imports and inputs were ready. The ratio is Evidently's time over ours, same run.

    python benchmarks/analyze.py                 # 1,000,000 spans (loading takes minutes)
    python benchmarks/analyze.py --rows 100000   # smaller
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

NUMERIC = [f"n{i}" for i in range(16)]
CATEGORICAL = [f"c{i}" for i in range(4)]
CATEGORIES = ["red", "green", "blue", "amber", "violet"]
NEW_CATEGORY = "ultraviolet"
REFERENCE_ROWS = 100_000
START = _dt.datetime(2026, 11, 22, 10, tzinfo=_dt.timezone.utc)
HOUR = _dt.timedelta(hours=1)


def columns(rows: int, seed: int, current: bool) -> dict[str, np.ndarray]:
    """The rows, column by column; ``current`` plants drift in n0 (shift), n1 (unit change), c0 (new value)."""
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for i, name in enumerate(NUMERIC):
        data[name] = rng.normal(10.0 * i, 1.0 + i, rows)
    for name in CATEGORICAL:
        data[name] = rng.choice(np.array(CATEGORIES, dtype=object), rows, p=[0.35, 0.25, 0.2, 0.15, 0.05])
    if current:
        data["n0"] = data["n0"] + 0.5
        data["n1"] = data["n1"] * 1.8 + 32.0
        data["c0"][rng.random(rows) < 0.1] = NEW_CATEGORY
    return data


def _peak_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    ``VmHWM`` (Linux) belongs to the process image, so a child does not inherit the parent's peak;
    ``ru_maxrss`` survives fork and exec (the child would report the store loader's memory too),
    so it is only the fallback where ``/proc`` is missing.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --- parent: build the store ---------------------------------------------------------------------

def baseline_for(reference: dict[str, np.ndarray]) -> Any:
    import modelspan

    data: dict[str, Any] = {name: values.tolist() for name, values in reference.items()}
    data["label"] = np.where(reference["n2"] > 20.0, "high", "low").tolist()
    return modelspan.Baseline.from_data(data, model="bench", version="1", output="label", categorical=CATEGORICAL)


def template(baseline: Any) -> dict[str, Any]:
    """The document of one real monitored single-row call."""
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import modelspan
    from modelspan.exporters._document import span_to_document

    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=1024))
    exporter = InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=exporter, service_name="bench")

    @modelspan.monitor(model="bench", version="1", baseline=baseline, task="classification")
    def predict(row: dict[str, Any]) -> str:
        return "high" if row["n2"] > 20.0 else "low"

    predict({**{name: 1.0 for name in NUMERIC}, **{name: "red" for name in CATEGORICAL}})
    modelspan.force_flush()
    span = exporter.get_finished_spans()[0]
    modelspan.shutdown()
    provider.shutdown()
    return span_to_document(span)


def documents(data: dict[str, np.ndarray], start: int, stop: int, base: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows ``start:stop`` as model-span documents (the template's shape, this row's values)."""
    from modelspan import semconv

    attributes = base["attributes"]
    features = {name: semconv.feature_value(name) for name in data}
    rows = stop - start
    # Row i of n starts at i/n of the hour, so every span is inside the analysed window [START, START + HOUR).
    # (Spacing each chunk over the hour plus a per-row offset used to push 252 of 1,000,000 spans past its end.)
    total = len(next(iter(data.values())))
    seconds = np.arange(start, stop) * (HOUR.total_seconds() / total)
    columns_as_lists = {name: data[name][start:stop].tolist() for name in data}
    out = []
    for offset in range(rows):
        number = start + offset
        row_attributes = dict(attributes)
        for name, key in features.items():
            row_attributes[key] = columns_as_lists[name][offset]
        row_attributes[semconv.PREDICTION_ID] = f"p{number}"
        row_attributes[semconv.OUTPUT_LABEL] = "high" if columns_as_lists["n2"][offset] > 20.0 else "low"
        moment = START + _dt.timedelta(seconds=float(seconds[offset]))
        out.append({**base, "attributes": row_attributes, "span_id": f"{number:016x}", "trace_id": f"{number:032x}",
                    "@timestamp": moment.isoformat(timespec="microseconds").replace("+00:00", "Z")})
    return out


def build_store(path: Path, rows: int, chunk: int = 20_000) -> tuple[float, float]:
    """Write ``rows`` spans into a new store; returns (seconds making documents, seconds loading)."""
    from modelspan.store.sqlite import SQLiteStore

    reference = columns(REFERENCE_ROWS, 1, current=False)
    baseline = baseline_for(reference)
    base = template(baseline)
    current = columns(rows, 2, current=True)
    making = loading = 0.0
    with SQLiteStore(path) as store:
        store.save_baseline(baseline)
        for start in range(0, rows, chunk):
            began = time.perf_counter()
            batch = documents(current, start, min(start + chunk, rows), base)
            made = time.perf_counter()
            store.load_documents(batch)
            loading += time.perf_counter() - made
            making += made - began
            print(f"  loaded {min(start + chunk, rows):,} / {rows:,} spans", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return making, loading


# --- children ------------------------------------------------------------------------------------

def run_ours(path: str) -> dict[str, Any]:
    from modelspan import findings
    from modelspan.analyzer import analyze
    from modelspan.store import Window
    from modelspan.store.sqlite import SQLiteStore

    ready = _peak_mb()
    drift_only = drift_report(path)
    spent: dict[str, float] = {}
    began = time.perf_counter()
    with SQLiteStore(path) as store:
        for name in ("models", "model_stats", "labelled_predictions", "write_findings"):
            setattr(store, name, _timed(getattr(store, name), name, spent))
        analysis = analyze(store, Window(START, START + HOUR))
    seconds = time.perf_counter() - began
    drifted = sorted(f[findings.FEATURE_NAME] for f in analysis.flagged if f[findings.TYPE] == findings.TYPE_DRIFT)
    scores = {f[findings.FEATURE_NAME]: f[findings.TEST_SCORE] for f in analysis.findings
              if f[findings.TYPE] == findings.TYPE_DRIFT}
    return {"seconds": seconds, "peak_mb": _peak_mb(), "ready_mb": ready, "drifted": drifted, "scores": scores,
            "rows": analysis.stats[0].operations.calls if analysis.stats else 0, "store_seconds": spent,
            "drift_only_seconds": drift_only}


def drift_report(path: str) -> float:
    """Seconds for the drift report alone, Evidently's scope: statistics of the window, drift per feature.

    The same store calls ``analyze`` makes for it (models, baseline, one ``model_stats``) and the
    same drift code, without operations, paths, quality, incident correlation or writing.
    """
    from modelspan.analyzer._documents import Context
    from modelspan.analyzer._drift_findings import drift_findings
    from modelspan.store import Window
    from modelspan.store.sqlite import SQLiteStore

    window = Window(START, START + HOUR)
    began = time.perf_counter()
    with SQLiteStore(path) as store:
        for model, version, _ in store.models(window):
            baseline = store.load_baseline(model, version)
            stats, = store.model_stats([store.question(model, version, window, baseline)])
            drift_findings(Context(window, "baseline", None, ""), stats, None, baseline)
    return time.perf_counter() - began


def _timed(method: Any, name: str, spent: dict[str, float]) -> Any:
    """``method``, adding its wall time to ``spent[name]`` (where the run's time goes)."""
    def call(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - began
    return call


def run_evidently(rows: int) -> dict[str, Any]:
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    reference = pd.DataFrame(columns(REFERENCE_ROWS, 1, current=False))
    current = pd.DataFrame(columns(rows, 2, current=True))
    ready = _peak_mb()
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([DataDriftPreset()]).run(Dataset.from_pandas(current, data_definition=definition),
                                                   Dataset.from_pandas(reference, data_definition=definition))
        result = snapshot.dict()
    seconds = time.perf_counter() - began
    scores, drifted = {}, []
    for metric in result["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            scores[config["column"]] = float(metric["value"])
            if float(metric["value"]) >= float(config["threshold"]):
                drifted.append(config["column"])
    return {"seconds": seconds, "peak_mb": _peak_mb(), "ready_mb": ready, "drifted": sorted(drifted),
            "scores": scores}


def child(args: list[str]) -> dict[str, Any]:
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if result.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{result.stderr}")
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="spans (rows) in the analysed hour")
    parser.add_argument("--child", choices=("ours", "evidently"), help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "ours":
        print(json.dumps(run_ours(args.store)))
        return
    if args.child == "evidently":
        print(json.dumps(run_evidently(args.rows)))
        return
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench.db"
        print(f"building the store: {args.rows:,} spans x {len(NUMERIC) + len(CATEGORICAL)} features", file=sys.stderr)
        making, loading = build_store(path, args.rows)
        ours = child(["--child", "ours", "--store", str(path)])
        theirs = child(["--child", "evidently", "--rows", str(args.rows)])
    report(args.rows, making, loading, ours, theirs)


def report(rows: int, making: float, loading: float, ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    print(f"drift report over {rows:,} spans x {len(NUMERIC) + len(CATEGORICAL)} features "
          f"(reference: {REFERENCE_ROWS:,} rows)")
    print(f"  store load (not in the timings): documents {making:.1f} s, SQLite load_documents {loading:.1f} s "
          f"({rows / loading:,.0f} spans/s)")
    print(f"  modelspan analyze : {ours['seconds']:8.2f} s   peak RSS {ours['peak_mb']:7.0f} MB "
          f"(+{ours['peak_mb'] - ours['ready_mb']:.0f} MB during the run); spans analysed {ours['rows']:,}")
    store = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in ours["store_seconds"].items())
    print(f"      of which store calls: {store}; the rest (statistics, findings, incident correlation) "
          f"{ours['seconds'] - sum(ours['store_seconds'].values()):.2f} s")
    print(f"  evidently report  : {theirs['seconds']:8.2f} s   peak RSS {theirs['peak_mb']:7.0f} MB "
          f"(+{theirs['peak_mb'] - theirs['ready_mb']:.0f} MB during the run)")
    print(f"  ratio (evidently / modelspan analyze): {theirs['seconds'] / ours['seconds']:.1f}x faster (goal >= 10x)")
    drift = ours["drift_only_seconds"]
    print(f"  drift report alone (Evidently's scope; store statistics + drift, no operations/paths/incidents): "
          f"{drift:.2f} s, ratio {theirs['seconds'] / drift:.1f}x")
    print(f"  drifted: modelspan {ours['drifted']}  evidently {theirs['drifted']}")
    steady = [name for name in NUMERIC if name not in theirs["drifted"]]
    worst = max(abs(ours["scores"].get(name, np.nan) - theirs["scores"][name]) for name in steady)
    print(f"  normalised Wasserstein, binned (modelspan) vs exact (evidently): largest difference {worst:.4f} "
          f"over the {len(steady)} undrifted numeric features; planted: "
          + ", ".join(f"{name} {ours['scores'].get(name, np.nan):.2f} vs {theirs['scores'][name]:.2f}"
                      for name in NUMERIC if name in theirs["drifted"]))


if __name__ == "__main__":
    main()
