"""Lossless accounting (issue 13, point 5; docs/profiles.md): every call without a stored span is counted
in ``modelspan.stats()["calls_without_span"]``, and the analyzer says the same number in its QPS finding."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider

import modelspan
from modelspan import findings
from modelspan.analyzer import analyze
from modelspan.store.sqlite import SQLiteStore
from modelspan.store.types import Window

CALLS = 3_000


def test_calls_without_a_span_are_counted_in_stats_and_said_by_the_analyzer(tmp_path: Path) -> None:
    path = tmp_path / "modelspan.db"
    before = modelspan.stats()
    modelspan.configure(tracer_provider=TracerProvider(), exporter="sqlite", store=str(path), sample_rate=0.5)

    @modelspan.monitor(model="accounted", version="1")
    def predict(row: dict[str, float]) -> float:
        with modelspan.module("score"):
            return row["x"]

    try:
        for number in range(CALLS):  # a tight loop: the export queue may drop spans too
            predict({"x": float(number)})
    finally:
        modelspan.shutdown()
    after = modelspan.stats()
    delta = {key: after[key] - before[key] for key in after}
    now = dt.datetime.now(dt.timezone.utc)
    with SQLiteStore(path) as store:
        stored = store.connection.execute("SELECT count(*) FROM calls WHERE module = ''").fetchone()[0]
        result = analyze(store, Window(now - dt.timedelta(hours=1), now + dt.timedelta(minutes=5)), write=False)
    assert delta["calls"] == CALLS and 0 < stored < CALLS
    assert delta["calls_without_span"] == CALLS - stored
    lost = delta["calls_without_span"] - (CALLS - delta["spans_started"])  # model spans the queue dropped
    (qps,) = [doc for doc in result.findings if doc[findings.TYPE] == findings.TYPE_THROUGHPUT
              and doc.get(findings.MODULE_NAME) is None and " from " not in doc[findings.SUMMARY]]
    summary = str(qps[findings.SUMMARY])
    assert f"traces incomplete: {CALLS - stored} of {CALLS} calls have no span" in summary
    assert (f"{lost} lost on the way to the store" in summary) == (lost > 0)
