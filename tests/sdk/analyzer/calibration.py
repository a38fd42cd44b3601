"""Unchanged traffic through the real SDK and the SQLite store, for false-alarm calibration (test helper).

A model with ``NUMERIC`` numeric features (independent N(0, 1)) and ``CATEGORICAL`` categorical ones
(Zipf-like shares over 3 to 200 levels, so some exceed the baseline's 50 named categories) gets a
baseline built from ``n`` training rows and serves ``n`` fresh rows of the *same* distribution in
batch calls. Every flagged finding of :func:`run` is a false alarm.
"""

from __future__ import annotations

import datetime as _dt
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan.analyzer import analyze
from modelspan.exporters._document import span_to_document
from modelspan.instrumentation import _config
from modelspan.store import Window

MODEL = "calibration"
NUMERIC = 40
CATEGORICAL = 10
LEVELS = (3, 5, 8, 12, 20, 30, 60, 80, 120, 200)
BATCH = 500


def _shares(levels: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, levels + 1) ** 0.8
    return weights / weights.sum()


def rows(rng: np.random.Generator, n: int) -> dict[str, Any]:
    """``n`` rows as columns: ``x0``..``x39`` numeric, ``c0``..``c9`` categorical."""
    data: dict[str, Any] = {f"x{j}": rng.normal(0.0, 1.0, n) for j in range(NUMERIC)}
    for j, levels in enumerate(LEVELS[:CATEGORICAL]):
        data[f"c{j}"] = [f"L{k}" for k in rng.choice(levels, n, p=_shares(levels))]
    return data


def run(n: int, seed: int) -> list[dict[str, Any]]:
    """The flagged findings of one unchanged window of ``n`` rows against a baseline of ``n`` rows."""
    rng = np.random.default_rng(seed)
    baseline = modelspan.Baseline.from_data(rows(rng, n), model=MODEL, version="1",
                                            categorical=[f"c{j}" for j in range(CATEGORICAL)])
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=8192))
    exporter = InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=exporter)
    try:
        @modelspan.monitor(model=MODEL, version="1", baseline=baseline)
        def predict(batch: Any) -> Any:
            return np.zeros(len(batch))

        fresh = pd.DataFrame(rows(rng, n))
        started = _dt.datetime.now(_dt.timezone.utc)
        for start in range(0, n, BATCH):
            predict(fresh.iloc[start:start + BATCH])
        modelspan.force_flush()
        documents = [span_to_document(span) for span in exporter.get_finished_spans()]
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()
    window = Window(started - _dt.timedelta(seconds=1), _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=1))
    with tempfile.TemporaryDirectory() as directory:
        from modelspan.store.sqlite import SQLiteStore

        with SQLiteStore(Path(directory) / "store.db") as store:
            store.save_baseline(baseline)
            store.load_documents(documents)
            analysis = analyze(store, window, reference="baseline", write=True)
    return analysis.flagged
