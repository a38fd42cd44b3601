"""Call-time checks on single rows: counted attributes and span events, never exceptions."""

from __future__ import annotations

from typing import Any

import modelspan
from modelspan import semconv
from modelspan.baseline import Baseline
from tests.sdk.conftest import Spans

BASELINE = Baseline.from_data(
    {
        "temp": [10.0, 15.0, 20.0, 25.0],
        "city": ["paris", "rome", "oslo", "rome"],
        "note": ["fine day out today", "the day was fine", "cold and wet out there", "warm day today"],
    },
    model="weather",
    version="1",
)


def _call(spans: Spans, row: Any) -> dict[str, Any]:
    @modelspan.monitor(model="weather", version="1", baseline=BASELINE)
    def predict(row: Any) -> str:
        return "ok"

    assert predict(row) == "ok"
    return spans.one()


def test_clean_row_has_no_quality_attributes(spans: Spans) -> None:
    attributes = _call(spans, {"temp": 12.0, "city": "rome", "note": "fine day"})
    assert not [key for key in attributes if key.startswith(semconv.QUALITY_PREFIX)]
    assert attributes[semconv.feature_value("note") + semconv.TEXT_LENGTH_SUFFIX] == 8
    assert attributes[semconv.feature_value("note") + semconv.TEXT_OOV_RATE_SUFFIX] == 0.0
    assert semconv.feature_value("note") not in attributes  # raw text is never stored


def test_each_check_fires(spans: Spans) -> None:
    attributes = _call(spans, {"temp": float("nan"), "city": ["rome"], "note": None})
    assert attributes[semconv.quality_features(semconv.CHECK_NAN)] == ("temp",)
    assert attributes[semconv.quality_features(semconv.CHECK_TYPE_CHANGE)] == ("city",)
    assert attributes[semconv.quality_features(semconv.CHECK_NULL)] == ("note",)
    assert semconv.feature_value("temp") not in attributes  # JSON has no NaN
    events = spans.models()[0].events
    pairs = {(e.attributes or {})[semconv.QUALITY_EVENT_CHECK]: (e.attributes or {})[semconv.QUALITY_EVENT_FEATURE]
             for e in events if e.name == semconv.QUALITY_EVENT}
    assert pairs == {"nan": "temp", "type_change": "city", "null": "note"}


def test_range_unseen_and_missing_features(spans: Spans) -> None:
    attributes = _call(spans, {"temp": 99.0, "city": "tokyo", "note": "zebra quantum day"})
    assert attributes[semconv.quality_count(semconv.CHECK_OUT_OF_RANGE)] == 1
    assert attributes[semconv.quality_features(semconv.CHECK_UNSEEN_CATEGORY)] == ("city", "note")
    assert attributes[semconv.feature_value("temp")] == 99.0
    assert attributes[semconv.feature_value("note") + semconv.TEXT_OOV_RATE_SUFFIX] == 2 / 3


def test_number_that_became_a_string_is_a_type_change(spans: Spans) -> None:
    attributes = _call(spans, {"temp": "20", "city": "rome"})
    assert attributes[semconv.quality_features(semconv.CHECK_TYPE_CHANGE)] == ("temp",)
    assert attributes[semconv.quality_features(semconv.CHECK_NULL)] == ("note",)  # left out


def test_infinity_and_huge_integers(spans: Spans) -> None:
    attributes = _call(spans, {"temp": 10**400, "city": "rome", "note": "fine"})
    assert attributes[semconv.quality_count(semconv.CHECK_NAN)] == 1
