"""Keyed hashing, exception scrubbing, and bounded cost per call for hostile inputs."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import modelspan
from modelspan import semconv
from modelspan.instrumentation import _exceptions, _rawcapture, _redaction
from modelspan.profiling import _inputs
from tests.sdk.conftest import Spans

KEY = "bounds-test-key-0123456789"


@pytest.fixture(autouse=True)
def _no_key_left_behind(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("MODELSPAN_HASH_KEY", "MODELSPAN_ALLOW_UNKEYED_HASH", "MODELSPAN_EXCEPTION_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    yield
    _redaction.set_key(None)


# --- keyed hashing ----------------------------------------------------------------------------


def test_hash_redaction_without_a_key_is_refused_at_configure(spans: Spans) -> None:
    with pytest.raises(ValueError, match="MODELSPAN_HASH_KEY"):
        modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, redact={"ssn": "hash"})
    with pytest.raises(ValueError, match="at least 16 bytes"):
        modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, redact={"ssn": "hash"},
                            hash_key="short")
    # drop needs no key; an explicit opt-in accepts unkeyed (reversible) hashes
    modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, redact={"ssn": "drop"})
    modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, redact={"ssn": "hash"},
                        allow_unkeyed_hash=True)
    assert _redaction.hash_value("123-45-6789").startswith(semconv.REDACTED_HASH_PREFIX)


def test_the_key_comes_from_the_environment_and_joins_across_processes(
    spans: Spans, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSPAN_HASH_KEY", KEY)
    modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, redact={"ssn": "hash"})

    @modelspan.monitor(model="m")
    def predict(row: dict[str, Any]) -> float:
        return 1.0

    predict({"ssn": "123-45-6789", "x": 1.0})
    here = spans.one()[semconv.feature_value("ssn")]
    script = ("from modelspan.instrumentation import _redaction; _redaction.set_key(%r.encode()); "
              "print(_redaction.hash_value('123-45-6789'))")
    other = subprocess.run([sys.executable, "-c", script % KEY], capture_output=True, text=True, check=True)
    assert here == other.stdout.strip() and here.startswith(semconv.REDACTED_HMAC_PREFIX)
    assert len(here) == len(semconv.REDACTED_HMAC_PREFIX) + 64
    _redaction.set_key(b"another-key-0123456789")
    assert _redaction.hash_value("123-45-6789") != here  # without the key the hash says nothing
    assert _redaction.hash_value(3) == _redaction.hash_value(3.0) == _redaction.hash_value("3")


# --- exceptions -------------------------------------------------------------------------------


def _raise_with(spans: Spans, **options: Any) -> Any:
    modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, redact={"email": "drop"},
                        **options)

    @modelspan.monitor(model="m")
    def predict(row: dict[str, Any]) -> float:
        local_secret = row["email"] + "-local"  # a local value: never in the stack trace
        raise ValueError(f"no score for {row['email']} ({len(local_secret)})")

    with pytest.raises(ValueError, match=r"alice@example\.com"):  # the caller's exception is intact
        predict({"email": "alice@example.com", "x": 1.0})
    (span,) = spans.models()
    (event,) = [event for event in span.events if event.name == "exception"]
    return span, dict(event.attributes or {})


def test_exception_messages_are_scrubbed_and_traces_keep_no_values(spans: Spans) -> None:
    span, event = _raise_with(spans)
    assert event["exception.type"] == "ValueError"
    assert event["exception.message"] == "no score for [redacted] (23)"
    trace = str(event["exception.stacktrace"])
    assert "in predict" in trace and "ValueError: no score for [redacted]" in trace
    assert "alice" not in trace and "alice" not in str(span.status.description)
    assert span.status.description == "ValueError: no score for [redacted] (23)"


def test_exception_messages_can_be_dropped_with_one_setting(spans: Spans) -> None:
    span, event = _raise_with(spans, exception_messages=False)
    assert "exception.message" not in event and span.status.description == "ValueError"
    assert str(event["exception.stacktrace"]).rstrip().endswith("\nValueError")


def test_chained_exceptions_are_scrubbed_too(spans: Spans) -> None:
    modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, redact={"ssn": "drop"})

    @modelspan.monitor(model="m")
    def predict(row: dict[str, Any]) -> float:
        try:
            raise KeyError(row["ssn"])
        except KeyError as exc:
            raise RuntimeError("lookup failed") from exc

    with pytest.raises(RuntimeError):
        predict({"ssn": "123-45-6789"})
    (span,) = spans.models()
    trace = str(span.events[-1].attributes["exception.stacktrace"])  # type: ignore[index]
    assert "KeyError: [redacted]" in trace and "direct cause" in trace and "123-45" not in trace


# --- bounded cost -----------------------------------------------------------------------------


def test_a_10_mb_column_name_makes_bounded_keys_and_distinct_names_stay_distinct(spans: Spans) -> None:
    modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, capture_inputs=True)
    first, second = "k" * 10_000_000 + "1", "k" * 10_000_000 + "2"

    @modelspan.monitor(model="m")
    def predict(rows: list[dict[str, Any]]) -> list[float]:
        return [1.0] * len(rows)

    predict([{first: 1.0, second: None}, {first: 2.0, second: None}])
    attributes = spans.one()
    size = len(json.dumps(attributes))
    assert size < 16_384, size
    assert max(len(key) for key in attributes) <= len("ml.batch.") + semconv.MAX_NAME_LENGTH + 20
    tokens = {semconv.parse_feature_attribute(key)[0] for key in attributes  # type: ignore[index]
              if semconv.parse_feature_attribute(key)} - {semconv.OUTPUT_FEATURE}
    assert tokens == {semconv.bounded_name(first), semconv.bounded_name(second)}
    assert list(attributes[semconv.quality_features(semconv.CHECK_NULL)]) == [semconv.bounded_name(second)]


def test_a_100000_wide_row_keeps_max_features(spans: Spans) -> None:
    modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, capture_inputs=True)

    @modelspan.monitor(model="m")
    def predict(row: Any) -> float:
        return 1.0

    predict(list(range(100_000)))
    predict(np.arange(100_000, dtype=np.float64))
    for span in spans.models():
        attributes = dict(span.attributes or {})
        features = [key for key in attributes if key.startswith(semconv.FEATURE_PREFIX)]
        assert len(features) == semconv.MAX_FEATURES
        assert len(attributes[semconv.INPUT_RAW].encode()) <= semconv.MAX_RAW_INPUT_BYTES


def test_capture_of_a_fan_out_object_stops_at_the_budget() -> None:
    shared: Any = [1.0]
    for _ in range(60):  # 2**60 leaves through shared references: never serialised whole
        shared = [shared, shared, {"k": shared}]
    text = _rawcapture.raw_input(shared, None, {})
    assert 0 < len(text.encode()) <= semconv.MAX_RAW_INPUT_BYTES and text.startswith("[[[")


class BadFloat(float):
    def __float__(self) -> float:
        raise ArithmeticError("no float for you")

    def __repr__(self) -> str:
        raise ArithmeticError("no repr either")


def test_a_raising_float_or_repr_is_one_counted_check(spans: Spans) -> None:
    modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, capture_inputs=True)

    @modelspan.monitor(model="m")
    def predict(row: Any) -> Any:
        return [1.0] * len(row) if isinstance(row, list) else 1.0

    predict({"bad": BadFloat(1.0), "x": 2.0})
    predict([{"bad": BadFloat(1.0), "x": 2.0}, {"bad": 3.0, "x": 1.0}])
    single, batch = (dict(span.attributes or {}) for span in spans.models())
    for attributes in (single, batch):
        assert list(attributes[semconv.quality_features(semconv.CHECK_TYPE_CHANGE)]) == ["bad"]
        assert attributes[semconv.quality_count(semconv.CHECK_TYPE_CHANGE)] == 1
        assert semconv.MONITORING_ERRORS not in attributes
    assert single[semconv.feature_value("x")] == 2.0 and semconv.INPUT_RAW in single


def test_an_output_that_is_a_redacted_field(spans: Spans) -> None:
    modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, redact={"_output": "hash"},
                        hash_key=KEY)

    @modelspan.monitor(model="m")
    def predict(rows: list[dict[str, Any]]) -> list[str]:
        return ["alice", "bob"]

    predict([{"x": 1.0}, {"x": 2.0}])
    attributes = spans.one()
    labels = list(attributes[semconv.OUTPUT_LABELS])
    assert labels == [_redaction.hash_value("alice"), _redaction.hash_value("bob")]
    # plain str: OpenTelemetry 1.27 (our minimum) drops a sequence holding a str subclass
    assert {type(label) for label in labels} == {str}
    assert "alice" not in json.dumps(attributes)


UNCONFIGURED_APP = """
import modelspan
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)  # the application's own provider; modelspan.configure() never called
try:
    predict = modelspan.monitor(model="m")(lambda row: 1.0)
except ValueError as exc:
    print("refused:", exc)
    raise SystemExit(0)
predict({"email": "alice@example.com", "ssn": "123-45-6789"})
(span,) = exporter.get_finished_spans()
print(sorted(span.attributes.items()))
"""


@pytest.mark.parametrize("key", [None, KEY])
def test_the_environment_policy_holds_before_configure(key: str | None) -> None:
    env = {"PATH": "", "MODELSPAN_REDACT": "email:drop,ssn:hash"} | ({"MODELSPAN_HASH_KEY": key} if key else {})
    out = subprocess.run([sys.executable, "-c", UNCONFIGURED_APP], capture_output=True, text=True, check=True,
                         env=env).stdout
    if key is None:
        assert out.startswith("refused:") and "MODELSPAN_HASH_KEY" in out
    else:
        assert "alice" not in out and "123-45" not in out and semconv.REDACTED_HMAC_PREFIX in out


@pytest.mark.parametrize("module", [_redaction, _rawcapture, _exceptions, _inputs, semconv])
def test_the_examples_in_the_docstrings_hold(module: Any) -> None:
    failures, tried = doctest.testmod(module)
    assert failures == 0 and tried > 0
