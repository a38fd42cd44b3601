"""The loop shared by the synthetic-truth traffic helpers (``cbpe_traffic``, ``dle_traffic``,
``multiclass_traffic``): rows through a real ``@modelspan.monitor`` on a real TracerProvider with an
in-memory exporter, the first ``singles`` as single-row calls and the rest in batches, and the spans
turned into the documents a store holds, spread over ``WINDOW``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modelspan
from modelspan import semconv
from modelspan.instrumentation import _config
from tests.store.elasticsearch.traffic import _moved


@dataclass
class Recorded:
    """What the SDK recorded of one window of calls."""

    documents: list[dict[str, Any]]
    prediction_ids: list[str]
    """The call id (single-row calls) or ``<call id>:<row>`` per row, in call order, for ``record_outcomes``."""
    spans: list[ReadableSpan]
    """The spans behind ``documents``, at the same times: for the real Elasticsearch exporter."""


def record(model: Callable[[Any], Any], rows: Sequence[Mapping[str, Any]], rng: np.random.Generator, *,
           monitor: Mapping[str, Any], singles: int, batch: int,
           baselines: Iterable[modelspan.Baseline] | None = None, flush_each_batch: bool = True) -> Recorded:
    """Call ``model`` (decorated with ``modelspan.monitor(**monitor)``) on ``rows``: ``rows[i]`` alone for
    the first ``singles``, then lists of ``batch`` rows; ``rng`` spreads the calls over ``WINDOW``."""
    baselines = list(baselines or ())
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=4096))
    exporter = InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=exporter, baselines=baselines or None)
    monitored = modelspan.monitor(**monitor)(model)
    starts = range(singles, len(rows), batch)
    try:
        for i in range(singles):
            monitored(rows[i])
        for start in starts:
            monitored(list(rows[start:start + batch]))
            if flush_each_batch:
                modelspan.force_flush()
        modelspan.force_flush()
        spans = list(exporter.get_finished_spans())
    finally:
        modelspan.shutdown()
        provider.shutdown()
        for baseline in baselines:  # configure() keeps baselines: the next window's SDK must not see these
            _config.STATE.baselines.pop((baseline.model, baseline.version), None)
    calls = singles + len(starts)
    assert len(spans) == calls, f"{len(spans)} spans for {calls} calls"  # none lost before the store
    documents, moved = _moved(spans, rng)
    ids = [str(d["attributes"][semconv.PREDICTION_ID]) for d in documents]
    prediction_ids = ids[:singles] + [f"{call}:{row}" for call in ids[singles:] for row in range(batch)]
    return Recorded(documents, prediction_ids[:len(rows)], moved)
