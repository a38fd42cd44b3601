"""Property: for any input shape and any redaction policy, no redacted value appears in any
exported attribute, span event or status, whether the model answers, echoes the redacted values
as its output, or raises with them in its message; with raw capture on or off."""

from __future__ import annotations

import json
import os
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modelspan
from modelspan.instrumentation import _redaction
from tests.sdk.conftest import Spans

EXAMPLES = int(os.environ.get("MODELSPAN_HYPOTHESIS_EXAMPLES", "300"))
NAMES = ["email", "ssn", "city", "age", "note"]
KEY = "property-test-key-0123456789"

SHAPES: dict[str, Callable[[list[dict[str, Any]]], Any]] = {
    "dict": lambda rows: rows[0],
    "nested dict": lambda rows: {"user": rows[0], "score": 1.0},
    "list of dicts": lambda rows: rows,
    "numpy 1-D": lambda rows: np.array(list(rows[0].values()), dtype=object),
    "numpy 2-D": lambda rows: np.array([list(row.values()) for row in rows], dtype=object),
    "pandas DataFrame": lambda rows: pd.DataFrame(rows),
    "pandas Series": lambda rows: pd.Series(rows[0]),
    "tuple": lambda rows: tuple(rows[0].values()),
    "list": lambda rows: list(rows[0].values()),
    "list of lists": lambda rows: [list(row.values()) for row in rows],
    "list of tuples": lambda rows: [tuple(row.values()) for row in rows],
}

BATCHES = ("list of dicts", "numpy 2-D", "pandas DataFrame", "list of lists", "list of tuples")

# Redacted values carry a marker no attribute, hash or name can contain by chance.
secrets = st.text(string.ascii_letters + string.digits + "@.-_ ", min_size=4, max_size=24).map(
    lambda text: "secret-" + text)
plain = st.one_of(st.none(), st.integers(-1000, 1000), st.floats(allow_nan=True, allow_infinity=True),
                  st.sampled_from(["red", "blue", "a long enough text value here"]))


@dataclass
class Case:
    policy: dict[str, str]
    rows: list[dict[str, Any]]
    shape: str
    capture: bool
    behaviour: str  # "answer", "echo" (returns the redacted values) or "raise" (with them in its message)

    def secrets(self) -> list[str]:
        """The redacted values the model is called with (single-row shapes send the first row)."""
        rows = self.rows if self.shape in BATCHES else self.rows[:1]
        return [value for row in rows for name, value in row.items()
                if name in self.policy and isinstance(value, str)]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    policy = draw(st.dictionaries(st.sampled_from(NAMES), st.sampled_from(["drop", "hash"]), min_size=1))
    count = draw(st.integers(1, 4))
    rows = [{name: draw(st.one_of(secrets, st.none()) if name in policy else plain) for name in NAMES}
            for _ in range(count)]
    return Case(policy, rows, draw(st.sampled_from(list(SHAPES))), draw(st.booleans()),
                draw(st.sampled_from(["answer", "echo", "raise"])))


def exported_text(spans: Spans) -> str:
    """Everything the spans would export: attributes, events, status, names."""
    parts = []
    for span in spans.all():
        parts.append(span.name)
        parts.append(json.dumps(dict(span.attributes or {}), default=repr))
        parts.append(span.status.description or "")
        for event in span.events:
            parts.append(event.name + json.dumps(dict(event.attributes or {}), default=repr))
    return "\n".join(parts)


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=cases())
def test_no_redacted_value_is_ever_exported(spans: Spans, case: Case) -> None:
    spans.exporter.clear()
    modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, capture_inputs=case.capture,
                        redact=case.policy, hash_key=KEY)
    hidden = case.secrets()
    batch = case.shape in BATCHES

    @modelspan.monitor(model="property", features=NAMES)
    def predict(data: Any) -> Any:
        if case.behaviour == "raise":
            raise RuntimeError("failed on " + ", ".join(hidden))
        if case.behaviour == "echo" and hidden:
            return list(hidden[: len(case.rows)]) + ["x"] * (len(case.rows) - len(hidden)) if batch else hidden[0]
        return [0.5] * len(case.rows) if batch else 0.5

    try:
        predict(SHAPES[case.shape](case.rows))
    except RuntimeError:
        assert case.behaviour == "raise"
    text = exported_text(spans)
    assert "property" in text  # the call was recorded
    for secret in hidden:
        assert secret not in text, (secret, case)


def teardown_module() -> None:
    _redaction.set_key(None)


def test_the_property_catches_a_leak(spans: Spans) -> None:
    """The check above can fail: without redaction the same value is found."""
    modelspan.configure(tracer_provider=spans.provider, exporter=spans.exporter, capture_inputs=True)

    @modelspan.monitor(model="property", features=NAMES)
    def predict(data: Any) -> float:
        return 0.5

    predict(["secret-x1", None, "red", 1, None])
    with pytest.raises(AssertionError):
        assert "secret-x1" not in exported_text(spans)
