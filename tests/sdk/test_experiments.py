"""Recording experiments: deterministic arms, experiment attributes, shadow calls off the caller's path."""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np
import pytest

import modelspan
from modelspan import semconv
from modelspan.instrumentation._experiment import bucket, choose, fnv1a32, unit_pseudonym
from tests.sdk.conftest import Spans

# GrowthBook's published hash cases (version 2: seed, value, expected bucket).
GROWTHBOOK_V2 = [("seed", "a", 0.0505), ("seed", "b", 0.2696), ("foo", "ab", 0.2575), ("foo", "def", 0.2019),
                 ("89123klj", "8952klfjas09ujkasdf", 0.124), ("90850943850283058242805", "123", 0.7516),
                 ("()**(%$##$%#$#", '___)((*":&', 0.0128)]


@pytest.mark.parametrize(("seed", "value", "expected"), GROWTHBOOK_V2)
def test_bucket_is_growthbooks_version_2_hash(seed: str, value: str, expected: float) -> None:
    assert bucket(seed, value) == expected


def test_fnv1a32_reference_values() -> None:
    assert fnv1a32("") == 0x811C9DC5
    assert fnv1a32("a") == 0xE40C292C  # the FNV authors' test vector


def test_assignment_is_deterministic_and_recomputable_offline() -> None:
    arms, weights = ["champion", "challenger"], [0.9, 0.1]
    first = modelspan.assign("ranker-v2", "user-7", arms, weights)
    again = modelspan.assign("ranker-v2", "user-7", arms, weights)
    assert (first.arm, first.bucket, first.unit) == (again.arm, again.bucket, again.unit)
    # Offline, from the documented recipe only:
    offline = bucket("ranker-v2", "user-7")
    assert first.bucket == offline and first.arm == arms[choose(offline, weights)]
    assert first.arm == ("champion" if offline < 0.9 else "challenger")
    assert first.unit == unit_pseudonym("ranker-v2", "user-7") and "user-7" not in first.unit


def test_assignment_follows_the_weights_over_many_units() -> None:
    counts = Counter(modelspan.assign("exp", f"u{i}", ["a", "b", "c"], [0.5, 0.3, 0.2]).arm for i in range(20_000))
    shares = np.array([counts["a"], counts["b"], counts["c"]]) / 20_000
    assert np.allclose(shares, [0.5, 0.3, 0.2], atol=0.015)
    reseeded = Counter(modelspan.assign("exp", f"u{i}", ["a", "b"], seed="other").arm for i in range(2_000))
    assert abs(reseeded["a"] - 1_000) < 120


@pytest.mark.parametrize(("arms", "weights"), [([], None), (["a", "a"], None), (["a", "b"], [1.0]),
                                               (["a", "b"], [-1.0, 2.0]), (["a", "b"], [0.0, 0.0])])
def test_bad_assignment_arguments_are_clear_errors(arms: list[str], weights: list[float] | None) -> None:
    with pytest.raises(ValueError):
        modelspan.assign("exp", "u", arms, weights)


def test_calls_inside_an_assignment_carry_the_experiment(spans: Spans) -> None:
    @modelspan.monitor(model="inner", version="1")
    def inner(row: dict[str, float]) -> float:
        return 0.1

    @modelspan.monitor(model="ranker", version="1")
    def predict(row: dict[str, float]) -> float:
        return inner(row) + 0.4

    assignment = modelspan.assign("ranker-v2", "user-7", ["champion", "challenger"])
    with assignment:
        predict({"x": 1.0})
    predict({"x": 2.0})  # outside: no experiment
    by_model = [(dict(s.attributes or {})) for s in spans.models()]
    ranker = [a for a in by_model if a[semconv.MODEL_NAME] == "ranker"]
    assert ranker[0][semconv.EXPERIMENT_ID] == "ranker-v2"
    assert ranker[0][semconv.EXPERIMENT_ARM] == assignment.arm
    assert ranker[0][semconv.EXPERIMENT_UNIT] == assignment.unit
    assert semconv.EXPERIMENT_ID not in ranker[1]
    # The nested model is part of the arm's call, not a unit of its own.
    assert all(semconv.EXPERIMENT_ID not in a for a in by_model if a[semconv.MODEL_NAME] == "inner")


def _shadowed(sample: float = 1.0, fail: bool = False, queue_size: int = 1000,
              gate: threading.Event | None = None) -> tuple[object, object]:
    @modelspan.monitor(model="ranker", version="2")
    def challenger(row: dict[str, float]) -> str:
        if gate is not None:
            gate.wait(10)
        if fail:
            raise RuntimeError("challenger broke")
        return "high" if row["x"] > 0.7 else "low"

    @modelspan.shadow(challenger, sample=sample, experiment="ranker-v2", queue_size=queue_size)
    @modelspan.monitor(model="ranker", version="1")
    def champion(row: dict[str, float]) -> str:
        return "high" if row["x"] > 0.5 else "low"

    return champion, champion.shadow  # type: ignore[attr-defined]


