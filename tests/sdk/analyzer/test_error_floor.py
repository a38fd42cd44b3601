"""Model errors high on their own are flagged without history, and bursts inside any window (issue 12, item 7).

Real decorated model, real TracerProvider with an in-memory exporter, the Collector's document
shape, a real SQLite file; only the spans' timestamps are set (spread over the analysed hour).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan import cli
from modelspan import findings as F
from modelspan.analyzer import analyze
from modelspan.exporters._document import span_to_document
from modelspan.instrumentation import _config
from modelspan.store import Window
from modelspan.store.sqlite import SQLiteStore

HOUR = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")


def _calls(failing: list[bool]) -> list[dict[str, Any]]:
    """One model span per entry of ``failing`` (True: the call raised), in the Collector's shape."""
    provider, exporter = TracerProvider(), InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=exporter)
    try:
        @modelspan.monitor(model="churn", version="1")
        def predict(row: dict[str, float], fail: bool) -> float:
            if fail:
                raise RuntimeError("bad input")
            return row["x"] * 2

        for fail in failing:
            with contextlib.suppress(RuntimeError):
                predict({"x": 1.0}, fail)
        modelspan.force_flush()
        return [span_to_document(span) for span in exporter.get_finished_spans()]
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()


def _stamped(documents: list[dict[str, Any]], seconds: list[float]) -> list[dict[str, Any]]:
    for document, offset in zip(documents, seconds, strict=True):
        moment = HOUR.start + _dt.timedelta(seconds=offset)
        document["@timestamp"] = moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
    return documents


def _store(tmp_path: Path, documents: list[dict[str, Any]]) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "modelspan.db", interval_seconds=300)
    store.load_documents(documents)
    return store


def test_sixty_six_of_397_calls_raising_is_a_problem_without_history(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 12: 16.6% of calls raising was only an ``info`` finding and ``incidents --analyze`` said
    "no incidents", because there was no previous window to compare with."""
    rng = np.random.default_rng(2)
    failing = [True] * 66 + [False] * 331
    rng.shuffle(failing)
    documents = _stamped(_calls(failing), sorted(rng.uniform(0, 3599, len(failing))))
    with _store(tmp_path, documents) as store:
        analysis = analyze(store, HOUR, write=False)
    (errors,) = [d for d in analysis.findings if d[F.ID].startswith("error_rate:churn:1:_model:error_rate:")]
    assert errors[F.FLAGGED] and errors[F.SEVERITY] == "warning" and errors[F.TEST_NAME] == "binomial"
    assert errors[F.METRIC_VALUE] == pytest.approx(66 / 397) and "error rate high" in errors[F.SUMMARY]
    assert cli.main(["incidents", "--store", str(tmp_path / "modelspan.db"), "--since", HOUR.iso()[0],
                     "--until", HOUR.iso()[1], "--analyze", "--format", "json"]) == 0
    incidents = [d for d in json.loads(capsys.readouterr().out)["findings"] if d[F.TYPE] == F.TYPE_INCIDENT]
    assert [d[F.INCIDENT_KIND] for d in incidents] == [F.INCIDENT_MODEL_ONLY]
    assert errors[F.ID] in incidents[0][F.INCIDENT_MODEL_FINDINGS]


def test_a_short_burst_in_a_long_clean_window_is_found(tmp_path: Path) -> None:
    """100 failures in 5 minutes of an otherwise clean hour: 4% over the hour (below the floor),
    a third of the calls of its interval."""
    failing = [False] * 2300 + [True] * 100
    seconds = [i * 3599 / 2300 for i in range(2300)] + [1500 + i * 2.9 for i in range(100)]
    with _store(tmp_path, _stamped(_calls(failing), seconds)) as store:
        analysis = analyze(store, HOUR, write=False)
    flagged = [d for d in analysis.flagged if d[F.TYPE] == F.TYPE_ERROR_RATE]
    assert [d[F.ID] for d in flagged] == ["error_rate:churn:1:_model:error_rate@2026-11-22T10:25:00.000Z:"
                                          "2026-11-22T10:00:00.000Z"]
    assert flagged[0][F.TIMESTAMP] == "2026-11-22T10:25:00.000Z" and flagged[0][F.SEVERITY] == "critical"
