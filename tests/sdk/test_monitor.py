"""@modelspan.monitor on functions, methods, async functions and generators."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import modelspan
from modelspan import semconv
from modelspan.instrumentation import _health
from tests.sdk.conftest import Spans


def test_single_row_call_carries_identity_features_and_output(spans: Spans) -> None:
    @modelspan.monitor(model="churn", version="3")
    def predict(row: dict[str, Any]) -> float:
        return 0.25

    assert predict({"age": 41, "plan": "pro"}) == 0.25
    attributes = spans.one()
    assert spans.models()[0].name == "predict churn"
    assert attributes[semconv.SPAN_KIND] == "model"
    assert attributes[semconv.MODEL_NAME] == "churn"
    assert attributes[semconv.MODEL_VERSION] == "3"
    assert attributes[semconv.BATCH_SIZE] == 1
    assert attributes[semconv.SAMPLE_RATE] == 1.0
    assert attributes[semconv.DATA_STREAM_DATASET] == "modelspan"
    assert attributes[semconv.feature_value("age")] == 41.0
    assert attributes[semconv.feature_value("plan")] == "pro"
    assert attributes[semconv.OUTPUT_VALUE] == 0.25
    assert attributes[semconv.PREDICTION_ID] == modelspan.last_prediction().id  # type: ignore[union-attr]


def test_a_non_finite_output_is_not_recorded_as_a_value(spans: Spans) -> None:
    @modelspan.monitor(model="m")
    def predict(row: dict[str, Any]) -> float:
        return float("nan")

    assert np.isnan(predict({"x": 1.0}))
    attributes = spans.one()
    assert semconv.OUTPUT_VALUE not in attributes
    assert attributes[semconv.feature_value("x")] == 1.0


def test_long_and_many_feature_names_are_each_recorded(spans: Spans) -> None:
    long_name = "f" * 200  # longer than the attribute-name cache keeps
    names = [long_name, *(f"feature_{i}" for i in range(5000))]  # more names than the cache holds

    @modelspan.monitor(model="m")
    def predict(row: dict[str, Any]) -> float:
        return 0.5

    chunks = [names[start:start + 60] for start in range(0, len(names), 60)]
    for chunk in chunks:
        predict({name: float(len(name)) for name in chunk})
    recorded = [dict(s.attributes or {}) for s in spans.models()]
    assert len(recorded) == len(chunks)
    for chunk, attributes in zip(chunks, recorded, strict=True):
        assert {name: attributes.get(semconv.feature_value(name)) for name in chunk} == {
            name: float(len(name)) for name in chunk}


def test_return_value_is_the_same_object(spans: Spans) -> None:
    result = {"label": "yes", "score": 0.9}

    @modelspan.monitor(model="m")
    def predict(row: dict[str, Any]) -> dict[str, Any]:
        return result

    assert predict({"x": 1.0}) is result
    attributes = spans.one()
    assert attributes[semconv.OUTPUT_LABEL] == "yes"
    assert attributes[semconv.OUTPUT_SCORE] == 0.9


def test_model_exception_reaches_caller_as_same_object(spans: Spans) -> None:
    error = KeyError("missing")

    @modelspan.monitor(model="m")
    def predict(row: dict[str, Any]) -> float:
        raise error

    with pytest.raises(KeyError) as caught:
        predict({"x": 1.0})
    assert caught.value is error
    span = spans.models()[0]
    assert span.status.status_code is StatusCode.ERROR
    assert span.events[-1].name == "exception"
    assert modelspan.last_prediction() is not None


def test_method_skips_self_and_classmethod_staticmethod_work(spans: Spans) -> None:
    class Model:
        @modelspan.monitor(model="m", version="1")
        def predict(self, row: dict[str, Any]) -> str:
            return "a"

        @classmethod
        @modelspan.monitor(model="c")
        def klass(cls, row: dict[str, Any]) -> str:
            return "b"

        @staticmethod
        @modelspan.monitor(model="s")
        def static(row: dict[str, Any]) -> str:
            return "c"

    model = Model()
    assert (model.predict({"x": 2.0}), Model.klass({"x": 3.0}), Model.static({"x": 4.0})) == ("a", "b", "c")
    features = [dict(s.attributes or {})[semconv.feature_value("x")] for s in spans.models()]
    assert features == [2.0, 3.0, 4.0]


def test_input_argument_chosen_by_name(spans: Spans) -> None:
    @modelspan.monitor(model="m", input="features")
    def predict(threshold: float, features: dict[str, Any]) -> int:
        return 1

    predict(0.5, features={"x": 7.0})
    assert spans.one()[semconv.feature_value("x")] == 7.0


def test_async_function(spans: Spans) -> None:
    @modelspan.monitor(model="m")
    async def predict(row: dict[str, Any]) -> str:
        await asyncio.sleep(0)
        return "yes"

    async def main() -> tuple[str, str | None]:
        label = await predict({"x": 1.0})
        last = modelspan.last_prediction()
        return label, last.id if last else None

    label, prediction_id = asyncio.run(main())
    attributes = spans.one()
    assert label == "yes" and attributes[semconv.OUTPUT_LABEL] == "yes"
    assert attributes[semconv.PREDICTION_ID] == prediction_id


def test_async_exception_same_object(spans: Spans) -> None:
    error = ValueError("bad")

    @modelspan.monitor(model="m")
    async def predict(row: dict[str, Any]) -> str:
        raise error

    with pytest.raises(ValueError) as caught:
        asyncio.run(predict({"x": 1.0}))
    assert caught.value is error


def test_generator_outputs_are_the_yielded_rows(spans: Spans) -> None:
    @modelspan.monitor(model="m")
    def predict(rows: list[dict[str, Any]]) -> Iterator[str]:
        for row in rows:
            with modelspan.module("scorer"):
                yield "hi" if row["x"] > 0 else "lo"

    assert list(predict([{"x": 1.0}, {"x": -1.0}])) == ["hi", "lo"]
    attributes = spans.one()
    assert attributes[semconv.OUTPUT_LABELS] == ("hi", "lo")
    assert attributes[semconv.MODULE_PATH] == ("scorer", "scorer")
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left attached


def test_generator_closed_early_and_exceptions_thrown_in(spans: Spans) -> None:
    @modelspan.monitor(model="m")
    def predict(rows: list[int]) -> Iterator[int]:
        for row in rows:
            try:
                yield row
            except ValueError:
                yield -1

    gen = predict([1, 2, 3])
    assert next(gen) == 1
    assert gen.throw(ValueError("x")) == -1
    gen.close()
    assert len(spans.models()) == 1


def test_async_generator(spans: Spans) -> None:
    @modelspan.monitor(model="m")
    async def predict(rows: list[float]) -> AsyncIterator[float]:
        for row in rows:
            yield row * 2

    async def main() -> list[float]:
        return [item async for item in predict([1.0, 2.0])]

    assert asyncio.run(main()) == [2.0, 4.0]
    assert spans.one()[semconv.OUTPUT_VALUES] == (2.0, 4.0)


def test_batch_call_ids_and_summaries(spans: Spans) -> None:
    @modelspan.monitor(model="m", features=["a", "b"])
    def predict(batch: np.ndarray) -> np.ndarray:
        return np.array([[0.2, 0.8], [0.9, 0.1], [0.5, 0.5]])

    predict(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, np.nan]]))
    last = modelspan.last_prediction()
    assert last is not None and last.ids == [f"{last.id}:{i}" for i in range(3)]
    attributes = spans.one()
    assert attributes[semconv.BATCH_SIZE] == 3
    assert attributes[semconv.batch_stat("a", "sum")] == 9.0
    assert attributes[semconv.batch_stat("b", "nan_count")] == 1
    assert attributes[semconv.OUTPUT_LABELS] == ("1", "0", "0")
    assert attributes[semconv.OUTPUT_SCORES] == (0.8, 0.9, 0.5)
    assert attributes[semconv.quality_count("nan")] == 1


def test_classes_name_probability_columns(spans: Spans) -> None:
    @modelspan.monitor(model="m", classes=["no", "yes"])
    def predict(row: dict[str, Any]) -> list[float]:
        return [0.3, 0.7]

    predict({"x": 1.0})
    attributes = spans.one()
    assert attributes[semconv.OUTPUT_LABEL] == "yes"
    assert attributes[semconv.OUTPUT_SCORE] == 0.7
    assert attributes[semconv.OUTPUT_MARGIN] == pytest.approx(0.4)


def test_disabled_calls_straight_through(spans: Spans) -> None:
    modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, enabled=False)

    @modelspan.monitor(model="m")
    def predict(row: dict[str, Any]) -> float:
        return 1.0

    assert predict({"x": 1.0}) == 1.0
    assert spans.models() == []
    assert modelspan.last_prediction() is None  # never a stale id from an earlier call


def test_sampling_keeps_rate_on_span(spans: Spans) -> None:
    @modelspan.monitor(model="m", sample_rate=0.5)
    def predict(row: dict[str, Any]) -> float:
        return 1.0

    sampled_out = 0
    for _ in range(400):
        predict({"x": 1.0})
        last = modelspan.last_prediction()
        assert last is not None
        sampled_out += not last.sampled
    models = spans.models()
    assert sampled_out == 400 - len(models)
    assert 100 < len(models) < 300  # binomial(400, 0.5): outside this range has p < 1e-20
    assert {dict(s.attributes or {})[semconv.SAMPLE_RATE] for s in models} == {0.5}


def test_sampling_keeps_about_rate_of_the_calls_not_the_complement(spans: Spans) -> None:
    # at 0.5 keeping the sampled-out half instead would pass; at 0.1 it keeps 90% instead of 10%
    @modelspan.monitor(model="m", sample_rate=0.1)
    def predict(row: dict[str, Any]) -> float:
        return 1.0

    for _ in range(1000):
        predict({"x": 1.0})
    kept = len(spans.models())
    assert 40 < kept < 170  # binomial(1000, 0.1): mean 100, sd 9.5; outside has p < 1e-10


def test_monitoring_failure_is_counted_logged_once_and_call_unharmed(
    spans: Spans, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Hostile(dict[str, Any]):
        def items(self) -> Any:
            raise RuntimeError("boom")

        def __iter__(self) -> Any:
            raise RuntimeError("boom")

    @modelspan.monitor(model="m")
    def predict(row: dict[str, Any]) -> float:
        return 2.0

    before = modelspan.monitoring_errors()
    monkeypatch.setattr(_health, "_logged", set())  # "once per place" is per process: start afresh
    with caplog.at_level(logging.WARNING, logger="modelspan"):
        assert predict(Hostile(x=1)) == 2.0
        assert predict(Hostile(x=1)) == 2.0
    assert modelspan.monitoring_errors() == before + 2
    (logged,) = [r for r in caplog.records if "monitoring failed" in r.message]
    assert logged.exc_info is not None and str(logged.exc_info[1]) == "boom"


def test_attribute_budget_keeps_identity_under_default_limits() -> None:
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=128))
    exporter = InMemorySpanExporter()
    modelspan.configure(tracer_provider=provider, exporter=exporter)
    try:

        @modelspan.monitor(model="wide")
        def predict(batch: np.ndarray) -> np.ndarray:
            return batch[:, 0]

        predict(np.random.default_rng(0).normal(size=(50, 40)))
        modelspan.force_flush()
        (span,) = exporter.get_finished_spans()
        attributes = dict(span.attributes or {})
        assert len(attributes) <= 128
        assert attributes[semconv.MODEL_NAME] == "wide"
        assert attributes[semconv.ATTRIBUTES_DROPPED] > 0
        assert semconv.OUTPUT_VALUES in attributes
    finally:
        modelspan.shutdown()
        provider.shutdown()


def test_capture_inputs_with_redaction(spans: Spans) -> None:
    modelspan.configure(
        tracer_provider=spans.provider,
        exporter=spans.exporter,
        capture_inputs=True,
        redact={"email": "drop", "user": "hash"},
        hash_key="test-key-0123456789",
    )

    @modelspan.monitor(model="m")
    def predict(row: dict[str, Any]) -> float:
        return 1.0

    predict({"email": "a@b.c", "user": "alice", "x": 1.0})
    attributes = spans.one()
    raw = attributes[semconv.INPUT_RAW]
    assert "a@b.c" not in raw and "alice" not in raw and '"x": 1.0' in raw
    assert semconv.feature_value("email") not in attributes
    assert attributes[semconv.feature_value("user")].startswith(semconv.REDACTED_HMAC_PREFIX)


def test_raw_input_is_off_by_default(spans: Spans) -> None:
    @modelspan.monitor(model="m")
    def predict(row: dict[str, Any]) -> float:
        return 1.0

    predict({"x": 1.0})
    assert semconv.INPUT_RAW not in spans.one()


def test_current_prediction_inside_the_call(spans: Spans) -> None:
    seen: list[str] = []

    @modelspan.monitor(model="m")
    def predict(row: dict[str, Any]) -> float:
        current = modelspan.current_prediction()
        assert current is not None
        seen.append(current.id)
        return 1.0

    predict({"x": 1.0})
    assert seen == [spans.one()[semconv.PREDICTION_ID]]
    assert modelspan.current_prediction() is None


def test_last_prediction_is_per_thread_and_task(spans: Spans) -> None:
    @modelspan.monitor(model="m")
    async def predict(row: dict[str, Any]) -> float:
        await asyncio.sleep(0)
        return 1.0

    async def one() -> str:
        await predict({"x": 1.0})
        last = modelspan.last_prediction()
        assert last is not None
        return last.id

    async def main() -> list[str]:
        return list(await asyncio.gather(*(one() for _ in range(5))))

    ids = asyncio.run(main())
    assert sorted(ids) == sorted(str(dict(s.attributes or {})[semconv.PREDICTION_ID]) for s in spans.models())


def test_bad_decorator_arguments_raise() -> None:
    with pytest.raises(ValueError):
        modelspan.monitor(model="")
    with pytest.raises(ValueError):
        modelspan.monitor(model="m", task="clustering")
    with pytest.raises(ValueError):
        modelspan.monitor(model="m", sample_rate=0.0)
    with pytest.raises(ValueError):
        modelspan.monitor(model="m", input="nope")(lambda x: x)
