"""Baselines learn direct loss estimation's error model from a regressor's predictions and targets, save it as
JSON, and its estimates are calibrated: on y = 2x + x·N(0, 1) (docs/estimation.md, "Regression") the estimated
MAE lies within 3 standard errors of the realised MAE in at least 99% of windows, clean or with x shifted, for
several reference sets; the per-row expectation is the true one up to the model's bins."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import modelspan
from modelspan.analyzer.loss_estimation import estimate_loss, gap_errors, loss_gap, realised_loss
from modelspan.profiling._error_model import PREDICTION, ErrorModel, fit_error_model
from tests.sdk.analyzer.dle_traffic import draw, expected_mae


def test_from_data_learns_the_error_model_from_named_columns(tmp_path: Path) -> None:
    x, prediction, target = draw(np.random.default_rng(1), 20_000)
    data = {"x": x, "plan": np.where(x > 1, "a", "b"), "predicted": prediction, "target": target}
    baseline = modelspan.Baseline.from_data(data, model="m", version="1", output="predicted",
                                            prediction="predicted", target="target")
    assert sorted(baseline.features) == ["plan", "x"] and baseline.calibration is None  # the target is no feature
    model = baseline.error_model
    assert model is not None and model.terms == [PREDICTION, "x"]  # numeric features only
    error = target - prediction
    assert model.reference == pytest.approx({"mae": np.mean(np.abs(error)), "rmse": math.sqrt(np.mean(error ** 2))})
    assert model.spread["mae"] == pytest.approx(np.std(np.abs(error)))
    absolute, squared = model.expected({"x": x}, prediction)
    assert absolute.mean() == pytest.approx(model.reference["mae"], rel=1e-9)  # a least-squares fit: unbiased
    assert squared.mean() == pytest.approx(model.reference["rmse"] ** 2, rel=1e-9)
    path = tmp_path / "m-1.json"
    baseline.save(path)
    loaded = modelspan.Baseline.load(path)
    assert loaded == baseline and loaded.id == baseline.id
    assert json.loads(path.read_text())["error_model"]["terms"] == [PREDICTION, "x"]


def test_values_work_as_well_as_names_and_the_output_column_can_be_the_prediction() -> None:
    x, prediction, target = draw(np.random.default_rng(2), 1_000)
    by_values = modelspan.Baseline.from_data({"x": x}, model="m", version="1", prediction=prediction, target=target)
    by_names = modelspan.Baseline.from_data({"x": x, "p": prediction, "y": target}, model="m", version="1",
                                            prediction="p", target="y")
    assert by_values.error_model == by_names.error_model and sorted(by_names.features) == ["x"]


def test_the_expectation_follows_the_noise_and_one_row_equals_a_batch() -> None:
    x, prediction, target = draw(np.random.default_rng(3), 100_000)
    model = fit_error_model({"x": x}, prediction, target)
    grid = np.linspace(0.1, 1.9, 10)
    absolute, squared = model.expected({"x": grid}, 2 * grid)
    assert absolute == pytest.approx(math.sqrt(2 / math.pi) * grid, abs=0.06)  # within a bin's slope and noise
    assert squared == pytest.approx(grid ** 2, abs=0.15)
    for value, a, s in zip(grid, absolute, squared, strict=True):
        assert model.expected_row({"x": float(value)}, 2 * float(value)) == pytest.approx((a, s), abs=1e-12)
    missing = model.expected({"x": [None, "text"]}, [1.0, 1.0])[0]
    assert missing[0] == missing[1] == pytest.approx(model.expected_row({}, 1.0)[0])


def test_a_baseline_without_error_model_keeps_its_json_and_id() -> None:
    baseline = modelspan.Baseline.from_data({"x": [1.0, 2.0, 3.0]}, model="m", version="1")
    body = baseline.to_dict()
    assert "error_model" not in body
    assert modelspan.Baseline.from_dict(json.loads(json.dumps(body))).id == baseline.id


def test_bad_regression_arguments_are_clear_errors() -> None:
    x, prediction, target = draw(np.random.default_rng(4), 500)
    with pytest.raises(ValueError, match="numbers"):
        modelspan.Baseline.from_data({"x": x}, model="m", version="1", prediction=prediction,
                                     target=["a"] * 500)
    with pytest.raises(ValueError, match="finite"):
        modelspan.Baseline.from_data({"x": x}, model="m", version="1", prediction=np.r_[prediction[:-1], np.nan],
                                     target=target)
    with pytest.raises(ValueError, match="differ in length"):
        modelspan.Baseline.from_data({"x": x}, model="m", version="1", prediction=prediction, target=target[:-1])
    with pytest.raises(ValueError, match="at least 100"):
        modelspan.Baseline.from_data({"x": x[:50]}, model="m", version="1", prediction=prediction[:50],
                                     target=target[:50])


@pytest.mark.parametrize(("low", "high"), [(0.0, 2.0), (1.0, 2.0), (0.0, 1.0)])
def test_the_estimated_mae_is_calibrated_over_many_windows_and_references(low: float, high: float) -> None:
    """Three reference sets of 100,000 rows, 200 windows of 2,000 rows each: the realised MAE lies within 3 SE of
    the estimate in >= 99% of the 600 windows, each reference's mean estimate is within 0.01 of the true expected
    MAE, and shifted windows leave the reference band while clean ones stay inside."""
    inside, flagged = [], []
    for reference_seed in range(3):
        rng = np.random.default_rng(100 + reference_seed)
        model = fit_error_model(*_reference(rng))
        estimates = []
        for _ in range(200):
            x, prediction, target = draw(rng, 2_000, low, high)
            absolute, squared = model.expected({"x": x}, prediction)
            estimate = estimate_loss(model, x.size, float(absolute.sum()), float(squared.sum()))
            errors = gap_errors(model, estimate, x.size)
            realised = realised_loss(target, prediction)["mae"]
            inside.append(not loss_gap(estimate["mae"].value, realised, errors["mae"]))
            estimates.append(estimate["mae"].value)
            flagged.append(estimate["mae"].flagged)
        assert abs(np.mean(estimates) - expected_mae(low, high)) < 0.01
    assert np.mean(inside) >= 0.99
    assert np.mean(flagged) == (0.0 if (low, high) == (0.0, 2.0) else 1.0)


def test_more_noise_than_the_reference_had_is_a_gap_not_an_estimate() -> None:
    """Concept drift (the noise grows by half): the expected errors do not see it, the labels do."""
    rng = np.random.default_rng(7)
    model = fit_error_model(*_reference(rng))
    x, prediction, target = draw(rng, 2_000, noise=1.5)
    absolute, squared = model.expected({"x": x}, prediction)
    estimate = estimate_loss(model, x.size, float(absolute.sum()), float(squared.sum()))
    assert not estimate["mae"].flagged and estimate["mae"].value == pytest.approx(expected_mae(), abs=0.03)
    realised = realised_loss(target[:1_000], prediction[:1_000])
    assert loss_gap(estimate["mae"].value, realised["mae"], gap_errors(model, estimate, 1_000)["mae"])


def test_json_form_ignores_unknown_keys() -> None:
    model = ErrorModel([PREDICTION], [[1.0]], 0.5, [[0.0, 1.0, 0.0]], 1.0, [[0.0, 2.0, 0.0]])
    assert ErrorModel.from_dict({**json.loads(json.dumps(model.__dict__)), "later": 1}) == model


def _reference(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    x, prediction, target = draw(rng, 100_000)
    return {"x": x}, prediction, target


def test_a_call_records_the_sums_of_its_finite_rows() -> None:
    """What ``_expected_loss.add`` writes for a batch with a non-finite prediction, a single row and no output."""
    from modelspan import semconv
    from modelspan.instrumentation import _expected_loss
    from modelspan.instrumentation._outputs import Outputs
    from modelspan.profiling._inputs import Batch, Row

    x, prediction, target = draw(np.random.default_rng(8), 1_000)
    model = fit_error_model({"x": x}, prediction, target)
    values = np.array([1.0, np.nan, 3.0])
    attributes: dict[str, object] = {}
    _expected_loss.add(model, Batch(3, {"x": [0.5, 0.7, 1.5]}), Outputs(values=values), None, attributes)
    absolute, squared = model.expected({"x": [0.5, 1.5]}, [1.0, 3.0])
    assert attributes == {semconv.ESTIMATION_ROWS: 2, semconv.ESTIMATION_ABS_ERROR: pytest.approx(absolute.sum()),
                          semconv.ESTIMATION_SQUARED_ERROR: pytest.approx(squared.sum())}
    single: dict[str, object] = {}
    _expected_loss.add(model, Row({"x": 0.5}), None, 1.0, single)
    assert single[semconv.ESTIMATION_ABS_ERROR] == pytest.approx(absolute[0])
    nothing: dict[str, object] = {}
    _expected_loss.add(model, Row({"x": 0.5}), Outputs(labels=["a"]), "a", nothing)
    assert nothing == {}
