"""Bad input never breaks inference: 10,000+ malformed inputs through decorated models.

For every input: the model's own result comes back as the same object, the model's own
exception reaches the caller as the same object, monitoring records no failure reading the input
(``modelspan.monitoring_errors()`` moves only for an output of a shape no rule reads, by one, and
that is logged naming ``monitor.output`` and the shape: never silence), every attribute is a valid
OpenTelemetry value (the SDK logs nothing else), and one span is exported per call. Hostile objects (whose
``__str__``/``__eq__``/``__len__`` raise) may count monitoring errors but must never escape.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import StatusCode

import modelspan
from modelspan import semconv
from modelspan.baseline import Baseline
from tests.sdk.conftest import Spans

# Four tests: 10,400 malformed inputs in all (lower it locally with MODELSPAN_HYPOTHESIS_EXAMPLES).
EXAMPLES = int(os.environ.get("MODELSPAN_HYPOTHESIS_EXAMPLES", "2600"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**320),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.just("x" * 10_000),
    st.binary(max_size=10),
    st.complex_numbers(allow_nan=True),
    st.datetimes(min_value=dt.datetime(1, 1, 1)),
    st.sampled_from([np.float32("nan"), np.int64(7), np.bool_(True), np.str_("s"), np.datetime64("2020-01-01")]),
)
keys = st.one_of(st.text(max_size=12), st.integers(), st.none(), st.just("a.b"), st.just(""), st.just("k" * 1000))
nested = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(keys, inner, max_size=6),
        st.tuples(inner, inner),
        st.frozensets(st.integers(), max_size=3),
    ),
    max_leaves=10,
)
arrays = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.dtype("U4")]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
)
row_like = st.one_of(
    st.dictionaries(st.sampled_from(["temp", "city", "note", "x"]), nested, max_size=5),
    st.lists(st.dictionaries(st.sampled_from(["temp", "city", "note", "y"]), nested, max_size=4), max_size=6),
    st.lists(st.lists(scalars, max_size=5), max_size=6),  # ragged rows
    st.just([]),
    st.just({}),
    arrays,
)

BASELINE = Baseline.from_data(
    {
        "temp": [1.0, 5.0, 9.0, 5.0],
        "city": ["a", "b", "a", "c"],
        "note": ["some words here", "more words", "w", "x y z"],
    },
    model="bad",
    version="1",
    outputs=["p", "q", "p", "q"],
)


class ModelError(Exception):
    """The model's own failure, to be re-raised unchanged."""


@pytest.fixture
def otel_warnings(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.WARNING):
        yield caplog
    bad = [r.getMessage() for r in caplog.records if r.name.startswith(("opentelemetry", "modelspan"))
           and not r.getMessage().startswith("modelspan: monitoring failed in monitor.output (")]
    assert bad == []


def _check(spans: Spans, value: Any, output: Any, raise_it: bool, **options: Any) -> None:
    error = ModelError("model failed")

    @modelspan.monitor(model="bad", version="1", **options)
    def predict(data: Any) -> Any:
        if raise_it:
            raise error
        return output

    before = modelspan.monitoring_errors()
    ended = _model_spans(spans)
    spans_before = len(ended)
    if raise_it:
        with pytest.raises(ModelError) as caught:
            predict(value)
        assert caught.value is error
    else:
        assert predict(value) is output
    moved = modelspan.monitoring_errors() - before
    assert moved == 0 or (moved == 1 and not raise_it)  # only an unreadable output is counted
    assert len(ended) == spans_before + 1  # one span per call, whatever the input
    assert (ended[-1].status.status_code is StatusCode.ERROR) == raise_it
    assert dict(ended[-1].attributes or {})[semconv.MODEL_NAME] == "bad"


class _ModelSpans(SpanProcessor):
    """Model spans as they end (synchronously: no flush per generated example)."""

    def __init__(self) -> None:
        self.ended: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        if (span.attributes or {}).get(semconv.SPAN_KIND) == semconv.SPAN_KIND_MODEL:
            self.ended.append(span)


def _model_spans(spans: Spans) -> list[ReadableSpan]:
    """The model spans ended so far on this test's provider (a watcher added on first use)."""
    watcher: _ModelSpans | None = getattr(spans, "model_watcher", None)
    if watcher is None:
        watcher = _ModelSpans()
        spans.provider.add_span_processor(watcher)
        spans.model_watcher = watcher  # type: ignore[attr-defined]
    return watcher.ended


pytestmark = pytest.mark.slow  # 10,400 generated inputs take about a minute; CI runs them


@SETTINGS
@given(value=row_like, output=nested, raise_it=st.booleans())
def test_malformed_rows_and_batches(spans: Spans, otel_warnings: Any, value: Any, output: Any, raise_it: bool) -> None:
    _check(spans, value, output, raise_it)


@SETTINGS
@given(value=row_like, output=st.one_of(nested, arrays), raise_it=st.booleans())
def test_malformed_inputs_against_a_baseline(
    spans: Spans, otel_warnings: Any, value: Any, output: Any, raise_it: bool
) -> None:
    _check(spans, value, output, raise_it, baseline=BASELINE, classes=["p", "q"])


@SETTINGS
@given(value=nested, output=nested, raise_it=st.booleans())
def test_malformed_anything_with_capture_and_redaction(
    spans: Spans, otel_warnings: Any, value: Any, output: Any, raise_it: bool
) -> None:
    modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, capture_inputs=True,
                        redact={"city": "hash", "note": "drop"}, hash_key="test-key-0123456789")
    _check(spans, value, output, raise_it, baseline=BASELINE, task="classification")


@SETTINGS
@given(value=st.one_of(row_like, arrays), output=st.one_of(arrays, nested), raise_it=st.booleans())
def test_malformed_inputs_while_capturing_a_baseline(
    spans: Spans, otel_warnings: Any, value: Any, output: Any, raise_it: bool
) -> None:
    with Baseline.capture(model="bad", version="1"):
        _check(spans, value, output, raise_it, task="regression")


class Hostile:
    """An object whose every protocol method raises."""

    def __str__(self) -> str:
        raise RuntimeError("str")

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        return 1

    def __len__(self) -> int:
        raise RuntimeError("len")

    def __float__(self) -> float:
        raise RuntimeError("float")


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.sampled_from(["row", "key", "batch", "output", "nested"]), raise_it=st.booleans())
def test_hostile_objects_never_escape(spans: Spans, shape: str, raise_it: bool) -> None:
    modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, capture_inputs=True)
    hostile = Hostile()
    value: Any = {
        "row": {"temp": hostile},
        "key": {hostile: 1.0},
        "batch": [{"temp": hostile}, {"city": hostile}],
        "output": {"temp": 1.0},
        "nested": [[hostile, [hostile]]],
    }[shape]
    error = ModelError("x")
    result = hostile if shape == "output" else object()

    @modelspan.monitor(model="bad", version="1", baseline=BASELINE)
    def predict(data: Any) -> Any:
        if raise_it:
            raise error
        return result

    if raise_it:
        with pytest.raises(ModelError) as caught:
            predict(value)
        assert caught.value is error
    else:
        assert predict(value) is result
