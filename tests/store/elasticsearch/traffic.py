"""Generated model traffic: real SDK spans turned into the documents Elasticsearch would hold.

``generate()`` runs a decorated model (two sub-modules, two branches) over single rows and
batches with a real TracerProvider and in-memory exporter, then turns each span into the OTel
Collector ``otel``-mode document (the exporter's ``span_to_document`` when it exists, else the
small adapter below), with timestamps spread over a known window.
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan import _time
from modelspan.instrumentation import _config
from modelspan.store import Window

WINDOW = Window.parse("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z")
INDEX = "traces-modelspan.otel-default"
PLANS = ["basic", "pro", "team"]


@dataclass
class Traffic:
    baseline: modelspan.Baseline
    documents: list[dict[str, Any]]
    spans: list[ReadableSpan] = field(default_factory=list)
    """The spans behind ``documents``, at the same times and durations: for the real exporter."""


def make_baseline(rng: np.random.Generator) -> modelspan.Baseline:
    rows = 2000
    data = {"temp": rng.normal(20.0, 5.0, rows).tolist(), "plan": rng.choice(PLANS, rows, p=[0.5, 0.3, 0.2]).tolist(),
            "label": rng.choice(["no", "yes"], rows, p=[0.7, 0.3]).tolist()}
    return modelspan.Baseline.from_data(data, model="churn", version="3", output="label", categorical=["plan"])


def generate(singles: int = 120, batches: int = 20, batch_size: int = 16, seed: int = 7,
             unseen_plan: str | None = "enterprise") -> Traffic:
    """Single-row and batch calls of model ``churn`` version ``3`` inside ``WINDOW``."""
    rng = np.random.default_rng(seed)
    baseline = make_baseline(rng)
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=4096))
    exporter = InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=exporter)
    try:
        predict = _model(baseline)
        for i in range(singles):
            plan = unseen_plan if unseen_plan and i % 10 == 0 else str(rng.choice(PLANS))
            temp: float | None = None if i % 25 == 0 else float(rng.normal(22.0, 6.0))
            _call(predict, {"temp": temp, "plan": plan})
        for _ in range(batches):
            rows = [{"temp": float(t), "plan": str(p)} for t, p in
                    zip(rng.normal(22.0, 6.0, batch_size), rng.choice([*PLANS, "enterprise"], batch_size), strict=True)]
            _call(predict, rows)
            # A batch call ends ~batch_size module spans too: flush so the SDK's bounded export
            # queue (2,048 spans) never drops any, however slow the machine is.
            modelspan.force_flush()
        modelspan.force_flush()
        spans = list(exporter.get_finished_spans())
    finally:
        modelspan.shutdown()
        provider.shutdown()
        _config.STATE.baselines.clear()
        # documents only: no store in this process should find the baseline through the SDK
        _config.STATE.decorator_baselines.pop(baseline.id, None)
    return Traffic(baseline, *_moved(spans, rng))


def _call(predict: Any, value: Any) -> None:
    with contextlib.suppress(RuntimeError):  # planted errors: the span records them
        predict(value)


def _model(baseline: modelspan.Baseline) -> Any:
    @modelspan.monitor(model="churn", version="3", baseline=baseline, task="classification")
    def predict(value: Any) -> Any:
        rows = value if isinstance(value, list) else [value]
        with modelspan.module("encoder"):
            pass
        labels = []
        for row in rows:
            temp = row["temp"] if row["temp"] is not None else 0.0
            if temp > 30:
                with modelspan.module("hot_path"):
                    labels.append("yes")
            else:
                with modelspan.module("scorer"):
                    labels.append("no" if temp < 25 else "yes")
        if isinstance(value, dict) and temp > 33:
            raise RuntimeError("planted failure")
        return labels if isinstance(value, list) else labels[0]

    return predict


def _documents(spans: list[ReadableSpan], rng: np.random.Generator) -> list[dict[str, Any]]:
    return _moved(spans, rng)[0]


def _moved(spans: list[ReadableSpan], rng: np.random.Generator) -> tuple[list[dict[str, Any]], list[ReadableSpan]]:
    """The documents of ``spans`` spread over ``WINDOW``, and the spans moved to the same times."""
    from tests.store.elasticsearch.ingest import retimed

    to_document = _span_to_document()
    start_ns = int(WINDOW.start.timestamp() * 1e9)
    span_ns = int(WINDOW.seconds * 1e9)
    offsets = {}  # whole traces move together so children stay inside their parent
    documents, moved = [], []
    for span in spans:
        trace_id = span.context.trace_id if span.context else 0
        offsets.setdefault(trace_id, start_ns + int(rng.integers(0, span_ns - 10**9)) - (span.start_time or 0))
        document = to_document(span)
        moment = (span.start_time or 0) + offsets[trace_id]
        # Real durations are microseconds of Python; spread them like a served model's so that
        # percentiles have something to tell apart (module spans shorter than their model span).
        is_model = (span.attributes or {}).get("ml.span.kind") == "model"
        document["duration"] = int(rng.lognormal(np.log(20e6 if is_model else 4e6), 0.5))
        document["@timestamp"] = _time.from_ns(moment).isoformat(
            timespec="microseconds").replace("+00:00", "Z")
        documents.append(document)
        moved.append(retimed(span, moment, document["duration"]))
    return documents, moved


def _span_to_document() -> Any:
    try:  # the exporter engineer's function, once it exists
        return importlib.import_module("modelspan.exporters._document").span_to_document
    except (ImportError, AttributeError):
        return _adapter


_KINDS = {0: "Internal", 1: "Server", 2: "Client", 3: "Producer", 4: "Consumer"}
_STATUS = {1: "Ok", 2: "Error"}  # unset: no code, as the Collector (v0.128.0+) writes it


def _adapter(span: ReadableSpan) -> dict[str, Any]:
    """The otel-mode document of ``span`` (fields the analyzer reads; see the golden file)."""
    context, parent = span.context, span.parent
    attributes = {key: list(value) if isinstance(value, tuple) else value
                  for key, value in (span.attributes or {}).items()}
    return {
        "@timestamp": str((span.start_time or 0) / 1e6),
        "data_stream": {"type": "traces", "dataset": "modelspan.otel", "namespace": "default"},
        "trace_id": f"{context.trace_id:032x}" if context else "",
        "span_id": f"{context.span_id:016x}" if context else "",
        "parent_span_id": f"{parent.span_id:016x}" if parent else "",
        "name": span.name,
        "kind": _KINDS[span.kind.value],
        "duration": (span.end_time or 0) - (span.start_time or 0),
        "status": ({"code": _STATUS[span.status.status_code.value]} if span.status.status_code.value else {})
        | ({"message": span.status.description} if span.status.description else {}),
        "attributes": attributes,
        "resource": {"attributes": dict(span.resource.attributes)},
    }
