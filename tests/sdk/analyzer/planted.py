"""Generated traffic with planted problems, from a real decorated model (test helper).

Model ``fraud`` (sub-modules ``preprocess`` -> ``scorer`` | ``rules`` -> ``calibrate``; a planted
``fallback`` branch) serves a clean reference hour (``REFERENCE``) and the analysed hour
(``WINDOW``). Spans come from a real ``TracerProvider`` with an in-memory exporter and are turned
into the OTel Collector document (``span_to_document``); only their timestamps (spread over the
hour) and durations are set here, since Python runs the calls in microseconds. Problems to plant
in ``WINDOW`` (:class:`Plan`): a shifted feature, a unit change (x 1.8 + 32), a new category, a
novel module path, a slower sub-module, and ground truth that agrees less with the predictions
(recorded later as outcomes).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan import _time, semconv
from modelspan.exporters._document import span_to_document
from modelspan.instrumentation import _config
from modelspan.store import Window

MODEL = "fraud"
WINDOW = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")
REFERENCE = Window.parse("2026-11-22T09:00:00Z", "2026-11-22T10:00:00Z")
COUNTRIES = ["US", "DE", "FR", "GB"]
NEW_COUNTRY = "ZZ"
FRAUD_AMOUNT = 150.0
BASE_MS = {"model": 20.0, "preprocess": 3.0, "scorer": 4.0, "rules": 5.0, "calibrate": 2.0, "fallback": 4.0}


@dataclass
class Plan:
    """What goes wrong in ``WINDOW`` (None / False: nothing)."""

    shift: str | None = "age"
    unit_change: str | None = "temp"
    new_category: bool = True
    novel_path: bool = True
    slow_module: str | None = "scorer"
    accuracy_drop: bool = True


CLEAN = Plan(None, None, False, False, None, False)


@dataclass
class Traffic:
    baseline: modelspan.Baseline
    documents: list[dict[str, Any]]
    outcomes: list[tuple[str, Any, str]]
    """(prediction_id, actual, recorded at): labels that arrive two days after the window."""
    extra_features: list[str] = field(default_factory=list)
    spans: list[ReadableSpan] = field(default_factory=list)
    """The spans behind ``documents``, at the same times and durations: for the real exporter."""


def _rows(rng: np.random.Generator, n: int, extra: int, plan: Plan | None = None) -> list[dict[str, Any]]:
    plan = plan or CLEAN
    age = rng.normal(55.0 if plan.shift == "age" else 40.0, 10.0, n)
    temp = rng.normal(20.0, 5.0, n)
    if plan.unit_change == "temp":
        temp = temp * 1.8 + 32
    country = rng.choice(COUNTRIES, n, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    if plan.new_category:
        country[rng.random(n) < 0.15] = NEW_COUNTRY
    amount = rng.lognormal(np.log(80.0), 0.35, n)
    extras = rng.normal(0.0, 1.0, (extra, n))
    return [{"age": float(age[i]), "temp": float(temp[i]), "country": str(country[i]), "amount": float(amount[i]),
             **{f"f{j}": float(extras[j, i]) for j in range(extra)}} for i in range(n)]


def training_baseline(rng: np.random.Generator, extra: int) -> modelspan.Baseline:
    rows = _rows(rng, 5000, extra)
    data = {key: [row[key] for row in rows] for key in rows[0]}
    data["label"] = ["fraud" if a > FRAUD_AMOUNT else "ok" for a in data["amount"]]
    return modelspan.Baseline.from_data(data, model=MODEL, version="2", output="label", categorical=["country"])


class _Switch:
    fallback = False


def _model(version: str, baseline: modelspan.Baseline, switch: _Switch) -> Any:
    @modelspan.monitor(model=MODEL, version=version, baseline=baseline, task="classification")
    def predict(value: Any) -> Any:
        rows = value if isinstance(value, list) else [value]
        with modelspan.module("preprocess"):
            amounts = [row["amount"] for row in rows]
        if switch.fallback:
            with modelspan.module("fallback"):
                pass
        elif max(amounts) > FRAUD_AMOUNT and len(rows) == 1:
            with modelspan.module("rules"):
                pass
        else:
            with modelspan.module("scorer"):
                pass
        with modelspan.module("calibrate"):
            labels = ["fraud" if amount > FRAUD_AMOUNT else "ok" for amount in amounts]
        return labels if isinstance(value, list) else labels[0]

    return predict


def generate(plan: Plan, *, calls: int = 600, extra: int = 0, batch: int = 0, seed: int = 11) -> Traffic:
    """``calls`` single-row calls (or ``calls`` batches of ``batch`` rows) per hour, both hours."""
    rng = np.random.default_rng(seed)
    baseline = training_baseline(rng, extra)
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=4096))
    exporter = InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=exporter)
    switch = _Switch()
    try:
        with modelspan.Baseline.capture(model=MODEL, version="2", baseline=baseline) as capture:
            _serve(_model("2", baseline, switch), _rows(rng, 400, extra), switch, rng, 0.0, batch)
        assert capture.baseline is not None
        baseline = capture.baseline  # training profile + module paths per output
        predict = _model("2", baseline, switch)
        modelspan.force_flush()
        exporter.clear()
        _serve(predict, _rows(rng, calls * max(batch, 1), extra), switch, rng, 0.0, batch)
        reference = _finished(exporter)
        novel = 0.06 if plan.novel_path else 0.0
        _serve(predict, _rows(rng, calls * max(batch, 1), extra, plan), switch, rng, novel, batch)
        current = _finished(exporter)
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()
    documents, spans = _moved(reference, REFERENCE, rng, None)
    more, more_spans = _moved(current, WINDOW, rng, plan.slow_module)
    documents, spans = documents + more, spans + more_spans
    outcomes = _outcomes(documents, rng, plan)
    return Traffic(baseline, documents, outcomes, [f"f{j}" for j in range(extra)], spans)


def _serve(predict: Any, rows: list[dict[str, Any]], switch: _Switch, rng: np.random.Generator, fallback: float,
           batch: int) -> None:
    step = max(batch, 1)
    for start in range(0, len(rows), step):
        switch.fallback = bool(rng.random() < fallback)
        with contextlib.suppress(RuntimeError):
            predict(rows[start:start + step] if batch else rows[start])


def _finished(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    modelspan.force_flush()
    spans = list(exporter.get_finished_spans())
    exporter.clear()
    return spans


def _documents(spans: list[ReadableSpan], window: Window, rng: np.random.Generator,
               slow_module: str | None) -> list[dict[str, Any]]:
    return _moved(spans, window, rng, slow_module)[0]


def _moved(spans: list[ReadableSpan], window: Window, rng: np.random.Generator,
           slow_module: str | None) -> tuple[list[dict[str, Any]], list[ReadableSpan]]:
    """The documents of ``spans`` spread over ``window``, and the spans moved to the same times."""
    from tests.store.elasticsearch.ingest import retimed

    start_ns = int(window.start.timestamp() * 1e9)
    width = int(window.seconds * 1e9) - 10**9
    offsets: dict[int, int] = {}
    slow_traces = {span.context.trace_id for span in spans if span.context and slow_module
                   and (span.attributes or {}).get(semconv.MODULE_NAME) == slow_module}
    documents, moved = [], []
    for span in spans:
        trace = span.context.trace_id if span.context else 0
        offsets.setdefault(trace, start_ns + int(rng.integers(0, width)) - (span.start_time or 0))
        document = span_to_document(span)
        document["attributes"] = dict(document["attributes"])
        moment = (span.start_time or 0) + offsets[trace]
        document["@timestamp"] = _time.from_ns(moment).isoformat(
            timespec="microseconds").replace("+00:00", "Z")
        document["duration"] = _duration(span, rng, slow_module, trace in slow_traces)
        documents.append(document)
        moved.append(retimed(span, moment, document["duration"]))
    return documents, moved


def _duration(span: ReadableSpan, rng: np.random.Generator, slow_module: str | None, slow_trace: bool) -> int:
    attributes = span.attributes or {}
    name = "model" if attributes.get(semconv.SPAN_KIND) == semconv.SPAN_KIND_MODEL else str(
        attributes.get(semconv.MODULE_NAME, "model"))
    ms = rng.lognormal(np.log(BASE_MS.get(name, 4.0)), 0.4)
    if slow_trace and name in ("model", slow_module):
        ms += 4 * BASE_MS.get(slow_module or "", 4.0)  # the slow module's extra time shows in its model call too
    return int(ms * 1e6)


def _outcomes(documents: list[dict[str, Any]], rng: np.random.Generator, plan: Plan) -> list[tuple[str, Any, str]]:
    """Ground truth for half the single-row predictions, recorded two days after the window."""
    recorded = (WINDOW.end + _dt.timedelta(days=2)).isoformat().replace("+00:00", "Z")
    outcomes = []
    for document in documents:
        attributes = document["attributes"]
        label = attributes.get(semconv.OUTPUT_LABEL)
        if attributes.get(semconv.SPAN_KIND) != semconv.SPAN_KIND_MODEL or label is None or rng.random() < 0.5:
            continue
        in_window = document["@timestamp"] >= WINDOW.iso()[0]
        agree = 0.6 if plan.accuracy_drop and in_window else 0.92
        actual = label if rng.random() < agree else ("ok" if label == "fraud" else "fraud")
        outcomes.append((str(attributes[semconv.PREDICTION_ID]), actual, recorded))
    return outcomes