def test_shadow_records_the_challenger_beside_the_champion(spans: Spans) -> None:
    champion, worker = _shadowed()
    xs = np.linspace(0.0, 0.99, 100)
    for x in xs:
        assert champion({"x": float(x)}) == ("high" if x > 0.5 else "low")
    assert worker.flush(10)  # type: ignore[attr-defined]
    finished = spans.all()
    champions = {s.attributes[semconv.PREDICTION_ID]: s for s in finished
                 if s.attributes and s.attributes.get(semconv.SPAN_KIND) == semconv.SPAN_KIND_MODEL}
    shadows = [s for s in finished if s.attributes and s.attributes.get(semconv.SPAN_KIND) == semconv.SPAN_KIND_SHADOW]
    assert len(champions) == 100 and len(shadows) == 100
    agreements = []
    for s in shadows:
        a = s.attributes or {}
        assert a[semconv.EXPERIMENT_SHADOW] is True and a[semconv.EXPERIMENT_ID] == "ranker-v2"
        assert a[semconv.MODEL_VERSION] == "2" and a[semconv.EXPERIMENT_ARM] == "challenger"
        linked = champions[a[semconv.EXPERIMENT_CHAMPION_PREDICTION_ID]]
        assert [link.context.span_id for link in s.links] == [linked.context.span_id]
        agreements.append(a[semconv.EXPERIMENT_AGREEMENT])
    # The challenger moves the threshold from 0.5 to 0.7: churn is the share of x in (0.5, 0.7].
    assert agreements.count(0.0) == np.count_nonzero((xs > 0.5) & (xs <= 0.7))
    assert agreements.count(1.0) + agreements.count(0.0) == 100
    assert worker.completed == 100 and worker.dropped == 0 and worker.failed == 0  # type: ignore[attr-defined]


def test_shadow_never_slows_or_breaks_the_caller(spans: Spans) -> None:
    gate = threading.Event()
    champion, worker = _shadowed(fail=True, queue_size=2, gate=gate)
    # The challenger is blocked: the caller still gets every answer at once, and the full queue drops.
    results = [champion({"x": 0.9}) for _ in range(10)]
    gate.set()
    assert results == ["high"] * 10
    assert worker.flush(10)  # type: ignore[attr-defined]
    assert worker.dropped >= 7 and worker.submitted + worker.dropped == 10  # type: ignore[attr-defined]
    assert worker.failed == worker.submitted  # type: ignore[attr-defined]
    shadows = [s for s in spans.all() if s.attributes and s.attributes.get(semconv.SPAN_KIND) == "shadow"]
    assert shadows and all(s.status.status_code.name == "ERROR" for s in shadows)
    assert all(semconv.EXPERIMENT_AGREEMENT not in (s.attributes or {}) for s in shadows)


def test_shadow_sample_share_and_numeric_difference(spans: Spans) -> None:
    @modelspan.monitor(model="scorer", version="2")
    def v2(row: dict[str, float]) -> float:
        return row["x"] + 0.25

    @modelspan.shadow(v2, sample=0.0)
    @modelspan.monitor(model="scorer", version="1")
    def never(row: dict[str, float]) -> float:
        return row["x"]

    @modelspan.shadow(v2)
    @modelspan.monitor(model="scorer", version="1")
    def always(row: dict[str, float]) -> float:
        return row["x"]

    never({"x": 1.0})
    always({"x": 1.0})
    assert never.shadow.flush(10) and always.shadow.flush(10)  # type: ignore[attr-defined]
    assert never.shadow.submitted == 0 and always.shadow.submitted == 1  # type: ignore[attr-defined]
    (shadow_span,) = [s for s in spans.all() if s.attributes and s.attributes.get(semconv.SPAN_KIND) == "shadow"]
    assert shadow_span.attributes[semconv.EXPERIMENT_DIFFERENCE] == 0.25  # type: ignore[index]
    assert shadow_span.attributes[semconv.EXPERIMENT_AGREEMENT] == 0.0  # type: ignore[index]
    with pytest.raises(ValueError):
        modelspan.shadow(v2, sample=2.0)


def test_async_functions_are_refused_clearly() -> None:
    async def challenger(row: dict[str, float]) -> float:
        return 0.0

    def champion(row: dict[str, float]) -> float:
        return 0.0

    with pytest.raises(TypeError, match="async"):
        modelspan.shadow(challenger)(champion)
