"""The ``oov_rate`` drift path end to end: SDK spans of a text feature -> SQLite store -> analyze().

A profile keeps a vocabulary but no OOV rate, so the OOV test runs only window against window: a
reference window of in-vocabulary notes, then a window where most words are new.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan import findings
from modelspan.analyzer import analyze
from modelspan.instrumentation import _config
from modelspan.store.sqlite import SQLiteStore
from tests.sdk.analyzer.planted import REFERENCE, WINDOW, _documents

KNOWN = ["refund", "late", "broken", "thanks"]
NEW = ["chargeback", "fraud", "stolen", "lawyer"]


def _spans(notes: list[str], baseline: modelspan.Baseline) -> list[Any]:
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=4096))
    memory = InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=memory, baselines=[baseline])
    try:
        @modelspan.monitor(model="notes", version="1", task="regression")
        def predict(row: dict[str, Any]) -> float:
            return float(len(row["note"]))

        for note in notes:
            predict({"note": note})
        modelspan.force_flush()
        return list(memory.get_finished_spans())
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()


def _notes(rng: np.random.Generator, words: list[str], n: int) -> list[str]:
    return [" ".join(rng.choice(words, 3)) for _ in range(n)]


def test_a_rise_of_new_words_is_found_against_the_previous_window(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    baseline = modelspan.Baseline.from_data({"note": _notes(rng, KNOWN, 400)}, model="notes", version="1",
                                            text=["note"])
    before = _documents(_spans(_notes(rng, KNOWN, 150), baseline), REFERENCE, rng, None)
    after = _documents(_spans(_notes(rng, KNOWN + NEW * 3, 150), baseline), WINDOW, rng, None)
    steady = _documents(_spans(_notes(rng, KNOWN, 150), baseline), WINDOW, rng, None)
    for name, current in (("drifted", after), ("steady", steady)):
        with SQLiteStore(tmp_path / f"{name}.db") as store:
            store.save_baseline(baseline)
            store.load_documents(before + current)
            analysis = analyze(store, WINDOW, reference=REFERENCE, write=False)
        (note,) = [f for f in analysis.findings
                   if f[findings.TYPE] == findings.TYPE_DRIFT and f.get(findings.FEATURE_NAME) == "note"]
        found = re.search(r"oov_rate (-?[0-9.]+)", note[findings.SUMMARY])
        assert found is not None, note[findings.SUMMARY]
        oov = float(found[1])
        if name == "drifted":  # about 3 of every 4 words are new (the text lengths moved too)
            assert note[findings.FLAGGED] and 0.5 < oov < 0.95
        else:
            assert not note[findings.FLAGGED] and abs(oov) < 0.05
