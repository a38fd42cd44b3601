"""The demo model is a real fitted model that a Fahrenheit client really breaks."""

from __future__ import annotations

import numpy as np

from modelspan.demo import _model
from modelspan.demo._scenario import SHARES, phases


def _accuracy(model: _model.DemandModel, rows: list[dict[str, object]], truth: list[str]) -> float:
    return float(np.mean([model.label(row) == label for row, label in zip(rows, truth, strict=True)]))


def test_fitted_model_is_accurate_and_a_unit_change_breaks_it() -> None:
    model, baseline, validation = _model.train(seed=3)
    rng = np.random.default_rng(5)
    rows = _model.sample_rows(rng, 2000)
    truth = _model.labels_for(rows, rng)
    assert _accuracy(model, rows, truth) > 0.85
    fahrenheit = [dict(row, temperature=float(str(row["temperature"])) * 9 / 5 + 32) for row in rows]
    assert _accuracy(model, fahrenheit, truth) < 0.5
    assert set(baseline.features) == {"temperature", "humidity", "wind_kmh", "segment", "device"}
    assert baseline.features["device"].kind == "categorical"
    assert baseline.output is not None and set(baseline.output.categories) == set(_model.LABELS)
    assert len(validation) == 400


def test_capture_adds_both_branches_per_output_label() -> None:
    model, baseline, validation = _model.train(seed=3, rows=1000)
    captured = _model.capture_paths(model, baseline, validation)
    paths = {path for counts in captured.module_paths.values() for path in counts}
    assert paths == {"preprocess>tree_scorer>calibrate", "preprocess>linear_scorer>calibrate"}
    assert set(captured.module_paths) == set(_model.LABELS)
    assert captured.features == baseline.features and captured.id != baseline.id


def test_timeline_switches_faults_per_phase() -> None:
    faults = _model.Faults()
    timeline = phases(faults, 100.0)
    assert [p.name for p in timeline] == list(SHARES)
    assert abs(sum(p.seconds for p in timeline) - 100.0) < 1e-9
    seen = {}
    for phase in timeline:
        phase.enter()
        seen[phase.name] = (faults.slow_module_ms, faults.tariff_outage)
    assert seen["baseline"] == (0.0, False) and seen["slow_module"][0] > 0 and seen["tariff_outage"][1]
    rng = np.random.default_rng(1)
    rows = [row for row, _ in timeline[1].make(rng, 200)]  # unit_change: Fahrenheit
    assert min(float(str(r["temperature"])) for r in rows) > 0.0
    devices = [row["device"] for row, _ in timeline[2].make(rng, 400)]  # new_category
    assert 0.2 < devices.count("heat_pump") / 400 < 0.4


def test_stratified_traffic_has_exact_shares_and_matching_quantiles() -> None:
    rng = np.random.default_rng(2)
    rows = _model.sample_rows(rng, 250, stratified=True)
    devices = [row["device"] for row in rows]
    assert (devices.count("thermostat"), devices.count("smart_meter"), devices.count("gateway")) == (125, 75, 50)
    temperature = np.array([float(str(row["temperature"])) for row in rows])
    assert abs(temperature.mean() - 19.0) < 0.2 and abs(np.median(temperature) - 19.0) < 0.3
    assert len(set(temperature.round(2))) > 240  # still varied values, not a grid
