"""A model with many features, some of them drifting, served in a short burst (test helper).

Model ``wide`` takes one row of ``features`` numeric columns (one of them with a long name, to test
that labels are abbreviated), passes through two sub-modules with long names and answers a label.
Its training baseline is built from clean data; the served rows shift the first ``drifting``
columns by two standard deviations. The calls run through a real ``TracerProvider`` with an
in-memory exporter; only their timestamps are spread over ``burst`` (Python runs them in
microseconds) before they are stored in a real SQLite file and analysed.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import numpy as np
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan import _time
from modelspan.exporters._document import span_to_document
from modelspan.instrumentation import _config
from modelspan.store import Window

MODEL = "wide"
LONG_NAME = "average_transaction_amount_over_the_last_thirty_days"
MODULES = ("feature_engineering.normalise_and_impute", "gradient_boosted_trees_scorer")


def feature_names(count: int) -> list[str]:
    """``sensor_00`` ... with the last one named ``LONG_NAME``."""
    names = [f"sensor_{i:02d}" for i in range(count)]
    names[-1] = LONG_NAME
    return names


def _rows(rng: np.random.Generator, names: list[str], n: int, drifting: int) -> list[dict[str, float]]:
    values = rng.normal(0.0, 1.0, (len(names), n))
    values[:drifting] += 2.0
    return [{name: float(values[j, i]) for j, name in enumerate(names)} for i in range(n)]


def _serve(names: list[str], rows: list[dict[str, float]], baseline: modelspan.Baseline) -> list[Any]:
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=4096))
    exporter = InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=exporter)

    @modelspan.monitor(model=MODEL, version="1", baseline=baseline, task="classification")
    def predict(row: dict[str, float]) -> str:
        with modelspan.module(MODULES[0]):
            total = sum(row[name] for name in names)
        with modelspan.module(MODULES[1]):
            return "high" if total > 0 else "low"

    try:
        for row in rows:
            predict(row)
        modelspan.force_flush()
        return list(exporter.get_finished_spans())
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()


def build(path: Path, *, features: int, drifting: int, burst: Window, calls: int = 300, seed: int = 3) -> Path:
    """A SQLite store at ``path`` holding ``calls`` calls spread over ``burst``, analysed hour by hour."""
    from modelspan.analyzer import analyze
    from modelspan.store.sqlite import SQLiteStore

    rng = np.random.default_rng(seed)
    names = feature_names(features)
    training = _rows(rng, names, 2000, 0)
    data: dict[str, list[Any]] = {name: [row[name] for row in training] for name in names}
    data["label"] = ["high" if sum(row.values()) > 0 else "low" for row in training]
    baseline = modelspan.Baseline.from_data(data, model=MODEL, version="1", output="label")
    spans = _serve(names, _rows(rng, names, calls, drifting), baseline)
    start_ns, width = _time.to_ns(burst.start), int(burst.seconds * 1e9) - 10**6
    offsets: dict[int, int] = {}
    documents = []
    for span in spans:
        trace = span.context.trace_id if span.context else 0
        offsets.setdefault(trace, start_ns + int(rng.integers(0, width)) - (span.start_time or 0))
        document = span_to_document(span)
        moment = (span.start_time or 0) + offsets[trace]
        document["@timestamp"] = _time.from_ns(moment).isoformat(timespec="microseconds").replace("+00:00", "Z")
        documents.append(document)
    with SQLiteStore(path) as store:
        store.save_baseline(baseline)
        store.load_documents(documents)
        hour = burst.start.replace(minute=0, second=0, microsecond=0)
        while hour < burst.end:
            analyze(store, Window(hour, hour + _dt.timedelta(hours=1)))
            hour += _dt.timedelta(hours=1)
    return path
